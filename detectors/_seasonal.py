"""The `seasonal` detector: the window against a daily or weekly profile of the baseline.

The profile is the median of the baseline in each time-of-day bin (daily) or each
weekday-and-time bin (weekly), in the monitor's time zone, so a daylight-saving change moves
the profile with the wall clock. Residuals are value minus profile, scaled by a robust sigma
(1.4826 * MAD of the residuals). A baseline point's residual uses a profile built without its
own day (or week), so baseline residuals are as large as the window's out-of-sample ones and
the p-value stays calibrated.

With `seasonality="auto"` the detector picks the pattern from the baseline's autocorrelation.
It picks "weekly" when the baseline spans two weeks or more and the 7-day lag correlates
clearly better than the 1-day lag. It picks "daily" when the 1-day lag correlates at 0.3 or
more and clearly better than the 12-hour lag, else "none". A pattern needs two full cycles in
the baseline: a weekly profile needs 14 days of baseline (the default baseline is 7 days),
otherwise the detector uses the next shorter pattern. With "none" the profile is the baseline median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detectors._calendar import DAY, EPOCH_WEEKDAY, WEEK, local_times
from detectors._level import LevelModel, build_level_model, is_flat
from detectors._robust import robust_scale
from detectors._series import SeriesSplit
from detectors._settings import DetectorSettings

# Profile bins hold at least this many sampling steps per cycle, and are at least 5 minutes.
MIN_BIN_STEPS = 1
MIN_BIN_SECONDS = 300.0

# Autocorrelation thresholds of the automatic choice.
MIN_SEASONAL_AUTOCORRELATION = 0.3
MIN_AUTOCORRELATION_MARGIN = 0.1

PERIODS = {"daily": DAY, "weekly": WEEK}


@dataclass(frozen=True)
class SeasonalProfile:
    """Median profile of one seasonal pattern, looked up by local wall-clock time."""

    seasonality: str
    timezone: str
    bin_seconds: float
    bins: np.ndarray  # median per bin; NaN where the baseline had no point
    fallback: float  # baseline median, used for bins without data

    def expected_at(self, times: np.ndarray) -> np.ndarray:
        """Return the profile value at each unix time, in the metric's units."""
        if self.seasonality == "none":
            return np.full(times.shape, self.fallback)
        local = local_times(times, self.timezone)
        index = _bin_index(local, self.seasonality, self.bin_seconds)
        expected = self.bins[index]
        return np.where(np.isnan(expected), self.fallback, expected)


def choose_seasonality(split: SeriesSplit, settings: DetectorSettings) -> tuple[str, dict[str, float]]:
    """Return the seasonality to use and the autocorrelations behind an automatic choice."""
    span = split.baseline_end - split.baseline_start
    if split.baseline_times.size:
        span = min(span, split.baseline_end - float(split.baseline_times[0]))
    if settings.seasonality != "auto":
        return _longest_fitting(settings.seasonality, span), {}

    bin_seconds = _bin_seconds(split.baseline_times)
    grid = _regular_grid(split.baseline_times, split.baseline_values, bin_seconds)
    scores = {
        "autocorrelation_half_day": _autocorrelation(grid, round(0.5 * DAY / bin_seconds)),
        "autocorrelation_day": _autocorrelation(grid, round(DAY / bin_seconds)),
        "autocorrelation_week": _autocorrelation(grid, round(WEEK / bin_seconds)),
    }
    half_day = scores["autocorrelation_half_day"]
    day = scores["autocorrelation_day"]
    week = scores["autocorrelation_week"]
    if span >= 2 * WEEK and week >= MIN_SEASONAL_AUTOCORRELATION and week > day + MIN_AUTOCORRELATION_MARGIN:
        return "weekly", scores
    if span >= 2 * DAY and day >= MIN_SEASONAL_AUTOCORRELATION and day > half_day + MIN_AUTOCORRELATION_MARGIN:
        return "daily", scores
    return "none", scores


def fit_profile(split: SeriesSplit, settings: DetectorSettings, seasonality: str) -> tuple[SeasonalProfile, np.ndarray]:
    """Fit the profile and return it with the baseline's leave-one-cycle-out residuals."""
    times = split.baseline_times
    values = split.baseline_values
    fallback = float(np.median(values))
    bin_seconds = _bin_seconds(times)
    if seasonality == "none":
        profile = SeasonalProfile("none", settings.timezone, bin_seconds, np.empty(0), fallback)
        return profile, values - fallback

    period = PERIODS[seasonality]
    bin_count = round(period / bin_seconds)
    local = local_times(times, settings.timezone)
    index = _bin_index(local, seasonality, bin_seconds)
    cycles = np.floor(local / period).astype(np.int64)

    bins = binned_medians(index, values, bin_count)
    residuals = np.empty_like(values)
    for cycle in np.unique(cycles):
        own = cycles == cycle
        others = binned_medians(index[~own], values[~own], bin_count)
        expected = others[index[own]]
        # A bin that only this cycle covered falls back to the full profile, then the median.
        expected = np.where(np.isnan(expected), bins[index[own]], expected)
        expected = np.where(np.isnan(expected), fallback, expected)
        residuals[own] = values[own] - expected

    profile = SeasonalProfile(seasonality, settings.timezone, bin_seconds, bins, fallback)
    return profile, residuals


def fit_seasonal(split: SeriesSplit, settings: DetectorSettings) -> LevelModel | None:
    """Fit the seasonal model, or return None when the residuals have no variance."""
    fitted = fit_seasonal_with_residuals(split, settings)
    return None if fitted is None else fitted[0]


def fit_seasonal_with_residuals(split: SeriesSplit, settings: DetectorSettings) -> tuple[LevelModel, np.ndarray] | None:
    """Fit the seasonal model and return it with the baseline's residuals (metric units)."""
    seasonality, scores = choose_seasonality(split, settings)
    profile, residuals = fit_profile(split, settings, seasonality)
    scale = robust_scale(residuals)
    if is_flat(scale, profile.fallback):
        return None
    details: dict[str, float | str] = {
        "seasonality": seasonality,
        "bin_seconds": profile.bin_seconds,
        "robust_sigma": scale,
        **{name: value for name, value in scores.items() if math.isfinite(value)},
    }
    model = build_level_model(
        split,
        settings,
        expected_at=profile.expected_at,
        scale=scale,
        baseline_residuals=residuals,
        upper_bound=settings.threshold,
        lower_bound=settings.lower_bound,
        details=details,
    )
    return model, residuals


def binned_medians(index: np.ndarray, values: np.ndarray, bin_count: int) -> np.ndarray:
    """Return the median of `values` in each bin 0..bin_count-1, NaN for an empty bin."""
    medians = np.full(bin_count, np.nan)
    if values.size == 0:
        return medians
    order = np.lexsort((values, index))
    ordered = values[order]
    counts = np.bincount(index, minlength=bin_count)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    filled = counts > 0
    low = starts[filled] + (counts[filled] - 1) // 2
    high = starts[filled] + counts[filled] // 2
    medians[filled] = 0.5 * (ordered[low] + ordered[high])
    return medians


def _longest_fitting(seasonality: str, span: float) -> str:
    """Step down from weekly to daily to none until two cycles fit in the baseline span."""
    if seasonality == "weekly" and span < 2 * WEEK:
        seasonality = "daily"
    if seasonality == "daily" and span < 2 * DAY:
        seasonality = "none"
    return seasonality


def _bin_seconds(times: np.ndarray) -> float:
    """Return the profile bin width for points at the times' median sampling step."""
    step = float(np.median(np.diff(times))) if times.size > 1 else MIN_BIN_SECONDS
    return bin_seconds_for_step(step)


def bin_seconds_for_step(step: float) -> float:
    """Return a bin width that divides a day evenly and contains MIN_BIN_STEPS steps."""
    width = max(MIN_BIN_SECONDS, MIN_BIN_STEPS * step)
    bins_per_day = max(1, int(DAY // width))
    return DAY / bins_per_day


def _bin_index(local: np.ndarray, seasonality: str, bin_seconds: float) -> np.ndarray:
    """Return each local time's profile bin: time of day, plus weekday for weekly."""
    time_of_day = np.floor((local % DAY) / bin_seconds).astype(np.int64)
    if seasonality == "daily":
        return time_of_day
    weekday = (np.floor(local / DAY).astype(np.int64) + EPOCH_WEEKDAY) % 7
    return weekday * round(DAY / bin_seconds) + time_of_day


def _regular_grid(times: np.ndarray, values: np.ndarray, step: float) -> np.ndarray:
    """Return bin means on a regular grid of `step` seconds, NaN where a bin is empty."""
    if times.size == 0:
        return np.empty(0)
    slots = np.floor((times - times[0]) / step).astype(np.int64)
    counts = np.bincount(slots)
    sums = np.bincount(slots, weights=values)
    grid = np.full(counts.size, np.nan)
    filled = counts > 0
    grid[filled] = sums[filled] / counts[filled]
    return grid


def _autocorrelation(grid: np.ndarray, lag: int) -> float:
    """Return the correlation between the grid and itself `lag` steps later, NaN if unknown."""
    if lag <= 0 or grid.size <= lag + 2:
        return math.nan
    early = grid[:-lag]
    late = grid[lag:]
    both = ~(np.isnan(early) | np.isnan(late))
    if np.count_nonzero(both) < 3:
        return math.nan
    early = early[both] - np.mean(early[both])
    late = late[both] - np.mean(late[both])
    denominator = math.sqrt(float(np.sum(early * early)) * float(np.sum(late * late)))
    if denominator == 0.0:
        return math.nan
    return float(np.sum(early * late)) / denominator
