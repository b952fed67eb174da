"""The seasonal detector over many series at once: sigma on residuals from a daily profile.

`SeasonalBank.from_history` fits, per series, the median of each time-of-day bin in the
monitor's time zone (bins as in `seasonal`), and turns the history into residuals. A baseline
point's residual uses the profile of the other days only, as the single-series detector does.
A `SigmaBank` then keeps running sums of the residuals, so each `append` costs the same as
the sigma batch.

Differences from `evaluate` with `seasonal`: the profile is always daily (no automatic choice
and no weekly profile), the scale is the residuals' standard deviation instead of a robust
sigma, and the profile stays as fitted until the next rebuild. Rebuild daily, so the profile
follows trends and the running sums lose their rounding drift.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detectors._batch import BatchEvaluation, SigmaBank, check_grid
from detectors._calendar import DAY, local_times
from detectors._seasonal import bin_seconds_for_step
from detectors._settings import DetectorSettings


class SeasonalBank:
    """Daily profiles per series plus a `SigmaBank` over the residuals."""

    def __init__(self, *, profile: np.ndarray, bin_seconds: float, residuals: SigmaBank, timezone: str) -> None:
        self.profile = profile  # (series x bins per day), NaN-free
        self.bin_seconds = bin_seconds
        self.residuals = residuals
        self.timezone = timezone
        self._recent_profile: list[np.ndarray] = []

    @classmethod
    def from_history(cls, timestamps: np.ndarray, values: np.ndarray, *, settings: DetectorSettings) -> SeasonalBank:
        """Fit the profiles and build the residual state from a (series x steps) history.

        Raises ValueError when the timestamps are not evenly spaced or the shapes differ.
        """
        times, history, step = check_grid(timestamps, values)
        bin_seconds = bin_seconds_for_step(step)
        bins_per_day = round(DAY / bin_seconds)
        local = local_times(times, settings.timezone)
        bins = np.floor((local % DAY) / bin_seconds).astype(np.int64)
        days = np.floor(local / DAY).astype(np.int64)
        days -= days[0]
        history = np.where(np.isfinite(history), history, np.nan)

        # Baseline residuals use the profile of the other days (leave one day out).
        profile = _binned_median(history, bins, bins_per_day)
        fallback = _row_median(history)
        profile = np.where(np.isnan(profile), fallback[:, None], profile)
        residuals = np.empty_like(history)
        for day in np.unique(days):
            own = days == day
            others = _binned_median(history[:, ~own], bins[~own], bins_per_day)
            expected = np.where(np.isnan(others), profile, others)
            residuals[:, own] = history[:, own] - expected[:, bins[own]]

        bank = cls(
            profile=profile,
            bin_seconds=bin_seconds,
            residuals=SigmaBank.from_history(times, residuals, settings=settings),
            timezone=settings.timezone,
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
        bin_index = int(np.floor((local[0] % DAY) / self.bin_seconds))
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


def _binned_median(history: np.ndarray, bins: np.ndarray, bin_count: int) -> np.ndarray:
    """Return each row's median per bin (series x bin_count), NaN where a bin has no value."""
    medians = np.full((history.shape[0], bin_count), np.nan)
    for bin_index in np.unique(bins):
        medians[:, bin_index] = _row_median(history[:, bins == bin_index])
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
