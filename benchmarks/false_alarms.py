"""False alerts of the batch seasonal detector on anomaly-free synthetic metrics.

    .venv/bin/python -m benchmarks.false_alarms [--series 1000] [--days 7] [--threshold 3]

Each series has a level, a daily cycle, a weekend dip, a linear trend and AR(1) noise with
Student-t (4 degrees of freedom) innovations, all drawn at random, at 1-minute steps. After
`--history-days` days of history, every series is evaluated every minute for `--days` days
with `SeasonalBank` (window `--window`, baseline = the history, bound `--threshold` sigma),
rebuilt once a day. Nothing anomalous is injected, so every alert is false.

Ingredients, each of which a flag turns off:

- a weekly profile (weekday and time of day) on a 28-day baseline; `--seasonality daily`
  uses the daily profile, and `--history-days 7` the old 7-day baseline;
- tiering on Benjamini-Hochberg adjusted p-values across the series of each minute;
  `--raw` tiers on raw p-values;
- persistence: an incident opens only when a series stays high tier for `--persistence`
  consecutive evaluations (minutes); 1 opens on the first one;
- the conservative Pareto tail of the p-values (`conservative_tail`, see `detectors._pvalues`);
  `--point-tail` uses the point estimate of the tail's shape, as `evaluate` does.

Prints, per 1,000 series-days: high-tier evaluations, high-tier onsets (the first evaluation
of each run of high tier) and alerts (incident openings: runs that reach the persistence).
The bot keeps one incident per series while the run lasts, so a run is one alert at most.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import signal

from detectors import DetectorSettings, SeasonalBank, adjust_p_values

MINUTE = 60.0
DAY = 86400.0
HIGH_TIER_Q = 0.01
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
    parser.add_argument("--history-days", type=int, default=28, help="days of history, the baseline (default 28)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--threshold", type=float, default=3.0, help="bound in sigma")
    parser.add_argument("--window", type=float, default=300.0, help="alert window in seconds")
    parser.add_argument(
        "--seasonality", choices=("weekly", "daily"), default="weekly", help="profile of SeasonalBank (default weekly)"
    )
    parser.add_argument("--raw", action="store_true", help="tier on raw p-values instead of Benjamini-Hochberg")
    parser.add_argument(
        "--point-tail",
        action="store_true",
        help="fit the p-values' Pareto tail with the point estimate of its shape instead of the conservative fit",
    )
    parser.add_argument(
        "--persistence",
        type=int,
        default=5,
        help="consecutive high-tier evaluations (minutes) that open an incident (default 5)",
    )
    options = parser.parse_args(argv)
    if options.persistence < 1:
        parser.error(f"invalid --persistence {options.persistence}: use a whole number of evaluations >= 1")

    settings = DetectorSettings(
        detector="seasonal",
        threshold=options.threshold,
        window=options.window,
        baseline=options.history_days * DAY,
        seasonality=options.seasonality,
    )
    times, values = synthetic_metrics(options.series, options.history_days + options.days, options.seed)
    per_day = int(DAY / MINUTE)
    history = options.history_days * per_day

    high = high_onsets = alerts = 0
    run_length = np.zeros(options.series, dtype=np.int64)
    started = time.perf_counter()
    for day in range(options.days):
        first = history + day * per_day
        bank = SeasonalBank.from_history(
            times[first - history : first],
            values[:, first - history : first],
            settings=settings,
            conservative_tail=not options.point_tail,
        )
        for column in range(first, first + per_day):
            # p-values are computed only where the deviation crosses the bound, since only
            # those series can alert.
            result = bank.append(float(times[column]), values[:, column], crossing_only=True)
            crossing = result.crossed
            if options.raw:
                p_values = result.p_value
            else:
                p_values = adjust_p_values(benjamini_hochberg_input(result.p_value, result.status))
            is_high = crossing & (p_values < HIGH_TIER_Q)
            high += int(np.count_nonzero(is_high))
            high_onsets += int(np.count_nonzero(is_high & (run_length == 0)))
            run_length = np.where(is_high, run_length + 1, 0)
            alerts += int(np.count_nonzero(run_length == options.persistence))
    elapsed = time.perf_counter() - started

    series_days = options.series * options.days
    print(
        f"profile: {options.seasonality}, baseline: {options.history_days} days, bound: {options.threshold} sigma, "
        f"window: {options.window:.0f} s, tier on: {'raw p' if options.raw else 'Benjamini-Hochberg q'}, "
        f"persistence: {options.persistence} evaluations, tail: {'point' if options.point_tail else 'conservative'}"
    )
    print(
        f"series: {options.series}, days evaluated: {options.days}, evaluations: "
        f"{series_days * per_day}, time: {elapsed:.1f} s"
    )
    print(f"high-tier evaluations per 1,000 series-days: {1000 * high / series_days:.2f}")
    print(f"high-tier onsets per 1,000 series-days: {1000 * high_onsets / series_days:.2f}")
    print(f"alerts (incident openings) per 1,000 series-days: {1000 * alerts / series_days:.2f}")
    return 0


def benjamini_hochberg_input(p_values: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Return one cycle's p-values for `adjust_p_values`: 1 where none was computed, NaN if skipped.

    NOTE: a series that does not cross the bound cannot alert, so its p-value is not computed
    and enters the adjustment as 1. Where such a series has a small p-value, the adjusted
    values of the others come out slightly larger than with every p-value computed.
    """
    filled = np.where(np.isnan(p_values), 1.0, p_values)
    return np.where(status == "skipped", np.nan, filled)


if __name__ == "__main__":
    raise SystemExit(main())
