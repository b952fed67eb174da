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

That point estimate is still too light-tailed for p-values far beyond the sample. On AR(1)
noise with Student-t (4) innovations, a fit to 28 days of 5-minute window means gave p-values
a few times too small at the true 1e-5 quantile. The batch detectors' conservative tail
(`tail_size(N, conservative=True)` and `fit_generalised_pareto(..., clusters=n)`) fits only
the largest sqrt(N) values when that is fewer, so the fit stays in the far tail, and raises
the shape by about one standard error, (1 + shape) / sqrt(n), for the n runs of exceedances
adjacent in time (overlapping windows exceed together).

With fewer than MIN_NULL_SAMPLE null statistics, p falls back to Cantelli's inequality
P(Z >= z) <= 1 / (1 + z^2) on the deviation in baseline sigma. The bound holds for any
distribution with that variance, so this fallback is conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_NULL_SAMPLE = 30
TAIL_FRACTION = 0.05
MIN_TAIL_EXCEEDANCES = 10
MAX_TAIL_SHAPE = 0.5


@dataclass(frozen=True)
class _Tail:
    """Generalised Pareto fit to the largest values of a sample, above `threshold`."""

    threshold: float
    shape: float
    scale: float
    probability: float  # share of the sample above `threshold`, as (tail size) / (1 + N)


class NullDistribution:
    """Distribution of a window statistic over the baseline, for p-values of new windows.

    Built once per baseline, then queried for any number of observed statistics.
    """

    def __init__(self, sample: np.ndarray, *, conservative: bool = False) -> None:
        """`sample` in time order; `conservative` selects the conservative tail fit (see above)."""
        values = np.asarray(sample, dtype=np.float64)
        finite = values[np.isfinite(values)]
        self.sorted = np.sort(finite)
        self.size = int(self.sorted.size)
        self.tail_count = tail_size(self.size, conservative=conservative)
        self._upper = _fit_tail(self.sorted, self.tail_count, values if conservative else None)
        self._lower = _fit_tail(-self.sorted[::-1], self.tail_count, -values if conservative else None)

    @property
    def is_usable(self) -> bool:
        """True when the sample is large enough for an empirical p-value."""
        return self.size >= MIN_NULL_SAMPLE

    def upper_p(self, observed: float) -> float:
        """Return P(statistic >= observed)."""
        exceeding = self.size - int(np.searchsorted(self.sorted, observed, side="left"))
        return _tail_p(self._upper, exceeding, self.size, observed, self.tail_count)

    def lower_p(self, observed: float) -> float:
        """Return P(statistic <= observed)."""
        exceeding = int(np.searchsorted(self.sorted, observed, side="right"))
        return _tail_p(self._lower, exceeding, self.size, -observed, self.tail_count)

    def p_value(self, observed: float, direction: str) -> float:
        """Return the p-value for "above", "below" or "both".

        "both" is the two-sided p-value 2 * min(upper, lower), capped at 1, which stays valid
        when the null distribution is skewed.
        """
        if direction == "above":
            return self.upper_p(observed)
        if direction == "below":
            return self.lower_p(observed)
        return min(1.0, 2.0 * min(self.upper_p(observed), self.lower_p(observed)))


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


def null_p_value(null: NullDistribution, observed: float, *, deviation: float, direction: str) -> float:
    """Return the p-value of `observed`, from the null sample when it is large enough.

    `deviation` is the same observation in baseline sigma, for the Cantelli fallback.
    """
    if null.is_usable:
        return null.p_value(observed, direction)
    return cantelli_p(deviation, direction)


def tail_size(size: np.ndarray | int, *, conservative: bool = False) -> np.ndarray | int:
    """Return the number of largest null statistics that the Pareto tail is fitted to.

    TAIL_FRACTION of the sample, or with `conservative` no more than sqrt(size) of it.
    """
    counts = np.ceil(TAIL_FRACTION * np.asarray(size))
    if conservative:
        counts = np.minimum(counts, np.ceil(np.sqrt(size)))
    counts = np.maximum(MIN_TAIL_EXCEEDANCES, counts).astype(np.int64)
    return int(counts) if np.ndim(counts) == 0 else counts


def count_clusters(positions: np.ndarray) -> int:
    """Return the number of runs of consecutive time indices in `positions`."""
    if positions.size == 0:
        return 0
    return 1 + int(np.count_nonzero(np.diff(np.sort(positions)) > 1))


def _fit_tail(ascending: np.ndarray, count: int, in_time_order: np.ndarray | None) -> _Tail | None:
    """Fit the upper tail to the `count` largest values, or return None when the sample is too small.

    With `in_time_order` (the same sample, unsorted), the fit is the conservative one: the
    shape is raised for the number of runs of exceedances adjacent in time.
    """
    size = ascending.size
    if size < 2 * count:
        return None
    # The threshold is the (count + 1)-th largest value, the exceedances the values above.
    threshold = float(ascending[size - count - 1])
    excess = ascending[size - count :] - threshold
    clusters = None
    if in_time_order is not None:
        clusters = count_clusters(np.flatnonzero(in_time_order > threshold))
    shape, scale = fit_generalised_pareto(excess, clusters=clusters)
    if scale <= 0.0:
        return None
    return _Tail(threshold, shape, scale, count / (1.0 + size))


def _tail_p(tail: _Tail | None, exceeding: int, size: int, observed: float, count: int) -> float:
    """Return the empirical p-value, or the fitted tail's beyond the tail threshold.

    `observed` is on the tail's side: negated for the lower tail; `count` is the tail's size.
    """
    empirical = (1.0 + exceeding) / (1.0 + size)
    if tail is None or exceeding >= count:
        return empirical
    return tail.probability * pareto_survival(observed - tail.threshold, tail.shape, tail.scale)


def pareto_survival(excess: float, shape: float, scale: float) -> float:
    """Return P(Y > excess) for Y ~ scipy.stats.genpareto(shape, scale=scale), shape >= 0."""
    if excess <= 0.0:
        return 1.0
    if shape == 0.0:
        return math.exp(-excess / scale)
    return (1.0 + shape * excess / scale) ** (-1.0 / shape)


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


def fit_generalised_pareto(excess: np.ndarray, *, clusters: int | None = None) -> tuple[float, float]:
    """Fit shape and scale to ascending exceedances by probability-weighted moments.

    Hosking and Wallis (1987), "Parameter and quantile estimation for the generalized Pareto
    distribution", Technometrics 29(3). With `clusters` (the number of independent runs of
    exceedances), the shape is raised by (1 + shape) / sqrt(clusters). The shape is then held
    in [0, MAX_TAIL_SHAPE] and the scale refitted to the mean excess, sigma = mean * (1 - shape).

    NOTE: (1 + shape) / sqrt(n) is the asymptotic standard error of the maximum-likelihood
    shape estimate from n independent exceedances, used here as an approximation for this one.
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
    shape = max(shape, 0.0)
    if clusters is not None:
        shape += (1.0 + shape) / math.sqrt(max(1, min(clusters, count)))
    shape = min(shape, MAX_TAIL_SHAPE)
    return shape, mean * (1.0 - shape)
