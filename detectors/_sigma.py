"""The `sigma` detector: window mean against the baseline mean, in baseline standard deviations.

It reproduces the PromQL rule
`(avg_over_time(x[5m]) - avg_over_time(x[7d] offset 5m)) / stddev_over_time(x[7d] offset 5m)`,
with the window, baseline and offset taken from the settings, and the population standard
deviation as `stddev_over_time` uses. It assumes a baseline without seasonality: on a metric
with a daily cycle, use `seasonal`.
"""

from __future__ import annotations

import numpy as np

from detectors._level import LevelModel, baseline_moments, build_level_model, is_flat
from detectors._series import SeriesSplit
from detectors._settings import DetectorSettings


def fit_sigma(split: SeriesSplit, settings: DetectorSettings) -> LevelModel | None:
    """Fit the baseline mean and standard deviation, or return None for a flat baseline."""
    mean, std = baseline_moments(split)
    if is_flat(std, mean):
        return None
    return build_level_model(
        split,
        settings,
        expected_at=lambda times: np.full(times.shape, mean),
        scale=std,
        baseline_residuals=split.baseline_values - mean,
        upper_bound=settings.threshold,
        lower_bound=settings.lower_bound,
    )
