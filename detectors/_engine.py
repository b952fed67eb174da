"""Entry point that routes one series to the detector named in its settings."""

from __future__ import annotations

import numpy as np

from detectors._results import Evaluation
from detectors._series import split_series
from detectors._settings import DetectorSettings
from detectors._sigma import evaluate_sigma

_DEFAULT_SETTINGS = DetectorSettings()


def evaluate(
    timestamps: np.ndarray,
    values: np.ndarray,
    *,
    now: float,
    settings: DetectorSettings = _DEFAULT_SETTINGS,
) -> Evaluation:
    """Evaluate the alert window that ends at `now` against its baseline.

    `timestamps` are ascending unix seconds, possibly irregular. `values` may contain NaN,
    +Inf or -Inf, which count as missing. Points after `now` are ignored. Raises ValueError
    when the arrays differ in shape or the timestamps are not ascending.
    """
    split = split_series(timestamps, values, now=now, settings=settings)
    return evaluate_sigma(split, settings, name=settings.detector)
