"""The `ensemble` detector: three level tests on one baseline, combined by Bonferroni.

The tests, each with its own empirical null distribution from the baseline:

- `seasonal`: the alert window's mean residual from the seasonal profile, as the `seasonal`
  detector computes it. It finds spikes and drops against the time of day (or week).
- `density`: the same residuals averaged over DENSITY_WINDOW_FACTOR alert windows (at least
  DENSITY_MIN_WINDOW seconds). Spikes that come more often than in the baseline, or a level
  shift too small for one window, move this mean before any single window crosses the bound.
- `tail`: the window mean of the raw values against every baseline window, without a
  profile. It is distribution-free and finds values outside the range the baseline ever
  reached, where a profile fitted to a changing metric may have moved with them. It counts
  only when the seasonal residual crosses the bound on the same side; otherwise a daily
  cycle's high would alert every day.

The combined p-value is min(1, 3 * min(p_seasonal, p_density, p_tail)). The Bonferroni factor 3
keeps it valid whatever the dependence between the tests. A profile test counts only when its
deviation crosses the bound (`threshold` sigma), as in `seasonal`. The evaluation reports the
deciding test's numbers and names it in `details["test"]`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from detectors._level import LevelModel, build_level_model, evaluate_level, is_flat
from detectors._results import Evaluation, tier_for
from detectors._robust import robust_scale
from detectors._seasonal import fit_seasonal_with_residuals
from detectors._series import SeriesSplit
from detectors._settings import DetectorSettings

DENSITY_WINDOW_FACTOR = 12.0
DENSITY_MIN_WINDOW = 3600.0
TEST_NAMES = ("seasonal", "density", "tail")


@dataclass(frozen=True)
class EnsembleModel:
    """The fitted model of each test, None for a test whose baseline is flat."""

    seasonal: LevelModel | None
    density: LevelModel | None
    tail: LevelModel | None


def density_window(settings: DetectorSettings) -> float:
    """Return the width in seconds of the density test's window."""
    return max(DENSITY_MIN_WINDOW, DENSITY_WINDOW_FACTOR * settings.window)


def fit_ensemble(split: SeriesSplit, settings: DetectorSettings) -> EnsembleModel | None:
    """Fit the three tests, or return None when every one has a flat baseline."""
    seasonal = density = None
    fitted = fit_seasonal_with_residuals(split, settings)
    if fitted is not None:
        seasonal, residuals = fitted
        density = build_level_model(
            split,
            settings.with_changes(window=density_window(settings)),
            expected_at=seasonal.expected_at,
            scale=seasonal.scale,
            baseline_residuals=residuals,
            upper_bound=seasonal.upper_bound,
            lower_bound=seasonal.lower_bound,
            details=seasonal.details,
        )
    tail = _fit_tail(split, settings)
    if seasonal is None and tail is None:
        return None
    return EnsembleModel(seasonal=seasonal, density=density, tail=tail)


def _fit_tail(split: SeriesSplit, settings: DetectorSettings) -> LevelModel | None:
    """Fit the distribution-free test: raw window means against the baseline's."""
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
        upper_bound=0.0,
        lower_bound=0.0,
        details={"baseline_median": median, "robust_sigma": scale},
    )


def evaluate_ensemble(split: SeriesSplit, settings: DetectorSettings, model: EnsembleModel, name: str) -> Evaluation:
    """Run the fitted tests on the alert window and return the deciding test's evaluation."""
    results: list[tuple[str, Evaluation, float]] = []
    seasonal = None
    if model.seasonal is not None:
        seasonal = evaluate_level(split, settings, model.seasonal, name=name)
        results.append(("seasonal", seasonal, _counted_p(seasonal)))
    if model.density is not None:
        wide = settings.with_changes(window=density_window(settings))
        density = evaluate_level(_widen(split, wide), wide, model.density, name=name)
        results.append(("density", density, _counted_p(density)))
    if model.tail is not None:
        tail = evaluate_level(split, settings, model.tail, name=name)
        results.append(("tail", tail, _tail_counted_p(tail, seasonal, model.seasonal)))

    test, deciding, smallest = min(results, key=lambda entry: entry[2])
    p_value = min(1.0, len(TEST_NAMES) * smallest)
    tier = tier_for(p_value)
    anomaly = deciding.anomaly
    if anomaly is not None:
        anomaly = replace(anomaly, details={**anomaly.details, "test": test, "test_p_value": smallest})
    if tier == "low" or (test == "tail" and anomaly is None):
        anomaly = None
    return replace(
        deciding,
        status="anomaly" if anomaly is not None else "normal",
        p_value=p_value,
        tier=tier,
        anomaly=anomaly,
    )


def _tail_counted_p(tail: Evaluation, seasonal: Evaluation | None, profile: LevelModel | None) -> float:
    """Return the tail test's p-value when the seasonal residual crosses its bound on the same side, else 1.

    At each day's high, the raw window is near the top of the baseline's range without being
    unusual for the time of day, so the raw test alone would alert every day.
    """
    if seasonal is None or profile is None:
        return tail.p_value
    above = tail.deviation > 0.0 and seasonal.deviation >= profile.upper_bound
    below = tail.deviation < 0.0 and seasonal.deviation <= -profile.lower_bound
    return tail.p_value if above or below else 1.0


def _counted_p(evaluation: Evaluation) -> float:
    """Return a profile test's p-value when its deviation crossed the bound, else 1."""
    return evaluation.p_value if evaluation.anomaly is not None else 1.0


def _widen(split: SeriesSplit, wide: DetectorSettings) -> SeriesSplit:
    """Return the split with its alert window widened to `wide.window`."""
    window_start = split.now - wide.window
    first = int(np.searchsorted(split.times, window_start, side="right"))
    return replace(split, window=slice(first, split.times.size), window_start=window_start)
