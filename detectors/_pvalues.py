"""Empirical p-values with a generalised Pareto tail, and the Benjamini-Hochberg adjustment.

A detector turns the alert window into one statistic (for example the window mean) and
computes the same statistic over every window of equal width inside the baseline: the null
sample. The p-value is the share of null statistics at least as extreme as the observed one,
(1 + count) / (1 + N). This assumes that the baseline's windows and the current window
come from the same distribution (stationarity after the detector's own adjustment, such as a
seasonal profile). It assumes neither normality nor independence, so it stays calibrated on
autocorrelated, heavy-tailed metrics. Overlapping null windows are correlated, so the baseline
should hold many window widths (20 or more) for the sample to cover the tail.

Beyond the largest TAIL_FRACTION of the null sample, a generalised Pareto distribution fitted
to the exceedances smooths the tail, so p can fall below 1 / (N + 1). Its shape is held in
[0, 0.5]: a tail at least as heavy as an exponential one, which errs toward larger p-values.

With fewer than MIN_NULL_SAMPLE null statistics, p falls back to Cantelli's inequality
P(Z >= z) <= 1 / (1 + z^2) on the deviation in baseline sigma. The bound holds for any
distribution with that variance, so this fallback is conservative.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

MIN_NULL_SAMPLE = 30
TAIL_FRACTION = 0.05
MIN_TAIL_EXCEEDANCES = 10
MAX_TAIL_SHAPE = 0.5


def upper_tail_p(null: np.ndarray, observed: float) -> float:
    """Return P(null >= observed), estimated from the null sample with a fitted tail."""
    size = null.size
    exceeding = int(np.count_nonzero(null >= observed))
    empirical = (1.0 + exceeding) / (1.0 + size)

    tail_size = max(MIN_TAIL_EXCEEDANCES, int(math.ceil(TAIL_FRACTION * size)))
    if size < 2 * tail_size or exceeding >= tail_size:
        return empirical

    # Threshold u is the (tail_size + 1)-th largest value, the exceedances are the values above.
    ordered = np.partition(null, size - tail_size - 1)
    threshold = float(ordered[size - tail_size - 1])
    excess = np.sort(ordered[size - tail_size :]) - threshold
    shape, scale = _fit_generalised_pareto(excess)
    if scale <= 0.0:
        return empirical
    tail = float(stats.genpareto.sf(observed - threshold, shape, scale=scale))
    return tail_size / (1.0 + size) * tail


def directional_p(null: np.ndarray, observed: float, direction: str) -> float:
    """Return the p-value of `observed` against `null` for "above", "below" or "both".

    "both" is the two-sided p-value 2 * min(upper, lower), capped at 1, which stays valid
    when the null distribution is skewed.
    """
    if direction == "above":
        return upper_tail_p(null, observed)
    if direction == "below":
        return upper_tail_p(-null, -observed)
    upper = upper_tail_p(null, observed)
    lower = upper_tail_p(-null, -observed)
    return min(1.0, 2.0 * min(upper, lower))


def cantelli_p(deviation: float, direction: str) -> float:
    """Return the distribution-free bound on the p-value of a deviation in sigma."""
    if direction == "above":
        signed = deviation
    elif direction == "below":
        signed = -deviation
    else:
        # Two-sided: Chebyshev's bound 1 / z^2, never above 1.
        size = abs(deviation)
        return 1.0 if size <= 1.0 else 1.0 / (size * size)
    return 1.0 if signed <= 0.0 else 1.0 / (1.0 + signed * signed)


def null_p_value(null: np.ndarray, observed: float, *, deviation: float, direction: str) -> float:
    """Return the p-value of `observed`, from the null sample when it is large enough."""
    if null.size >= MIN_NULL_SAMPLE:
        return directional_p(null, observed, direction)
    return cantelli_p(deviation, direction)


def adjust_p_values(p_values: np.ndarray) -> np.ndarray:
    """Return Benjamini-Hochberg adjusted p-values (q-values) for one cycle's series.

    The adjustment controls the false discovery rate across the series evaluated together.
    NaN inputs stay NaN and do not count toward the number of tests. Output has the input's
    shape, each value in [0, 1] and never below its raw p-value.
    """
    raw = np.asarray(p_values, dtype=np.float64)
    flat = raw.ravel()
    adjusted = np.full(flat.shape, np.nan)
    present = np.flatnonzero(~np.isnan(flat))
    count = present.size
    if count == 0:
        return adjusted.reshape(raw.shape)

    order = present[np.argsort(flat[present], kind="stable")]
    ranked = flat[order] * count / np.arange(1, count + 1)
    # Step-up: each q-value is the minimum over all larger ranks.
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted[order] = np.clip(ranked, 0.0, 1.0)
    return adjusted.reshape(raw.shape)


def _fit_generalised_pareto(excess: np.ndarray) -> tuple[float, float]:
    """Fit shape and scale to ascending exceedances by probability-weighted moments.

    Hosking and Wallis (1987), "Parameter and quantile estimation for the generalized Pareto
    distribution", Technometrics 29(3). The shape is then held in [0, MAX_TAIL_SHAPE] and
    the scale refitted to the mean excess, sigma = mean * (1 - shape).
    """
    count = excess.size
    mean = float(np.mean(excess))
    if count < 2 or mean <= 0.0:
        return 0.0, 0.0
    plotting = (np.arange(1, count + 1) - 0.35) / count
    weighted = float(np.mean((1.0 - plotting) * excess))
    denominator = mean - 2.0 * weighted
    if denominator <= 0.0:
        shape = MAX_TAIL_SHAPE
    else:
        # Hosking and Wallis write k = -shape.
        shape = -(mean / denominator - 2.0)
    shape = min(max(shape, 0.0), MAX_TAIL_SHAPE)
    return shape, mean * (1.0 - shape)
