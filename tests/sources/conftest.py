"""A real Prometheus with two days of backfilled history that contains every data problem a source must survive.

All series are at 1-minute resolution and end an hour before the session
starts (`History.end`), so no sample lies in the future:

    steady_gauge{instance="a"|"b"}   noise around 10 and 20
    gappy_gauge                      noise around 50, no samples for 30 minutes (GAP)
    weird_values                     noise around 5, with NaN, +Inf and -Inf at NAN_AT, INF_AT, NEG_INF_AT
    requests_total{instance="a"}     a counter rising about 100 per minute, reset to 0 at RESET_AT
    vanishing_gauge{instance="old"}  noise around 30 that stops at VANISH_AT
    vanishing_gauge{instance="new"}  noise around 30 that starts at APPEAR_AT
    latency_seconds_bucket{le=...}   histogram buckets counting BUCKET_RATES requests per minute
    spiking_gauge                    noise around 100 that jumps by 40 for the last 30 minutes
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from tests.harness.prometheus_server import BackfillSeries, PrometheusServer, backfill, start_prometheus

MINUTE = 60.0

# Requests per minute falling at or under each bucket bound (cumulative, as Prometheus buckets are).
BUCKET_RATES = {"0.1": 10.0, "0.25": 30.0, "0.5": 80.0, "1": 95.0, "+Inf": 100.0}


@dataclass(frozen=True)
class History:
    server: PrometheusServer
    timestamps: np.ndarray
    end: float
    gap: tuple[float, float]
    nan_at: float
    inf_at: float
    neg_inf_at: float
    reset_at: float
    vanish_at: float
    appear_at: float

    @property
    def url(self) -> str:
        return self.server.url


# Variables the source settings read; tests set the ones they need.
SOURCE_VARIABLE_PREFIXES = ("PROMETHEUS_", "DATADOG_", "ATLAS_", "HTTP_", "SOURCE_")


@pytest.fixture(autouse=True)
def clean_source_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test without the source variables of the shell that runs the suite."""
    for name in list(os.environ):
        if name.startswith(SOURCE_VARIABLE_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    end = math.floor(time.time() / MINUTE) * MINUTE - 3600
    timestamps = np.arange(end - 2 * 86400, end + MINUTE, MINUTE)
    rng = np.random.default_rng(5)
    size = timestamps.size

    gap = (end - 3 * 3600, end - 3 * 3600 + 30 * MINUTE)
    outside_gap = (timestamps < gap[0]) | (timestamps >= gap[1])

    weird = rng.normal(5, 0.5, size)
    nan_at, inf_at, neg_inf_at = end - 40 * MINUTE, end - 30 * MINUTE, end - 20 * MINUTE
    weird[timestamps == nan_at] = np.nan
    weird[timestamps == inf_at] = np.inf
    weird[timestamps == neg_inf_at] = -np.inf

    reset_at = end - 2 * 3600
    increments = 100 + rng.normal(0, 3, size)
    counter = np.cumsum(increments)
    after_reset = timestamps >= reset_at
    counter[after_reset] = np.cumsum(increments[after_reset]) - increments[after_reset][0]

    vanish_at, appear_at = end - 3 * 3600, end - 3600
    old = timestamps < vanish_at
    new = timestamps >= appear_at

    minutes = np.arange(size, dtype=np.float64)
    buckets = [
        BackfillSeries("latency_seconds_bucket", {"le": bound}, timestamps, rate * minutes)
        for bound, rate in BUCKET_RATES.items()
    ]

    spiking = rng.normal(100, 2, size)
    spiking[timestamps > end - 30 * MINUTE] += 40

    data_dir = tmp_path_factory.mktemp("source-history") / "data"
    backfill(data_dir, [
        BackfillSeries("steady_gauge", {"instance": "a"}, timestamps, rng.normal(10, 1, size)),
        BackfillSeries("steady_gauge", {"instance": "b"}, timestamps, rng.normal(20, 1, size)),
        BackfillSeries("gappy_gauge", {}, timestamps[outside_gap], rng.normal(50, 1, size)[outside_gap]),
        BackfillSeries("weird_values", {}, timestamps, weird),
        BackfillSeries("requests_total", {"instance": "a"}, timestamps, counter),
        BackfillSeries("vanishing_gauge", {"instance": "old"}, timestamps[old], rng.normal(30, 1, size)[old]),
        BackfillSeries("vanishing_gauge", {"instance": "new"}, timestamps[new], rng.normal(30, 1, size)[new]),
        BackfillSeries("spiking_gauge", {}, timestamps, spiking),
        *buckets,
    ])
    server = start_prometheus(data_dir)
    yield History(server=server, timestamps=timestamps, end=end, gap=gap, nan_at=nan_at, inf_at=inf_at,
                  neg_inf_at=neg_inf_at, reset_at=reset_at, vanish_at=vanish_at, appear_at=appear_at)
    server.stop()


class FakeClock:
    """A clock for rate-limit budgets and retries: `sleep` advances `time` and records each wait."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
