"""The `sigma` detector: window mean against the baseline mean, in baseline standard deviations.

It reproduces the PromQL rule
`(avg_over_time(x[5m]) - avg_over_time(x[7d] offset 5m)) / stddev_over_time(x[7d] offset 5m)`,
with the window, baseline and offset taken from the settings, and the population standard
deviation as `stddev_over_time` uses. It assumes a baseline without seasonality: on a metric
with a daily cycle, use `seasonal`.
"""

from __future__ import annotations

import numpy as np

from detectors._level import LevelModel, baseline_moments, check_history, evaluate_level, is_flat
from detectors._results import Evaluation, skipped
from detectors._series import SeriesSplit
from detectors._settings import DetectorSettings


def fit_sigma(split: SeriesSplit, settings: DetectorSettings) -> LevelModel | None:
    """Fit the baseline mean and standard deviation, or return None for a flat baseline."""
    mean, std = baseline_moments(split)
    if is_flat(std, mean):
        return None
    return LevelModel(
        expected=np.full(split.values.size, mean),
        scale=std,
        upper_bound=settings.threshold,
        lower_bound=settings.lower_bound,
        baseline_mean=mean,
        baseline_std=std,
    )


def evaluate_sigma(split: SeriesSplit, settings: DetectorSettings, *, name: str) -> Evaluation:
    """Evaluate the split with the sigma detector; see the module docstring."""
    early = check_history(split, settings, name=name)
    if early is not None:
        return early
    model = fit_sigma(split, settings)
    if model is None:
        mean, std = baseline_moments(split)
        return skipped(
            reason="no variance", detector=name, now=split.now, baseline_mean=mean, baseline_std=std
        )
    return evaluate_level(split, settings, model, name=name)
