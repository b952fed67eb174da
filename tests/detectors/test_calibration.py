"""On anomaly-free, autocorrelated, heavy-tailed data, about 1% of p-values fall below 0.01."""

import numpy as np
import pytest
from detector_series import DAY, MINUTE, autocorrelated_series

from detectors import DetectorSettings, adjust_p_values, evaluate

# Evaluations start 30 minutes apart, so successive windows do not overlap.
EVALUATION_SPACING = 30


def collect_p_values(name: str, *, series: int, evaluations: int, daily_amplitude: float):
    settings = DetectorSettings.for_detector(name, baseline=4 * DAY)
    p_values = []
    for seed in range(series):
        times, values = autocorrelated_series(days=5.0, seed=seed, daily_amplitude=daily_amplitude)
        first = int(4 * DAY / MINUTE)
        for step in range(evaluations):
            now = times[first + step * EVALUATION_SPACING]
            p_values.append(evaluate(times, values, now=now, settings=settings).p_value)
    return np.array(p_values)


@pytest.mark.parametrize(
    ("name", "series", "daily_amplitude"),
    [("sigma", 40, 0.0), ("mad", 40, 0.0), ("seasonal", 20, 10.0)],
)
def test_p_values_calibrated(name, series, daily_amplitude):
    p_values = collect_p_values(name, series=series, evaluations=40, daily_amplitude=daily_amplitude)

    high_share = float(np.mean(p_values < 0.01))
    medium_share = float(np.mean(p_values < 0.05))
    assert 0.003 <= high_share <= 0.02
    assert 0.02 <= medium_share <= 0.08


def test_benjamini_hochberg_known_values():
    p_values = np.array([0.01, 0.04, 0.03, 0.005, np.nan])

    adjusted = adjust_p_values(p_values)

    assert adjusted[3] == pytest.approx(0.02)
    assert adjusted[0] == pytest.approx(0.02)
    assert adjusted[2] == pytest.approx(0.04)
    assert adjusted[1] == pytest.approx(0.04)
    assert np.isnan(adjusted[4])


def test_benjamini_hochberg_never_below_raw():
    rng = np.random.default_rng(0)
    p_values = rng.uniform(size=(20, 50))

    adjusted = adjust_p_values(p_values)

    assert adjusted.shape == p_values.shape
    assert np.all(adjusted >= p_values)
    assert np.all(adjusted <= 1.0)


def test_benjamini_hochberg_empty():
    assert adjust_p_values(np.array([])).size == 0
