"""The poller's evaluation step for one large `sigma` query: the bank against one series at a time.

    .venv/bin/python -m benchmarks.poll_evaluation [--series 2000] [--days 7] [--cycles 10]

Builds `--series` random series x `--days` days at 1-minute steps, as the poller stores them
after fetching, then runs `--cycles` polls one minute apart. Each poll is evaluated twice:
by `bot.banks.SigmaBanks.screen` (a bank built at the first poll and advanced one column per
poll, then the crossing series evaluated alone), and by `detectors.evaluate` per series, as
the poller does for a small query. Prints the median and maximum time per poll of both, the
bank's first poll (the rebuild) separately, and checks that both give the same statuses.
Redis reads and writes are not part of either figure.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from bot.banks import BankInput, SigmaBanks
from bot.monitors import parse_monitors
from bot.sources.base import Series
from detectors import evaluate

MINUTE = 60.0
START = 1_700_000_000.0

MONITOR = """
monitors:
  - name: bench
    source: replay
    query: bench
    interval: 1m
    channel: "#bench"
    detector: {name: sigma, window: 5m, baseline: DAYSd}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=2000, help="number of series")
    parser.add_argument("--days", type=int, default=7, help="days of baseline")
    parser.add_argument("--cycles", type=int, default=10, help="polls to time")
    options = parser.parse_args(argv)

    monitor = parse_monitors(MONITOR.replace("DAYS", str(options.days))).monitors[0]
    settings = monitor.detector.to_settings()
    steps = int((monitor.history_span() + 3600.0) / MINUTE) + options.cycles
    times = START + MINUTE * np.arange(steps)
    values = 100.0 + np.random.default_rng(0).standard_normal((options.series, steps))
    none = np.zeros(0)
    first_poll = steps - options.cycles

    banks = SigmaBanks()
    bank_times: list[float] = []
    alone_times: list[float] = []
    for poll in range(first_poll, steps):
        end = float(times[poll])
        inputs = [
            BankInput(f"s{row}", Series({}, times[: poll + 1], values[row, : poll + 1]), none)
            for row in range(options.series)
        ]

        started = time.perf_counter()
        screened = banks.screen(monitor, inputs, end=end, now=end)
        for item, evaluation in zip(inputs, screened, strict=True):
            if evaluation is None:
                evaluate(item.window.timestamps, item.window.values, now=end, settings=settings)
        bank_times.append(time.perf_counter() - started)

        started = time.perf_counter()
        alone = [evaluate(item.window.timestamps, item.window.values, now=end, settings=settings) for item in inputs]
        alone_times.append(time.perf_counter() - started)

        mismatched = sum(
            1
            for evaluation, expected in zip(screened, alone, strict=True)
            if evaluation is not None and evaluation.status != expected.status
        )
        if mismatched:
            print(f"poll at {end:.0f}: {mismatched} series differ in status between the two paths")
            return 1

    later = bank_times[1:]
    print(f"{options.series} series x {options.days} days at 1-minute steps, {options.cycles} polls")
    print(f"bank: first poll (rebuild) {bank_times[0] * 1000:.0f} ms; later polls median "
          f"{statistics.median(later) * 1000:.0f} ms, max {max(later) * 1000:.0f} ms")
    print(f"one series at a time: median {statistics.median(alone_times) * 1000:.0f} ms, "
          f"max {max(alone_times) * 1000:.0f} ms")
    print(f"ratio (one at a time / bank, later polls, medians): "
          f"{statistics.median(alone_times) / statistics.median(later):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
