"""Entry point that routes one series to the detector named in its settings.

Each detector has two steps: `fit` builds a model from the baseline (None for a flat
baseline), and `test` evaluates the alert window with that model. Callers that evaluate
often, such as a backtest, may reuse one fitted model for several windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors._agile import evaluate_agile, fit_agile
from detectors._ensemble import evaluate_ensemble, fit_ensemble
from detectors._exclusions import without_excluded
from detectors._level import check_history, evaluate_level, no_variance
from detectors._oscillation import evaluate_oscillation, fit_oscillation
from detectors._results import Evaluation
from detectors._robust import fit_iqr, fit_mad
from detectors._seasonal import fit_seasonal
from detectors._series import SeriesSplit, split_clean, split_series
from detectors._settings import DetectorSettings
from detectors._sigma import fit_sigma
from detectors._trend import evaluate_trend, fit_trend

# The `adaptive` alias keeps only this much of the baseline (seconds), to follow recent data.
ADAPTIVE_BASELINE = 86400.0


@dataclass(frozen=True)
class Detector:
    """A detector's fit step and test step."""

    fit: Callable[[SeriesSplit, DetectorSettings], Any]
    test: Callable[[SeriesSplit, DetectorSettings, Any, str], Evaluation]


def _level_test(direction: str | None = None) -> Callable[..., Evaluation]:
    def test(split: SeriesSplit, settings: DetectorSettings, model: Any, name: str) -> Evaluation:
        return evaluate_level(split, settings, model, name=name, direction=direction)

    return test


def _fit_adaptive(split: SeriesSplit, settings: DetectorSettings) -> Any:
    return fit_mad(split, settings, baseline_limit=ADAPTIVE_BASELINE)


DETECTORS: dict[str, Detector] = {
    "sigma": Detector(fit_sigma, _level_test()),
    "mad": Detector(fit_mad, _level_test()),
    "iqr": Detector(fit_iqr, _level_test()),
    "seasonal": Detector(fit_seasonal, _level_test()),
    "trend": Detector(fit_trend, evaluate_trend),
    "oscillation": Detector(fit_oscillation, evaluate_oscillation),
    "drop": Detector(fit_sigma, _level_test("below")),
    "basic": Detector(fit_iqr, _level_test()),
    "agile": Detector(fit_agile, evaluate_agile),
    "robust": Detector(fit_seasonal, _level_test()),
    "adaptive": Detector(_fit_adaptive, _level_test()),
    "ensemble": Detector(fit_ensemble, evaluate_ensemble),
}

_DEFAULT_SETTINGS = DetectorSettings()


def fit_model(split: SeriesSplit, settings: DetectorSettings) -> Evaluation | Any:
    """Fit the settings' detector to the split's baseline.

    Returns the model, or a skipped Evaluation when the split has no window data, too little
    baseline or a flat baseline.
    """
    name = settings.detector
    early = check_history(split, settings, name=name)
    if early is not None:
        return early
    model = DETECTORS[name].fit(split, settings)
    if isinstance(model, Evaluation):
        return model
    if model is None:
        return no_variance(split, name=name)
    return model


def baseline_split(split: SeriesSplit, settings: DetectorSettings, excluded: np.ndarray | None) -> SeriesSplit:
    """Return the split to fit on: `split` without the excluded points of its baseline."""
    times, values = without_excluded(split.times, split.values, excluded)
    if times.size == split.times.size:
        return split
    return split_clean(times, values, now=split.now, settings=settings)


def test_window(split: SeriesSplit, settings: DetectorSettings, model: Any) -> Evaluation:
    """Evaluate the split's alert window with a model fitted earlier by `fit_model`."""
    name = settings.detector
    if split.window_values.size == 0:
        early = check_history(split, settings, name=name)
        if early is not None:
            return early
    return DETECTORS[name].test(split, settings, model, name)


def evaluate(
    timestamps: np.ndarray,
    values: np.ndarray,
    *,
    now: float,
    settings: DetectorSettings = _DEFAULT_SETTINGS,
    excluded: np.ndarray | None = None,
) -> Evaluation:
    """Evaluate the alert window that ends at `now` against its baseline.

    `timestamps` are ascending unix seconds, possibly irregular. `values` may contain NaN,
    +Inf or -Inf, which count as missing. Points after `now` are ignored. `excluded` lists
    timestamps to leave out of the baseline (see `Exclusions`). Raises ValueError when the
    arrays differ in shape or the timestamps are not ascending.
    """
    split = split_series(timestamps, values, now=now, settings=settings)
    model = fit_model(baseline_split(split, settings, excluded), settings)
    if isinstance(model, Evaluation):
        return model
    return test_window(split, settings, model)
