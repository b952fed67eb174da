"""Residuals and lagged cross-correlation of metric series on a shared time grid.

These find which other series moved with an anomalous one, and which moved first.
Pure numpy and scipy, no I/O.

Conventions: times are unix seconds, and a grid is an ascending array of evenly spaced
times. `resample` matches each grid time to the nearest sample within `tolerance` and
never interpolates, so a grid time without a sample is NaN, as are NaN, +Inf and -Inf
samples. Every function here skips NaN.

Usage::

    grid = np.arange(start, end + step, step)
    mine = residuals(times_a, values_a, grid, reference=(ref_start, ref_end), tolerance=step / 2)
    other = residuals(times_b, values_b, grid, reference=(ref_start, ref_end), tolerance=step / 2)
    result = cross_correlation(mine.values, other.values, max_lag=10)
    if result is not None and result.lag > 0:
        print(f"the other series moved {result.lag} steps earlier, r = {result.correlation:.2f}")
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

DAY = 86400.0

# Fewer overlapping finite points than this at a lag give no correlation for that lag.
MIN_OVERLAP = 10
# A seasonal expectation needs this many earlier cycles at a grid time.
MIN_CYCLES = 2
MAX_CYCLES = 7
# Scaled MAD equals the standard deviation for normal data.
MAD_TO_SIGMA = 1.4826


def resample(timestamps: np.ndarray, values: np.ndarray, grid: np.ndarray, *, tolerance: float) -> np.ndarray:
    """Return the value of the nearest sample within `tolerance` seconds of each grid time, else NaN."""
    timestamps = np.asarray(timestamps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    result = np.full(grid.shape, np.nan)

    finite = np.isfinite(values) & np.isfinite(timestamps)
    times, samples = timestamps[finite], values[finite]
    if times.size == 0 or grid.size == 0:
        return result
    if times.size > 1 and np.any(np.diff(times) < 0):
        order = np.argsort(times, kind="stable")
        times, samples = times[order], samples[order]

    right = np.clip(np.searchsorted(times, grid), 0, times.size - 1)
    left = np.clip(right - 1, 0, times.size - 1)
    nearest = np.where(np.abs(times[left] - grid) <= np.abs(times[right] - grid), left, right)
    close = np.abs(times[nearest] - grid) <= tolerance
    result[close] = samples[nearest[close]]
    return result


@dataclass(frozen=True)
class Residuals:
    """A series minus its baseline expectation, on a grid.

    `method` is "seasonal" (median of the same time on up to seven earlier days), "level"
    (median of the reference span) or "none" (no finite reference point, so every residual
    is NaN). `scale` is the robust sigma of the residuals over the reference span (scaled
    MAD), 0.0 when the reference is flat or empty.
    """

    values: np.ndarray
    method: str
    scale: float


def residuals(
    timestamps: np.ndarray,
    values: np.ndarray,
    grid: np.ndarray,
    *,
    reference: tuple[float, float],
    tolerance: float,
    period: float = DAY,
) -> Residuals:
    """Subtract the baseline expectation from a series resampled onto `grid`.

    `reference` is the [start, end) span that counts as normal, before the anomaly. When the
    series has at least MIN_CYCLES earlier periods at most grid times, the expectation is
    the median of the same time in those periods. It is kept only if it leaves smaller
    residuals over the reference span than the plain reference median does, so a series
    without a daily cycle is not made noisier by it.
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    on_grid = resample(timestamps, values, grid, tolerance=tolerance)
    start, end = reference
    in_reference = (grid >= start) & (grid < end)

    reference_samples = values[(timestamps >= start) & (timestamps < end) & np.isfinite(values)]
    if reference_samples.size == 0:
        return Residuals(np.full(grid.shape, np.nan), "none", 0.0)
    level = on_grid - float(np.median(reference_samples))
    best, method = level, "level"

    seasonal_expectation = _seasonal_expectation(timestamps, values, grid, tolerance=tolerance, period=period)
    covered = np.isfinite(seasonal_expectation)
    if covered.mean() >= 0.8 and np.any(covered & in_reference & np.isfinite(on_grid)):
        seasonal = on_grid - seasonal_expectation
        if _spread(seasonal[in_reference]) < _spread(level[in_reference]):
            best, method = seasonal, "seasonal"

    return Residuals(best, method, robust_scale(best[in_reference]))


def _seasonal_expectation(
    timestamps: np.ndarray, values: np.ndarray, grid: np.ndarray, *, tolerance: float, period: float
) -> np.ndarray:
    cycles = []
    for cycle in range(1, MAX_CYCLES + 1):
        earlier = grid - cycle * period
        if earlier[-1] < timestamps.min() - tolerance:
            break
        cycles.append(resample(timestamps, values, earlier, tolerance=tolerance))
    if len(cycles) < MIN_CYCLES:
        return np.full(grid.shape, np.nan)

    stacked = np.vstack(cycles)
    enough = np.sum(np.isfinite(stacked), axis=0) >= MIN_CYCLES
    expectation = np.full(grid.shape, np.nan)
    if enough.any():
        expectation[enough] = np.nanmedian(stacked[:, enough], axis=0)
    return expectation


def _spread(sample: np.ndarray) -> float:
    finite = sample[np.isfinite(sample)]
    return float(np.mean(np.abs(finite - np.median(finite)))) if finite.size else math.inf


def robust_scale(sample: np.ndarray) -> float:
    """Return the scaled MAD of the finite values of `sample`, else their standard deviation, else 0.0."""
    finite = sample[np.isfinite(sample)]
    if finite.size < 2:
        return 0.0
    scale = MAD_TO_SIGMA * float(np.median(np.abs(finite - np.median(finite))))
    if scale > 0.0:
        return scale
    return float(np.std(finite, ddof=1))


@dataclass(frozen=True)
class CrossCorrelation:
    """The lag at which two residual series correlate most strongly.

    `lag` is in grid steps: lag k pairs x at t with y at t - k, so a positive lag means y
    moved k steps before x (y leads) and a negative lag means y followed x. `correlation`
    is Pearson's r at that lag (signed) and `at_zero` the r at lag 0 (NaN when that lag
    had too few points). `overlap` is the number of point pairs behind `correlation`.
    `p_value` tests whether the two series move together at that lag: it is two-sided
    for r = 0 between their first differences (prewhitening), with the sample size cut to
    its effective size for the lag-1 autocorrelation left (Bartlett's approximation), and
    multiplied by the number of lags tried (Bonferroni), at most 1.
    """

    lag: int
    correlation: float
    at_zero: float
    overlap: int
    p_value: float
    lags_tried: int

    @property
    def strength(self) -> float:
        return abs(self.correlation)


def cross_correlation(
    x: np.ndarray, y: np.ndarray, *, max_lag: int, min_overlap: int = MIN_OVERLAP
) -> CrossCorrelation | None:
    """Find the lag in [-max_lag, max_lag] steps with the largest |r| between x and a shifted y.

    Both arrays are on the same grid; NaN pairs are skipped at each lag. Among lags whose
    |r| ties, the smallest |lag| wins. Returns None when no lag has `min_overlap` finite
    pairs with variance on both sides.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.size} and {y.size}; resample both onto one grid")
    if max_lag < 0:
        raise ValueError(f"max_lag is {max_lag}; use 0 or more steps")

    best: tuple[int, float, int] | None = None
    at_zero = math.nan
    tried = 0
    for lag in sorted(range(-max_lag, max_lag + 1), key=abs):
        result = _pearson_at_lag(x, y, lag, min_overlap=min_overlap)
        if result is None:
            continue
        tried += 1
        correlation, overlap = result
        if lag == 0:
            at_zero = correlation
        if best is None or abs(correlation) > abs(best[1]) + 1e-9:
            best = (lag, correlation, overlap)
    if best is None:
        return None

    lag, correlation, overlap = best
    p_value = _prewhitened_p_value(x, y, lag) * tried
    return CrossCorrelation(lag=lag, correlation=correlation, at_zero=at_zero, overlap=overlap,
                            p_value=min(1.0, p_value), lags_tried=tried)


def _pairs(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Return x[t] and y[t - lag] for every t where both indices exist, with NaN pairs removed."""
    size = x.size
    if lag >= 0:
        xs, ys = x[lag:], y[: size - lag]
    else:
        xs, ys = x[: size + lag], y[-lag:]
    both = np.isfinite(xs) & np.isfinite(ys)
    return xs[both], ys[both]


def _pearson_at_lag(x: np.ndarray, y: np.ndarray, lag: int, *, min_overlap: int) -> tuple[float, int] | None:
    if abs(lag) >= x.size:
        return None
    xs, ys = _pairs(x, y, lag)
    if xs.size < min_overlap:
        return None
    dx = xs - xs.mean()
    dy = ys - ys.mean()
    denominator = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if denominator == 0.0:
        return None
    return float(np.dot(dx, dy)) / denominator, int(xs.size)


def _lag_one_autocorrelation(sample: np.ndarray) -> float:
    if sample.size < 3:
        return 0.0
    centred = sample - sample.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 0.0
    return float(np.dot(centred[1:], centred[:-1])) / denominator


def _prewhitened_p_value(x: np.ndarray, y: np.ndarray, lag: int) -> float:
    """Return the p-value of the correlation between the first differences of x and y at `lag`.

    Metric residuals wander and shift, so their levels are strongly autocorrelated and a
    correlation of levels carries little evidence by itself. Differencing removes most of
    that, and what autocorrelation is left shrinks the effective sample size.
    """
    xs, ys = _pairs(np.diff(x), np.diff(y), lag)
    if xs.size < 4:
        return 1.0
    dx, dy = xs - xs.mean(), ys - ys.mean()
    denominator = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if denominator == 0.0:
        return 1.0
    return _correlation_p_value(float(np.dot(dx, dy)) / denominator, xs, ys)


def _correlation_p_value(correlation: float, xs: np.ndarray, ys: np.ndarray) -> float:
    rho = _lag_one_autocorrelation(xs) * _lag_one_autocorrelation(ys)
    effective = xs.size * (1.0 - rho) / (1.0 + rho) if rho > -1.0 else float(xs.size)
    effective = min(float(xs.size), max(3.0, effective))
    if abs(correlation) >= 1.0:
        return 0.0
    t_statistic = abs(correlation) * math.sqrt((effective - 2.0) / (1.0 - correlation * correlation))
    return float(2.0 * stats.t.sf(t_statistic, effective - 2.0))


def onset_index(
    residual: np.ndarray, *, after: int, scale: float, threshold: float = 3.0, run: int = 2
) -> int | None:
    """Return the first index from `after` on that starts `run` points beyond `threshold` * `scale`.

    The points of the run must lie on the same side of 0. Returns None when the scale is 0
    or no such run exists.
    """
    if scale <= 0.0 or not math.isfinite(scale):
        return None
    z = np.asarray(residual, dtype=np.float64) / scale
    above = np.where(np.isfinite(z), z >= threshold, False)
    below = np.where(np.isfinite(z), z <= -threshold, False)
    for start in range(max(after, 0), z.size - run + 1):
        if above[start:start + run].all() or below[start:start + run].all():
            return start
    return None


def change_shares(deltas: np.ndarray, *, direction: float) -> np.ndarray:
    """Return each value's share of the total change in `direction` (+1 rise, -1 fall).

    A change against the direction counts as 0, so shares are in [0, 1] and sum to 1 unless
    nothing moved in the direction, when every share is 0. NaN deltas count as 0.
    """
    signed = np.nan_to_num(np.asarray(deltas, dtype=np.float64) * (1.0 if direction >= 0 else -1.0), nan=0.0)
    aligned = np.clip(signed, 0.0, None)
    total = float(aligned.sum())
    if total <= 0.0:
        return np.zeros(aligned.shape)
    return aligned / total
