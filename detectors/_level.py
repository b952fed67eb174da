"""Shared test for detectors that compare the window's level with a baseline expectation.

A level detector fits a `LevelModel` to the baseline: the expected value at each point and a
scale in the metric's units (one baseline sigma, or a robust equivalent). Every point then
gets a residual in sigma, r = (value - expected) / scale. The window statistic is the mean
residual over the alert window (the deviation), or with `min_fraction` > 0 the residual that
at least that fraction of the window's points reach. The same statistic over every window of
equal width in the baseline is the null sample for the p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from detectors._classify import current_run, describe
from detectors._pvalues import NullDistribution, null_p_value
from detectors._results import Evaluation, skipped, tier_for
from detectors._series import SeriesSplit, rolling_means
from detectors._settings import DetectorSettings

# A scale at or below this fraction of the baseline's magnitude counts as a flat baseline.
MIN_RELATIVE_SCALE = 1e-9

# Upper limit on null windows times points per window for rolling quantiles. Beyond it only
# every k-th window end is used, which bounds memory and time.
MAX_QUANTILE_CELLS = 4_000_000

# How far back before `now` an anomalous run is traced, in seconds. A longer run is reported
# as starting this long ago.
RUN_LOOKBACK = 86400.0


@dataclass(frozen=True)
class LevelModel:
    """Baseline expectation, scale and null distributions fitted by one level detector.

    `expected_at(times)` returns the expectation in the metric's units at any time.
    `upper_bound` and `lower_bound` are distances in sigma (both positive) beyond which the
    window counts as anomalous. `null_mean` is the distribution of the window-mean residual
    over the baseline. `null_high` and `null_low` are those of the window's (1 - min_fraction)
    and min_fraction quantiles, set only when min_fraction > 0.
    """

    expected_at: Callable[[np.ndarray], np.ndarray]
    scale: float
    upper_bound: float
    lower_bound: float
    baseline_mean: float
    baseline_std: float
    null_mean: NullDistribution
    null_high: NullDistribution | None = None
    null_low: NullDistribution | None = None
    details: dict[str, float | str] = field(default_factory=dict)


def is_flat(scale: float, magnitude: float) -> bool:
    """Return True when `scale` is zero or negligible next to the baseline's `magnitude`."""
    return not (scale > 0.0) or scale <= MIN_RELATIVE_SCALE * abs(magnitude)


def baseline_moments(split: SeriesSplit) -> tuple[float, float]:
    """Return the baseline's mean and population standard deviation (NaN for an empty one)."""
    values = split.baseline_values
    if values.size == 0:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values))


def check_history(split: SeriesSplit, settings: DetectorSettings, *, name: str) -> Evaluation | None:
    """Return a skipped evaluation when the split has no window data or too little baseline."""
    if split.window_values.size == 0:
        return skipped(reason="no data", detector=name, now=split.now)
    if split.baseline_values.size < settings.min_samples:
        return skipped(reason="insufficient history", detector=name, now=split.now)
    if split.baseline_end - split.times[0] < settings.required_history:
        return skipped(reason="insufficient history", detector=name, now=split.now)
    return None


def no_variance(split: SeriesSplit, *, name: str) -> Evaluation:
    """Return the skipped evaluation of a flat baseline."""
    mean, std = baseline_moments(split)
    return skipped(reason="no variance", detector=name, now=split.now, baseline_mean=mean, baseline_std=std)


def build_level_model(
    split: SeriesSplit,
    settings: DetectorSettings,
    *,
    expected_at: Callable[[np.ndarray], np.ndarray],
    scale: float,
    baseline_residuals: np.ndarray,
    upper_bound: float,
    lower_bound: float,
    details: dict[str, float | str] | None = None,
) -> LevelModel:
    """Compute the null distributions of the window statistic and assemble the model.

    `baseline_residuals` are the baseline's values minus their expectation, in the metric's
    units. Detectors whose expectation is fitted on the baseline itself should pass residuals
    that leave each point's own cycle out, so they are as large as out-of-sample ones.
    """
    standardised = baseline_residuals / scale
    min_points = _min_window_points(split.baseline_times, settings.window)
    null_mean = NullDistribution(
        rolling_means(
            split.baseline_times,
            standardised,
            width=settings.window,
            earliest_start=split.baseline_start,
            min_points=min_points,
        ),
        conservative=settings.conservative_tail,
    )
    null_high = null_low = None
    if settings.min_fraction > 0.0:
        high, low = _rolling_quantiles(
            split.baseline_times,
            standardised,
            width=settings.window,
            earliest_start=split.baseline_start,
            min_points=min_points,
            fraction=settings.min_fraction,
        )
        null_high = NullDistribution(high, conservative=settings.conservative_tail)
        null_low = NullDistribution(low, conservative=settings.conservative_tail)
    mean, std = baseline_moments(split)
    return LevelModel(
        expected_at=expected_at,
        scale=scale,
        upper_bound=upper_bound,
        lower_bound=lower_bound,
        baseline_mean=mean,
        baseline_std=std,
        null_mean=null_mean,
        null_high=null_high,
        null_low=null_low,
        details=dict(details or {}),
    )


def evaluate_level(
    split: SeriesSplit,
    settings: DetectorSettings,
    model: LevelModel,
    *,
    name: str,
    direction: str | None = None,
) -> Evaluation:
    """Test the alert window's residuals against the baseline's and build the evaluation.

    `direction` overrides `settings.direction` for detectors that test one side only.
    A deviation beyond the upper bound is a "spike" and one beyond the lower bound a "drop".
    Either is an anomaly only when its tier is not "low". The model may come from an earlier
    baseline, as long as `split` covers the current window.
    """
    direction = direction or settings.direction
    recent = slice(int(np.searchsorted(split.times, split.now - RUN_LOOKBACK, side="right")), split.times.size)
    recent_times = split.times[recent]
    recent_expected = model.expected_at(recent_times)
    residuals = (split.values[recent] - recent_expected) / model.scale
    in_window = recent_times > split.window_start
    window = residuals[in_window]

    current = float(np.mean(split.window_values))
    expected = float(np.mean(recent_expected[in_window]))
    deviation = float(np.mean(window))
    p_value = _window_p_value(settings, model, window, deviation, direction)
    tier = tier_for(p_value)

    side = _crossed_side(window, deviation, model, settings.min_fraction, direction)
    anomaly = None
    if side is not None and tier != "low":
        excess = residuals > model.upper_bound if side == "above" else residuals < -model.lower_bound
        run = current_run(recent_times, excess, window_start=split.window_start, now=split.now)
        if run is not None:
            details: dict[str, float | str] = {
                **model.details,
                "baseline_points": float(split.baseline_values.size),
                "window_points": float(window.size),
                "bound": model.upper_bound if side == "above" else -model.lower_bound,
            }
            anomaly = describe(
                kind="spike" if side == "above" else "drop",
                direction=side,
                run=run,
                amplitude=current - expected,
                deviation=deviation,
                details=details,
            )

    return Evaluation(
        status="anomaly" if anomaly is not None else "normal",
        reason=None,
        detector=name,
        evaluated_at=split.now,
        current=current,
        expected=expected,
        baseline_mean=model.baseline_mean,
        baseline_std=model.baseline_std,
        deviation=deviation,
        p_value=p_value,
        tier=tier,
        anomaly=anomaly,
    )


def _min_window_points(times: np.ndarray, width: float) -> int:
    """Return how many points a null window needs: half of what the sampling step gives."""
    if times.size < 2:
        return 1
    step = float(np.median(np.diff(times)))
    if step <= 0.0:
        return 1
    return max(1, math.ceil(0.5 * width / step))


def _crossed_side(
    window: np.ndarray, deviation: float, model: LevelModel, min_fraction: float, direction: str
) -> str | None:
    """Return "above" or "below" when the window crosses that bound, else None."""
    if min_fraction > 0.0:
        high = float(np.quantile(window, 1.0 - min_fraction))
        low = float(np.quantile(window, min_fraction))
    else:
        high = low = deviation
    above = direction in ("above", "both") and high > model.upper_bound
    below = direction in ("below", "both") and low < -model.lower_bound
    if above and below:
        return "above" if deviation >= 0.0 else "below"
    if above:
        return "above"
    if below:
        return "below"
    return None


def _window_p_value(
    settings: DetectorSettings,
    model: LevelModel,
    window: np.ndarray,
    deviation: float,
    direction: str,
) -> float:
    """Return the p-value of the window statistic against the baseline's windows."""
    if model.null_high is None or model.null_low is None:
        return null_p_value(model.null_mean, deviation, deviation=deviation, direction=direction)

    fraction = settings.min_fraction
    high = float(np.quantile(window, 1.0 - fraction))
    low = float(np.quantile(window, fraction))
    upper_p = null_p_value(model.null_high, high, deviation=high, direction="above")
    lower_p = null_p_value(model.null_low, low, deviation=low, direction="below")
    if direction == "above":
        return upper_p
    if direction == "below":
        return lower_p
    return min(1.0, 2.0 * min(upper_p, lower_p))


def _rolling_quantiles(
    times: np.ndarray,
    values: np.ndarray,
    *,
    width: float,
    earliest_start: float,
    min_points: int,
    fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the (1 - fraction) and fraction quantiles of every baseline window of `width`."""
    if times.size == 0:
        return np.empty(0), np.empty(0)
    ends = np.arange(times.size)
    starts = np.searchsorted(times, times - width, side="right")
    counts = ends - starts + 1
    usable = (times - width >= earliest_start) & (counts >= min_points)
    ends = ends[usable]
    starts = starts[usable]
    counts = counts[usable]
    if ends.size == 0:
        return np.empty(0), np.empty(0)

    longest = int(counts.max())
    stride = max(1, math.ceil(ends.size * longest / MAX_QUANTILE_CELLS))
    ends = ends[::stride]
    starts = starts[::stride]
    counts = counts[::stride]

    # One row per window, padded with NaN to the longest window.
    offsets = np.arange(longest)
    index = starts[:, None] + offsets[None, :]
    padded = np.where(offsets[None, :] < counts[:, None], values[np.minimum(index, ends[:, None])], np.nan)
    ordered = np.sort(padded, axis=1)
    return _sorted_quantile(ordered, counts, 1.0 - fraction), _sorted_quantile(ordered, counts, fraction)


def _sorted_quantile(ordered: np.ndarray, counts: np.ndarray, quantile: float) -> np.ndarray:
    """Return each row's quantile, linearly interpolated as np.quantile does by default.

    Rows are sorted ascending with their NaN padding last, and `counts` gives each row's
    number of values.
    """
    position = quantile * (counts - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, counts - 1)
    rows = np.arange(ordered.shape[0])
    weight = position - below
    return ordered[rows, below] * (1.0 - weight) + ordered[rows, above] * weight
