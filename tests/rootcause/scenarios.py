"""Synthetic metrics with known root causes, for backfilling into one Prometheus.

Every series has 1-minute samples over the 4 hours up to `end` (an hour before the wall
clock, so Prometheus serves them from backfilled blocks). The anomaly starts 20 minutes
before `end`. Each scenario has its own metric names, so one server stores them all:

1. region: s1_request_latency_seconds; every service in eu-west-1 slows down by 150 ms.
2. capacity: s2_request_latency_seconds; service checkout slows down in every region,
   by 250 ms for the premium segment and 40 ms for the others.
3. deployment: s3_request_latency_seconds; service search slows down by 80 ms everywhere,
   4 minutes after its deployment.
4. dependency: s4_db_latency_seconds rises with a wandering shape; s4_api_latency_seconds
   in every region follows it 3 minutes later; s4_batch_queue_depth bursts for 2 minutes
   when the API anomaly starts, unrelated to either.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from tests.harness.prometheus_server import BackfillSeries

STEP = 60.0
HISTORY = 4 * 3600.0
ANOMALY_BEFORE_END = 20 * 60.0
DEPENDENCY_LEAD = 180.0
DEPLOYED_BEFORE = 240.0

SERVICES = ("api", "checkout", "search", "auth")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")
SEGMENTS = ("free", "premium", "enterprise")

CHANNEL = "alerts-rootcause"
# The offset keeps the 20 anomalous minutes out of the baseline when polling at `end`.
DETECTOR = "{name: sigma, window: 5m, baseline: 2h, baseline_offset: 30m, threshold: 3}"


def monitors_yaml(*entries: tuple[str, str]) -> str:
    lines = ["monitors:"]
    for name, query in entries:
        lines += [
            f"  - name: {name}",
            "    source: prometheus",
            f"    query: {query}",
            "    interval: 1m",
            f'    channel: "#{CHANNEL}"',
            f"    detector: {DETECTOR}",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class World:
    """Times shared by every scenario, in unix seconds."""

    end: float

    @property
    def anomaly_start(self) -> float:
        return self.end - ANOMALY_BEFORE_END

    @property
    def deployed_at(self) -> float:
        return self.anomaly_start - DEPLOYED_BEFORE

    @property
    def timestamps(self) -> np.ndarray:
        return np.arange(self.end - HISTORY, self.end + STEP / 2, STEP)


def make_world() -> World:
    return World(end=math.floor(time.time() / STEP) * STEP - 3600.0)


def all_series(world: World) -> list[BackfillSeries]:
    rng = np.random.default_rng(20240601)
    return (
        _latency_grid("s1_request_latency_seconds", world, rng, _region_fault)
        + _latency_grid("s2_request_latency_seconds", world, rng, _capacity_limit)
        + _latency_grid("s3_request_latency_seconds", world, rng, _bad_deployment)
        + _dependency(world, rng)
    )


def _region_fault(service: str, region: str, segment: str) -> float:
    return 0.15 if region == "eu-west-1" else 0.0


def _capacity_limit(service: str, region: str, segment: str) -> float:
    if service != "checkout":
        return 0.0
    return 0.25 if segment == "premium" else 0.04


def _bad_deployment(service: str, region: str, segment: str) -> float:
    return 0.08 if service == "search" else 0.0


def _latency_grid(metric: str, world: World, rng: np.random.Generator, excess) -> list[BackfillSeries]:
    times = world.timestamps
    after = times >= world.anomaly_start
    series = []
    for service_index, service in enumerate(SERVICES):
        for region in REGIONS:
            for segment_index, segment in enumerate(SEGMENTS):
                values = 0.1 + 0.02 * service_index + 0.005 * segment_index + rng.normal(0.0, 0.004, times.size)
                values[after] += excess(service, region, segment)
                labels = {"service": service, "region": region, "segment": segment}
                series.append(BackfillSeries(metric, labels, times, values))
    return series


def database_excess(times: np.ndarray, onset: float, rng: np.random.Generator) -> np.ndarray:
    """A rise with a wandering shape, so a shifted copy lines up at one lag only."""
    since = times - onset
    rising = np.where(since >= 0, 0.1 * (1.0 - np.exp(-np.clip(since, 0, None) / 120.0)), 0.0)
    wander = np.cumsum(rng.normal(0.0, 0.012, times.size))
    wander -= wander[np.searchsorted(times, onset)]
    return rising + np.where(since >= 0, wander + 0.03 * np.sin(2 * np.pi * since / 420.0), 0.0)


def _dependency(world: World, rng: np.random.Generator) -> list[BackfillSeries]:
    times = world.timestamps
    db_onset = world.anomaly_start - DEPENDENCY_LEAD
    excess = database_excess(times, db_onset, rng)
    database = 0.05 + excess + rng.normal(0.0, 0.002, times.size)
    series = [BackfillSeries("s4_db_latency_seconds", {"cluster": "main"}, times, database)]

    lagged = np.concatenate([np.zeros(int(DEPENDENCY_LEAD / STEP)), excess[: -int(DEPENDENCY_LEAD / STEP)]])
    for region in REGIONS:
        api = 0.2 + 0.8 * lagged + rng.normal(0.0, 0.003, times.size)
        series.append(BackfillSeries("s4_api_latency_seconds", {"region": region}, times, api))

    queue = 100.0 + rng.normal(0.0, 3.0, times.size)
    burst = (times >= world.anomaly_start) & (times < world.anomaly_start + 2 * STEP)
    queue[burst] += 150.0
    series.append(BackfillSeries("s4_batch_queue_depth", {"queue": "reports"}, times, queue))
    return series
