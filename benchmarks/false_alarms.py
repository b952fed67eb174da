"""False alarms of the batch seasonal detector on anomaly-free synthetic metrics.

    .venv/bin/python -m benchmarks.false_alarms [--series 1000] [--days 7] [--seed 0]

Each series has a level, a daily cycle, a weekend dip, a linear trend and AR(1) noise with
Student-t (4 degrees of freedom) innovations, all drawn at random, at 1-minute steps. After
7 days of history, every series is evaluated every minute for `--days` days with
`SeasonalBank` (window 5 minutes, baseline 7 days, threshold 3 sigma), rebuilt once a day.
Nothing anomalous is injected, so every alert is false.

Prints high-tier anomalies per 1,000 series-days, counting every anomalous evaluation and
counting only the first evaluation of each run (an incident's opening), plus medium tier.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import signal

from detectors import DetectorSettings, SeasonalBank, adjust_p_values

MINUTE = 60.0
DAY = 86400.0
HISTORY_DAYS = 7
START = 1_700_000_000.0 - (1_700_000_000.0 % DAY)


def synthetic_metrics(series: int, days: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return timestamps and a (series x steps) array of anomaly-free metrics."""
    rng = np.random.default_rng(seed)
    steps = int(days * DAY / MINUTE)
    times = START + MINUTE * np.arange(steps)
    level = rng.uniform(50.0, 500.0, size=(series, 1))
    daily = rng.uniform(0.1, 0.5, size=(series, 1)) * level
    phase = rng.uniform(0.0, 2 * np.pi, size=(series, 1))
    weekend_dip = rng.uniform(0.0, 0.4, size=(series, 1)) * level
    trend_per_day = rng.uniform(-0.02, 0.02, size=(series, 1)) * level
    noise_scale = rng.uniform(0.02, 0.1, size=(series, 1)) * level
    phi = rng.uniform(0.3, 0.9, size=(series, 1))

    elapsed_days = (times - START) / DAY
    weekday = (np.floor(times / DAY).astype(np.int64) + 3) % 7
    cycle = daily * np.sin(2 * np.pi * elapsed_days[None, :] + phase)
    weekend = weekend_dip * (weekday[None, :] >= 5)
    trend = trend_per_day * elapsed_days[None, :]
    innovations = rng.standard_t(4, size=(series, steps))
    noise = np.empty_like(innovations)
    for row in range(series):
        noise[row] = signal.lfilter([1.0], [1.0, -phi[row, 0]], innovations[row])
    noise *= noise_scale * np.sqrt(1 - phi**2) / np.sqrt(2.0)  # t(4) has variance 2
    return times, level + cycle - weekend + trend + noise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="number of series")
    parser.add_argument("--days", type=int, default=7, help="days evaluated after the history")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--threshold", type=float, default=3.0, help="bound in sigma")
    parser.add_argument("--window", type=float, default=300.0, help="alert window in seconds")
    parser.add_argument(
        "--adjust",
        action="store_true",
        help="tier on Benjamini-Hochberg adjusted p-values across the series of each minute",
    )
    options = parser.parse_args(argv)

    settings = DetectorSettings(detector="seasonal", threshold=options.threshold, window=options.window)
    times, values = synthetic_metrics(options.series, HISTORY_DAYS + options.days, options.seed)
    per_day = int(DAY / MINUTE)
    history = HISTORY_DAYS * per_day

    high = medium = high_onsets = 0
    by_weekday = np.zeros(7)
    weekdays = (np.floor(times / DAY).astype(np.int64) + 3) % 7
    previous_high = np.zeros(options.series, dtype=bool)
    started = time.perf_counter()
    for day in range(options.days):
        first = history + day * per_day
        bank = SeasonalBank.from_history(
            times[first - history : first], values[:, first - history : first], settings=settings
        )
        for column in range(first, first + per_day):
            result = bank.append(float(times[column]), values[:, column], crossing_only=not options.adjust)
            crossing = result.crossed
            p_values = adjust_p_values(result.p_value) if options.adjust else result.p_value
            is_high = crossing & (p_values < 0.01)
            high += int(np.count_nonzero(is_high))
            by_weekday[weekdays[column]] += np.count_nonzero(is_high)
            medium += int(np.count_nonzero(crossing & (p_values >= 0.01) & (p_values < 0.05)))
            high_onsets += int(np.count_nonzero(is_high & ~previous_high))
            previous_high = is_high
    elapsed = time.perf_counter() - started

    series_days = options.series * options.days
    print(
        f"threshold: {options.threshold} sigma, window: {options.window:.0f} s, "
        f"Benjamini-Hochberg: {'yes' if options.adjust else 'no'}"
    )
    print(
        f"series: {options.series}, days evaluated: {options.days}, evaluations: "
        f"{series_days * per_day}, time: {elapsed:.1f} s"
    )
    print(f"high-tier anomalous evaluations per 1,000 series-days: {1000 * high / series_days:.2f}")
    print(f"high-tier anomaly onsets per 1,000 series-days: {1000 * high_onsets / series_days:.2f}")
    evaluated_days = np.bincount(weekdays[history:], minlength=7) / per_day
    rates = 1000 * by_weekday / np.maximum(evaluated_days * options.series, 1)
    print(
        "high-tier anomalous evaluations per 1,000 series-days by weekday (Mon to Sun): "
        + ", ".join(f"{rate:.0f}" for rate in rates)
    )
    print(f"medium-tier anomalous evaluations per 1,000 series-days: {1000 * medium / series_days:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
