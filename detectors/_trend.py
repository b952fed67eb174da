"""The `trend` detector: a change of slope in the alert window against the baseline's slopes.

The statistic is the least-squares slope over the alert window, in metric units per second.
Its null sample is the slope of every window of equal width in the baseline, so daily ramps
and autocorrelated wandering are part of what counts as normal. When the baseline has a
daily or weekly pattern (see `seasonal`), slopes are taken of the residuals from the
seasonal profile, so a morning ramp does not count as a trend. The deviation is the window's
slope minus the mean baseline slope, in standard deviations of the baseline slopes.

Set `window` to the span over which a trend should show, such as an hour or a day. A 5-minute
window contains few points and its slope is mostly noise.

`details` reports `slope_per_hour`, `baseline_slope_per_hour`, `level` (the fitted value at
`now`) and, when `capacity` is set and the current slope heads toward it, `time_to_capacity`
in seconds at that slope.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detectors._classify import current_run, describe
from detectors._level import RUN_LOOKBACK, baseline_moments, is_flat
from detectors._pvalues import NullDistribution, null_p_value
from detectors._results import Evaluation, tier_for
from detectors._seasonal import choose_seasonality, fit_profile
from detectors._series import SeriesSplit
from detectors._settings import DetectorSettings

MIN_SLOPE_POINTS = 3
HOUR = 3600.0


@dataclass(frozen=True)
class TrendModel:
    """Seasonal expectation and the distribution of baseline window slopes."""

    expected_at: Callable[[np.ndarray], np.ndarray]
    null: NullDistribution
    slope_mean: float
    slope_std: float
    baseline_mean: float
    baseline_std: float
    seasonality: str


def window_slopes(
    times: np.ndarray, values: np.ndarray, ends: np.ndarray, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the least-squares slope and point count of each window (end - width, end].

    Windows with fewer than MIN_SLOPE_POINTS points or one distinct time get slope NaN.
    """
    if times.size == 0:
        return np.full(ends.shape, np.nan), np.zeros(ends.shape, dtype=np.int64)
    # Centred times and values keep the cumulative sums small, so differences stay precise.
    offset = float(times[0])
    centre = float(np.mean(values))
    t = times - offset
    x = values - centre
    sums = [np.concatenate(([0.0], np.cumsum(term))) for term in (t, x, t * t, t * x)]
    first = np.searchsorted(times, ends - width, side="right")
    stop = np.searchsorted(times, ends, side="right")
    count = (stop - first).astype(np.float64)
    sum_t, sum_x, sum_tt, sum_tx = (s[stop] - s[first] for s in sums)
    spread = count * sum_tt - sum_t * sum_t
    # Relative to the window's own time spread, anything smaller is rounding error.
    usable = (count >= MIN_SLOPE_POINTS) & (spread > 1e-9 * count * count * width * width)
    slopes = np.full(ends.shape, np.nan)
    slopes[usable] = (count[usable] * sum_tx[usable] - sum_t[usable] * sum_x[usable]) / spread[usable]
    return slopes, (stop - first)


def fit_trend(split: SeriesSplit, settings: DetectorSettings) -> TrendModel | None:
    """Fit the seasonal expectation and the baseline slope distribution.

    Returns None when the baseline's slopes have no variance.
    """
    seasonality, _ = choose_seasonality(split, settings)
    profile, residuals = fit_profile(split, settings, seasonality)
    times = split.baseline_times
    ends = times[times - settings.window >= split.baseline_start]
    slopes, _ = window_slopes(times, residuals, ends, settings.window)
    slopes = slopes[np.isfinite(slopes)]
    mean, std = baseline_moments(split)
    if slopes.size == 0:
        return None
    slope_mean = float(np.mean(slopes))
    slope_std = float(np.std(slopes))
    # Relative to the level, a slope spread this small means a straight or flat baseline.
    if is_flat(slope_std * settings.window, mean):
        return None
    return TrendModel(
        expected_at=profile.expected_at,
        null=NullDistribution(slopes, conservative=settings.conservative_tail),
        slope_mean=slope_mean,
        slope_std=slope_std,
        baseline_mean=mean,
        baseline_std=std,
        seasonality=seasonality,
    )


def evaluate_trend(split: SeriesSplit, settings: DetectorSettings, model: TrendModel, name: str) -> Evaluation:
    """Test the window's slope against the baseline slopes and build the evaluation."""
    lookback = int(np.searchsorted(split.times, split.now - RUN_LOOKBACK - settings.window, side="right"))
    times = split.times[lookback:]
    expected = model.expected_at(times)
    residuals = split.values[lookback:] - expected
    in_window = times > split.window_start

    slope, _ = window_slopes(times, residuals, np.array([split.now]), settings.window)
    current = float(np.mean(split.window_values))
    expected_level = float(np.mean(expected[in_window]))
    window_slope = float(slope[0])
    if not math.isfinite(window_slope):
        window_slope = model.slope_mean
    deviation = (window_slope - model.slope_mean) / model.slope_std
    p_value = null_p_value(model.null, window_slope, deviation=deviation, direction=settings.direction)
    tier = tier_for(p_value)

    side = None
    if settings.direction in ("above", "both") and deviation > settings.threshold:
        side = "above"
    elif settings.direction in ("below", "both") and deviation < -settings.lower_bound:
        side = "below"

    anomaly = None
    if side is not None and tier != "low":
        recent_slopes, _ = window_slopes(times, residuals, times, settings.window)
        recent_deviation = (recent_slopes - model.slope_mean) / model.slope_std
        if side == "above":
            excess = recent_deviation > settings.threshold
        else:
            excess = recent_deviation < -settings.lower_bound
        run = current_run(times, excess, window_start=split.window_start, now=split.now)
        if run is not None:
            anomaly = describe(
                kind="trend",
                direction=side,
                run=run,
                amplitude=current - expected_level,
                deviation=deviation,
                details=_trend_details(split, settings, model, window_slope),
            )

    return Evaluation(
        status="anomaly" if anomaly is not None else "normal",
        reason=None,
        detector=name,
        evaluated_at=split.now,
        current=current,
        expected=expected_level,
        baseline_mean=model.baseline_mean,
        baseline_std=model.baseline_std,
        deviation=deviation,
        p_value=p_value,
        tier=tier,
        anomaly=anomaly,
    )


def _trend_details(
    split: SeriesSplit, settings: DetectorSettings, model: TrendModel, residual_slope: float
) -> dict[str, float | str]:
    """Return slope, level and the time to reach `capacity` at the raw window slope."""
    raw_slope, _ = window_slopes(split.window_times, split.window_values, np.array([split.now]), settings.window)
    slope = float(raw_slope[0]) if math.isfinite(float(raw_slope[0])) else residual_slope
    window_times = split.window_times
    level = float(np.mean(split.window_values)) + slope * (split.now - float(np.mean(window_times)))
    details: dict[str, float | str] = {
        "slope_per_hour": slope * HOUR,
        "residual_slope_per_hour": residual_slope * HOUR,
        "baseline_slope_per_hour": model.slope_mean * HOUR,
        "level": level,
        "seasonality": model.seasonality,
    }
    if settings.capacity is not None:
        details["capacity"] = float(settings.capacity)
        remaining = settings.capacity - level
        if slope != 0.0 and remaining / slope > 0.0:
            details["time_to_capacity"] = remaining / slope
        elif remaining == 0.0:
            details["time_to_capacity"] = 0.0
    return details
