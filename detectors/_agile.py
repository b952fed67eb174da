"""The `agile` alias: the seasonal profile, re-levelled to the recent past.

Before testing, the expectation moves by the mean residual of the span just before the alert
window (AGILE_SPAN_WINDOWS window widths, at least AGILE_MIN_SPAN seconds). A level shift
therefore stops alerting once it has lasted that span, as Datadog's "agile" algorithm
adapts to level shifts. The null distribution is built the same way, from the window-mean
residual minus the residual of the span before it, over the baseline. The p-value always
tests the window mean, also when `min_fraction` > 0.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detectors._level import LevelModel, evaluate_level
from detectors._pvalues import NullDistribution
from detectors._results import Evaluation
from detectors._seasonal import fit_seasonal_with_residuals
from detectors._series import SeriesSplit, interval_means
from detectors._settings import DetectorSettings

AGILE_SPAN_WINDOWS = 4.0
AGILE_MIN_SPAN = 3600.0


def level_span(settings: DetectorSettings) -> float:
    """Return the length in seconds of the span that sets the recent level."""
    return max(AGILE_MIN_SPAN, AGILE_SPAN_WINDOWS * settings.window)


def fit_agile(split: SeriesSplit, settings: DetectorSettings) -> LevelModel | None:
    """Fit the seasonal model and replace its null with the re-levelled one."""
    fitted = fit_seasonal_with_residuals(split, settings)
    if fitted is None:
        return None
    model, residuals = fitted
    standardised = residuals / model.scale
    times = split.baseline_times
    span = level_span(settings)
    window_means, window_counts = interval_means(times, standardised, times - settings.window, times)
    level_means, level_counts = interval_means(
        times, standardised, times - settings.window - span, times - settings.window
    )
    usable = (times - settings.window - span >= split.baseline_start) & (window_counts > 0) & (level_counts > 0)
    null = NullDistribution(window_means[usable] - level_means[usable], conservative=settings.conservative_tail)
    return replace(
        model,
        null_mean=null,
        null_high=None,
        null_low=None,
        details={**model.details, "level_span": span},
    )


def evaluate_agile(split: SeriesSplit, settings: DetectorSettings, model: LevelModel, name: str) -> Evaluation:
    """Evaluate with the expectation moved to the level of the span before the window."""
    span = level_span(settings)
    start = split.window_start - span
    first = int(np.searchsorted(split.times, start, side="right"))
    stop = int(np.searchsorted(split.times, split.window_start, side="right"))
    level = 0.0
    if stop > first:
        recent_times = split.times[first:stop]
        level = float(np.mean(split.values[first:stop] - model.expected_at(recent_times)))

    base = model.expected_at
    shifted = replace(
        model,
        expected_at=lambda times: base(times) + level,
        details={**model.details, "recent_level": level},
    )
    return evaluate_level(split, settings, shifted, name=name)
