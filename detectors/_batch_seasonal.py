"""The seasonal detector over many series at once: sigma on residuals from a seasonal profile.

`SeasonalBank.from_history` models each series as level + shape + residual, as the classical
additive decomposition does:

- the shape is a median per profile bin of the values minus their centred moving mean over
  one period (a day, or a week). Bins are times of day in the monitor's time zone (as in
  `seasonal`), or weekday and time of day when the settings' `seasonality` is "weekly". The
  moving mean removes the level and a linear trend but keeps the daily (or weekly) cycle;
- the level is the median of the values minus the shape over the last day before the rebuild,
  and it stays fixed until the next rebuild. A profile of raw medians over 4 weeks would lag a
  trending level by about two weeks of trend.

A baseline point's residual uses the shape of the other days (or weeks) only, and the level of
the day block before its own, with day blocks counted back from the end of the history. The
baseline residuals therefore carry the same level lag as the live ones when the bank is
rebuilt once a day. A `SigmaBank` keeps running sums of the residuals, so each `append` costs
the same as the sigma batch.

Differences from `evaluate` with `seasonal`: the profile is daily unless `seasonality` is
"weekly" (no automatic choice, and "none" also gets a daily profile), the scale is the
residuals' standard deviation instead of a robust sigma, and the profile and level stay as
fitted until the next rebuild. A weekly profile needs a history of two weeks or more. Rebuild
daily: the level lag in the baseline residuals assumes it, and the running sums lose their
rounding drift.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detectors._batch import BatchEvaluation, SigmaBank, check_grid
from detectors._calendar import DAY, EPOCH_WEEKDAY, WEEK, local_times
from detectors._seasonal import bin_seconds_for_step
from detectors._settings import DetectorSettings

# The level is re-estimated from the last day of the history at each rebuild.
LEVEL_SECONDS = DAY
# Rows processed at once by the moving mean, to bound temporary memory.
ROW_BLOCK = 512


class SeasonalBank:
    """Seasonal profiles per series plus a `SigmaBank` over the residuals."""

    def __init__(
        self,
        *,
        profile: np.ndarray,
        bin_seconds: float,
        residuals: SigmaBank,
        timezone: str,
        weekly: bool = False,
    ) -> None:
        # Expected value per bin (series x bins per day, or per week when weekly), NaN-free:
        # the shape plus the level at the rebuild.
        self.profile = profile
        self.bin_seconds = bin_seconds
        self.residuals = residuals
        self.timezone = timezone
        self.weekly = weekly
        self._recent_profile: list[np.ndarray] = []

    @classmethod
    def from_history(
        cls,
        timestamps: np.ndarray,
        values: np.ndarray,
        *,
        settings: DetectorSettings,
        conservative_tail: bool = False,
    ) -> SeasonalBank:
        """Fit shapes and levels and build the residual state from a (series x steps) history.

        `conservative_tail` is passed to `SigmaBank.from_history`.

        Raises ValueError when the timestamps are not evenly spaced, the shapes differ, or a
        weekly profile gets less than two weeks of history.
        """
        times, history, step = check_grid(timestamps, values)
        weekly = settings.seasonality == "weekly"
        if weekly and times[-1] - times[0] + step < 2 * WEEK:
            raise ValueError(
                f"a weekly profile needs at least 14 days of history, got {(times[-1] - times[0] + step) / DAY:.1f}: "
                "pass a longer history or use a daily profile"
            )
        period = WEEK if weekly else DAY
        bin_seconds = bin_seconds_for_step(step)
        bin_count = round(period / bin_seconds)
        local = local_times(times, settings.timezone)
        bins = _bin_index(local, bin_seconds, weekly=weekly)
        cycles = np.floor(local / period).astype(np.int64)
        history = np.where(np.isfinite(history), history, np.nan)

        # In place where possible: each full-size temporary costs 0.8 GB for 10,000 series x 7 days.
        detrended = _centred_moving_mean(history, max(1, round(period / step)))
        np.subtract(history, detrended, out=detrended)
        shape = _fill_shape(_binned_median(detrended, bins, bin_count), history, bins, bin_count)

        # Baseline residuals use the shape of the other cycles (leave one day or week out) and
        # the level of the previous day block, as a live point after a daily rebuild does.
        # NOTE: the moving mean is undefined for half a period at each end, so a weekly shape from
        # under three weeks of history has one value per bin, and those residuals fall back to
        # the full shape (in-sample, so slightly too small).
        residuals = np.empty_like(history)
        for cycle in np.unique(cycles):
            own = cycles == cycle
            others = _binned_median(detrended[:, ~own], bins[~own], bin_count)
            residuals[:, own] = history[:, own] - np.where(np.isnan(others), shape, others)[:, bins[own]]
        del detrended
        level_steps = max(1, round(LEVEL_SECONDS / step))
        blocks = (times.size - 1 - np.arange(times.size)) // level_steps  # 0 is the newest day
        block_count = int(blocks[0]) + 1
        block_levels = _binned_median(residuals, blocks, block_count)
        previous = np.concatenate((block_levels[:, 1:], block_levels[:, -1:]), axis=1)
        if np.isnan(previous).any():
            previous = np.where(np.isnan(previous), _row_median(residuals)[:, None], previous)
        for block in range(block_count):
            columns = blocks == block
            residuals[:, columns] -= previous[:, block, None]

        newest = blocks == 0
        level = _row_median(history[:, newest] - shape[:, bins[newest]])
        if np.isnan(level).any():
            level = np.where(np.isnan(level), _row_median(history - shape[:, bins]), level)
        profile = shape + np.nan_to_num(level)[:, None]
        bank = cls(
            profile=profile,
            bin_seconds=bin_seconds,
            residuals=SigmaBank.from_history(times, residuals, settings=settings, conservative_tail=conservative_tail),
            timezone=settings.timezone,
            weekly=weekly,
        )
        window_steps = bank.residuals.window_steps
        for column in range(max(0, times.size - window_steps), times.size):
            bank._recent_profile.append(profile[:, bins[column]])
        return bank

    def append(self, timestamp: float, column: np.ndarray, *, crossing_only: bool = False) -> BatchEvaluation:
        """Add one new step (NaN when missing) and evaluate every series.

        `crossing_only` is passed to `SigmaBank.append`.
        """
        local = local_times(np.array([float(timestamp)]), self.timezone)
        bin_index = int(_bin_index(local, self.bin_seconds, weekly=self.weekly)[0])
        expected = self.profile[:, bin_index]
        self._recent_profile.append(expected)
        del self._recent_profile[: -self.residuals.window_steps]

        result = self.residuals.append(
            timestamp,
            np.asarray(column, dtype=np.float64) - expected,
            crossing_only=crossing_only,
        )
        window_profile = np.mean(np.stack(self._recent_profile, axis=1), axis=1)
        return replace(
            result,
            current=result.current + window_profile,
            expected=result.expected + window_profile,
        )


def _bin_index(local: np.ndarray, bin_seconds: float, *, weekly: bool) -> np.ndarray:
    """Return each local time's profile bin: time of day, plus the weekday when weekly."""
    time_of_day = np.floor((local % DAY) / bin_seconds).astype(np.int64)
    if not weekly:
        return time_of_day
    weekday = (np.floor(local / DAY).astype(np.int64) + EPOCH_WEEKDAY) % 7
    return weekday * round(DAY / bin_seconds) + time_of_day


def _centred_moving_mean(history: np.ndarray, width: int) -> np.ndarray:
    """Return each row's mean over `width` steps centred on each step, ignoring NaN.

    NaN within half a width of either end and where fewer than half the points are present.
    Over exactly one period, the mean cancels the periodic part and keeps level and trend.
    """
    steps = history.shape[1]
    means = np.full(history.shape, np.nan)
    if width > steps:
        return means
    first = width // 2  # the first step whose window [step - first, step - first + width) fits
    stop = steps - (width - first) + 1
    for row_start in range(0, history.shape[0], ROW_BLOCK):
        rows = slice(row_start, row_start + ROW_BLOCK)
        block = history[rows]
        present = ~np.isnan(block)
        zero = np.zeros((block.shape[0], 1))
        sums = np.concatenate((zero, np.cumsum(np.where(present, block, 0.0), axis=1)), axis=1)
        counts = np.concatenate((zero, np.cumsum(present, axis=1)), axis=1)
        window_sums = sums[:, width:] - sums[:, :-width]
        window_counts = counts[:, width:] - counts[:, :-width]
        enough = window_counts >= width / 2
        means[rows, first:stop] = np.where(enough, window_sums / np.maximum(window_counts, 1), np.nan)
    return means


def _fill_shape(shape: np.ndarray, history: np.ndarray, bins: np.ndarray, bin_count: int) -> np.ndarray:
    """Fill the shape's empty bins (history shorter than a period) from raw medians, else 0."""
    if not np.isnan(shape).any():
        return shape
    raw = _binned_median(history, bins, bin_count) - _row_median(history)[:, None]
    return np.where(np.isnan(shape), np.nan_to_num(raw), shape)


def _binned_median(history: np.ndarray, bins: np.ndarray, bin_count: int) -> np.ndarray:
    """Return each row's median per bin (series x bin_count), NaN where a bin has no value."""
    medians = np.full((history.shape[0], bin_count), np.nan)
    order = np.argsort(bins, kind="stable")
    grouped = history[:, order]
    present, starts = np.unique(bins[order], return_index=True)
    stops = np.append(starts[1:], order.size)
    for bin_index, start, stop in zip(present, starts, stops, strict=True):
        medians[:, bin_index] = _row_median(grouped[:, start:stop])
    return medians


def _row_median(block: np.ndarray) -> np.ndarray:
    """Return the median of each row ignoring NaN, NaN for a row without values."""
    ordered = np.sort(block, axis=1)
    counts = np.count_nonzero(~np.isnan(block), axis=1)
    rows = np.arange(block.shape[0])
    low = np.maximum((counts - 1) // 2, 0)
    high = np.maximum(counts // 2, 0)
    if block.shape[1] == 0:
        return np.full(block.shape[0], np.nan)
    high = np.minimum(high, block.shape[1] - 1)
    medians = 0.5 * (ordered[rows, low] + ordered[rows, high])
    return np.where(counts > 0, medians, np.nan)
