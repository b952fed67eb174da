"""Cycle time, baseline rebuild time and peak memory of the batch detectors.

    .venv/bin/python -m benchmarks.speed [--series 10000] [--days 7] [--cycles 20]
    .venv/bin/python -m benchmarks.speed --prometheus [--series 200] [--cycles 20]

Builds `SigmaBank` (and `SeasonalBank` with --seasonal) from a history of `--series` random
series x `--days` days at 1-minute steps, then appends `--cycles` new minutes and reports the
median and maximum time of one cycle. Peak memory is the process's maximum resident set size,
which includes the generated history.

With --prometheus, the same kind of history is backfilled with
`promtool tsdb create-blocks-from openmetrics` into a real `prometheus` started on a free
127.0.0.1 port. The benchmark then times the instant query PROMQL_RULE over all the series,
`--cycles` times after one warm-up query, against `--cycles` appends of a `SigmaBank` over
the same values, and prints the cost per series of both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from detectors import DetectorSettings, SeasonalBank, SigmaBank

MINUTE = 60.0
START = 1_700_000_000.0
METRIC = "bench_value"
# The sigma detector's rule with a 5-minute window and a 7-day baseline, as a recording rule
# would evaluate it.
PROMQL_RULE = (
    f"(avg_over_time({METRIC}[5m]) - avg_over_time({METRIC}[7d] offset 5m))"
    f" / stddev_over_time({METRIC}[7d] offset 5m)"
)
QUERY_TIMEOUT = 120.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000, help="number of series")
    parser.add_argument("--days", type=float, default=7.0, help="days of history")
    parser.add_argument("--cycles", type=int, default=20, help="cycles to time")
    parser.add_argument("--seasonal", action="store_true", help="time SeasonalBank instead")
    parser.add_argument(
        "--prometheus",
        action="store_true",
        help="compare SigmaBank with a real local prometheus evaluating the same rule (default 200 series)",
    )
    options = parser.parse_args(argv)
    if options.prometheus:
        return compare_with_prometheus(
            series=200 if options.series == parser.get_default("series") else options.series,
            days=options.days,
            cycles=options.cycles,
        )

    rng = np.random.default_rng(0)
    steps = int(options.days * 86400 / MINUTE) + 1 + options.cycles
    times = START + MINUTE * np.arange(steps)
    values = 100.0 + 10.0 * rng.standard_normal((options.series, steps))
    history = steps - options.cycles
    settings = DetectorSettings(detector="seasonal" if options.seasonal else "sigma")
    bank_type = SeasonalBank if options.seasonal else SigmaBank

    started = time.perf_counter()
    bank = bank_type.from_history(times[:history], values[:, :history], settings=settings)
    rebuild = time.perf_counter() - started

    cycle_times = []
    for column in range(history, steps):
        started = time.perf_counter()
        bank.append(float(times[column]), values[:, column])
        cycle_times.append(time.perf_counter() - started)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    print(
        f"{bank_type.__name__}: {options.series} series x {options.days:g} days at 1-minute "
        f"steps, {os.cpu_count()} CPUs"
    )
    print(f"baseline rebuild: {rebuild:.2f} s")
    print(
        f"cycle (all p-values): median {1000 * np.median(cycle_times):.0f} ms, "
        f"max {1000 * np.max(cycle_times):.0f} ms over {options.cycles} cycles"
    )
    print(f"peak resident memory: {peak:.0f} MB")
    return 0


def compare_with_prometheus(*, series: int, days: float, cycles: int) -> int:
    """Time PROMQL_RULE in a backfilled prometheus against SigmaBank cycles on the same data."""
    # Imported here so the default run needs neither pytest nor the test harness.
    from tests.harness.prometheus_server import BackfillSeries, backfill, start_prometheus

    rng = np.random.default_rng(0)
    steps = int(days * 86400 / MINUTE) + 1 + cycles
    times = START + MINUTE * np.arange(steps)
    values = 100.0 + 10.0 * rng.standard_normal((series, steps))
    history = steps - cycles

    bank = SigmaBank.from_history(times[:history], values[:, :history], settings=DetectorSettings())
    bank_times = []
    for column in range(history, steps):
        started = time.perf_counter()
        bank.append(float(times[column]), values[:, column])
        bank_times.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory(prefix="speed-prometheus-") as folder:
        data_dir = Path(folder) / "data"
        started = time.perf_counter()
        backfill(
            data_dir,
            (
                BackfillSeries(METRIC, {"series": str(row)}, times, values[row])
                for row in range(series)
            ),
        )
        backfill_seconds = time.perf_counter() - started
        server = start_prometheus(data_dir)
        try:
            query_times, returned = _time_queries(server.url, at=float(times[-1]), count=cycles)
        finally:
            server.stop()

    if returned != series:
        print(f"prometheus returned {returned} series, expected {series}: the figures below are not comparable")
        return 1
    bank_cost = float(np.median(bank_times)) / series
    query_cost = float(np.median(query_times)) / series
    print(f"{series} series x {days:g} days at 1-minute steps, {os.cpu_count()} CPUs")
    print(f"backfill with promtool and start-up: {backfill_seconds:.1f} s (not part of the comparison)")
    print(f"prometheus instant query: {PROMQL_RULE}")
    print(
        f"prometheus: median {1000 * np.median(query_times):.0f} ms, max {1000 * np.max(query_times):.0f} ms "
        f"over {cycles} queries, {1e6 * query_cost:.0f} us per series"
    )
    print(
        f"SigmaBank.append (all p-values): median {1000 * np.median(bank_times):.1f} ms, "
        f"max {1000 * np.max(bank_times):.1f} ms over {cycles} cycles, {1e6 * bank_cost:.1f} us per series"
    )
    print(f"ratio prometheus / SigmaBank per series: {query_cost / bank_cost:.1f}")
    return 0


def _time_queries(url: str, *, at: float, count: int) -> tuple[list[float], int]:
    """Run PROMQL_RULE as an instant query at `at`, once to warm up and then `count` times."""
    durations = []
    returned = 0
    with httpx.Client(base_url=url, timeout=QUERY_TIMEOUT) as client:
        for attempt in range(count + 1):
            started = time.perf_counter()
            response = client.get("/api/v1/query", params={"query": PROMQL_RULE, "time": f"{at:.3f}"})
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            body = response.json()
            if body.get("status") != "success":
                raise RuntimeError(f"prometheus query failed: {body.get('error', body)}")
            returned = len(body["data"]["result"])
            if attempt > 0:
                durations.append(elapsed)
    return durations, returned


if __name__ == "__main__":
    raise SystemExit(main())
