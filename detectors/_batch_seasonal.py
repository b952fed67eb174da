"""The seasonal detector over many series at once: sigma on residuals from a seasonal profile.

`SeasonalBank.from_history` fits, per series, the median of each time-of-day bin in the
monitor's time zone (bins as in `seasonal`), or of each weekday-and-time bin when the
settings' `seasonality` is "weekly", and turns the history into residuals. A baseline point's
residual uses the profile of the other days (or weeks) only, as the single-series detector
does. A `SigmaBank` then keeps running sums of the residuals, so each `append` costs the same
as the sigma batch.

Differences from `evaluate` with `seasonal`: the profile is daily unless `seasonality` is
"weekly" (no automatic choice, and "none" also gets a daily profile), the scale is the
residuals' standard deviation instead of a robust sigma, and the profile stays as fitted until
the next rebuild. A weekly profile needs a history of two weeks or more, so each bin has a
week left when its own week is left out. Rebuild daily, so the profile follows trends and the
running sums lose their rounding drift.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detectors._batch import BatchEvaluation, SigmaBank, check_grid
from detectors._calendar import DAY, EPOCH_WEEKDAY, WEEK, local_times
from detectors._seasonal import bin_seconds_for_step
from detectors._settings import DetectorSettings


class SeasonalBank:
    """Daily profiles per series plus a `SigmaBank` over the residuals."""

    def __init__(
        self,
        *,
        profile: np.ndarray,
        bin_seconds: float,
        residuals: SigmaBank,
        timezone: str,
        weekly: bool = False,
    ) -> None:
        self.profile = profile  # (series x bins per day, or per week when weekly), NaN-free
        self.bin_seconds = bin_seconds
        self.residuals = residuals
        self.timezone = timezone
        self.weekly = weekly
        self._recent_profile: list[np.ndarray] = []

    @classmethod
    def from_history(cls, timestamps: np.ndarray, values: np.ndarray, *, settings: DetectorSettings) -> SeasonalBank:
        """Fit the profiles and build the residual state from a (series x steps) history.

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
        bin_seconds = bin_seconds_for_step(step)
        bin_count = round((WEEK if weekly else DAY) / bin_seconds)
        local = local_times(times, settings.timezone)
        bins = _bin_index(local, bin_seconds, weekly=weekly)
        cycles = np.floor(local / (WEEK if weekly else DAY)).astype(np.int64)
        history = np.where(np.isfinite(history), history, np.nan)

        # Baseline residuals use the profile of the other cycles (leave one day or week out).
        profile = _binned_median(history, bins, bin_count)
        fallback = _row_median(history)
        profile = np.where(np.isnan(profile), fallback[:, None], profile)
        residuals = np.empty_like(history)
        for cycle in np.unique(cycles):
            own = cycles == cycle
            others = _binned_median(history[:, ~own], bins[~own], bin_count)
            expected = np.where(np.isnan(others), profile, others)
            residuals[:, own] = history[:, own] - expected[:, bins[own]]

        bank = cls(
            profile=profile,
            bin_seconds=bin_seconds,
            residuals=SigmaBank.from_history(times, residuals, settings=settings),
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
