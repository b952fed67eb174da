"""The `mad` and `iqr` detectors: robust baselines that a few outliers do not move.

`mad` centres on the baseline median and scales by the median absolute deviation (MAD)
times 1.4826, which equals the standard deviation for normal data. The window is anomalous
beyond k of those robust sigmas, with k = `threshold` (2.5 by default).

`iqr` uses Tukey's fences: anomalous above Q3 + k * IQR or below Q1 - k * IQR, with
k = `threshold` (1.5 by default) and IQR = Q3 - Q1 of the baseline. Its deviation is in
robust sigma IQR / 1.349, which equals the standard deviation for normal data.

When more than half of the baseline has one value, the MAD (or IQR) is 0. Both detectors
then fall back to the mean absolute deviation from the median times 1.2533, the standard
deviation's equivalent for normal data. A baseline where that is 0 too is "no variance".
"""

from __future__ import annotations

import numpy as np

from detectors._level import LevelModel, build_level_model, is_flat
from detectors._series import SeriesSplit, limit_baseline
from detectors._settings import DetectorSettings

MAD_TO_SIGMA = 1.4826
IQR_TO_SIGMA = 1.349
MEAN_ABSOLUTE_TO_SIGMA = 1.2533


def robust_scale(residuals: np.ndarray) -> float:
    """Return a robust sigma of residuals around 0: scaled MAD, else scaled mean deviation."""
    absolute = np.abs(residuals)
    scale = MAD_TO_SIGMA * float(np.median(absolute))
    if scale > 0.0:
        return scale
    return MEAN_ABSOLUTE_TO_SIGMA * float(np.mean(absolute))


def fit_mad(
    split: SeriesSplit, settings: DetectorSettings, *, baseline_limit: float | None = None
) -> LevelModel | None:
    """Fit median and robust sigma, or return None for a flat baseline.

    `baseline_limit` (seconds) keeps only the most recent part of the baseline, which the
    `adaptive` alias uses to follow recent behaviour.
    """
    if baseline_limit is not None:
        split = limit_baseline(split, baseline_limit)
    values = split.baseline_values
    median = float(np.median(values))
    scale = robust_scale(values - median)
    if is_flat(scale, median):
        return None
    return build_level_model(
        split,
        settings,
        expected_at=lambda at: np.full(at.shape, median),
        scale=scale,
        baseline_residuals=values - median,
        upper_bound=settings.threshold,
        lower_bound=settings.lower_bound,
        details={"baseline_median": median, "robust_sigma": scale},
    )


def fit_iqr(split: SeriesSplit, settings: DetectorSettings) -> LevelModel | None:
    """Fit the quartiles and Tukey's fences, or return None for a flat baseline."""
    values = split.baseline_values
    first, median, third = (float(q) for q in np.quantile(values, [0.25, 0.5, 0.75]))
    spread = third - first
    if spread <= 0.0:
        spread = IQR_TO_SIGMA * robust_scale(values - median)
    scale = spread / IQR_TO_SIGMA
    if is_flat(scale, median):
        return None
    upper_fence = third + settings.threshold * spread
    lower_fence = first - settings.lower_bound * spread
    return build_level_model(
        split,
        settings,
        expected_at=lambda at: np.full(at.shape, median),
        scale=scale,
        baseline_residuals=values - median,
        upper_bound=(upper_fence - median) / scale,
        lower_bound=(median - lower_fence) / scale,
        details={
            "baseline_median": median,
            "q1": first,
            "q3": third,
            "upper_fence": upper_fence,
            "lower_fence": lower_fence,
        },
    )
