"""Cycle time, baseline rebuild time and peak memory of the batch detectors.

    .venv/bin/python -m benchmarks.speed [--series 10000] [--days 7] [--cycles 20]

Builds `SigmaBank` (and `SeasonalBank` with --seasonal) from a history of `--series` random
series x `--days` days at 1-minute steps, then appends `--cycles` new minutes and reports the
median and maximum time of one cycle. Peak memory is the process's maximum resident set size,
which includes the generated history.

TODO: compare one cycle with the time Prometheus takes to evaluate the equivalent rule
`(avg_over_time(x[5m]) - avg_over_time(x[7d] offset 5m)) / stddev_over_time(x[7d] offset 5m)`
over the same series. That needs a real Prometheus server with backfilled history.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from detectors import DetectorSettings, SeasonalBank, SigmaBank

MINUTE = 60.0
START = 1_700_000_000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000, help="number of series")
    parser.add_argument("--days", type=float, default=7.0, help="days of history")
    parser.add_argument("--cycles", type=int, default=20, help="cycles to time")
    parser.add_argument("--seasonal", action="store_true", help="time SeasonalBank instead")
    options = parser.parse_args(argv)

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


if __name__ == "__main__":
    raise SystemExit(main())
