import math

import numpy as np
import pytest
from detector_series import MINUTE, noise_series, shifted

from detectors import DetectorSettings, evaluate, tier_for


def test_spike_is_high_tier_anomaly():
    times, values = noise_series()
    values = shifted(values, last=3, by=60.0)

    result = evaluate(times, values, now=times[-1])

    assert result.status == "anomaly"
    assert result.tier == "high"
    assert result.anomaly is not None
    assert result.anomaly.kind == "spike"
    assert result.anomaly.direction == "above"
    assert result.anomaly.shape == "burst"
    assert result.anomaly.start == times[-3]
    assert result.deviation > 3.0
    assert result.p_value < 0.01


def test_spike_amplitude_in_metric_units():
    times, values = noise_series(level=100.0, sigma=5.0)
    values = shifted(values, last=5, by=50.0)

    result = evaluate(times, values, now=times[-1])

    assert result.anomaly is not None
    assert result.anomaly.amplitude == pytest.approx(50.0, abs=5.0)
    assert result.expected == pytest.approx(100.0, abs=0.5)
    assert result.baseline_std == pytest.approx(5.0, rel=0.05)


def test_sustained_spike_shape():
    times, values = noise_series()
    values = shifted(values, last=30, by=60.0)

    result = evaluate(times, values, now=times[-1])

    assert result.anomaly is not None
    assert result.anomaly.shape == "sustained"
    assert result.anomaly.duration == pytest.approx(30 * MINUTE)


def test_drop_is_kind_drop():
    times, values = noise_series()
    values = shifted(values, last=5, by=-60.0)

    result = evaluate(times, values, now=times[-1])

    assert result.status == "anomaly"
    assert result.anomaly is not None
    assert result.anomaly.kind == "drop"
    assert result.anomaly.direction == "below"
    assert result.anomaly.shape is None
    assert result.deviation < -3.0


def test_noise_only_is_normal():
    times, values = noise_series(seed=3)

    result = evaluate(times, values, now=times[-1])

    assert result.status == "normal"
    assert result.anomaly is None
    assert abs(result.deviation) < 3.0


def test_flat_baseline_skipped_no_variance():
    times, _ = noise_series(days=2)
    values = np.full(times.size, 42.0)

    result = evaluate(times, values, now=times[-1])

    assert result.status == "skipped"
    assert result.reason == "no variance"
    assert result.p_value == 1.0
    assert result.deviation == 0.0
    assert result.tier == "low"


def test_all_nan_skipped_no_data():
    times, _ = noise_series(days=2)
    values = np.full(times.size, np.nan)

    result = evaluate(times, values, now=times[-1])

    assert result.status == "skipped"
    assert result.reason == "no data"
    assert math.isnan(result.current)


def test_empty_series_skipped_no_data():
    result = evaluate(np.empty(0), np.empty(0), now=1e9)

    assert result.status == "skipped"
    assert result.reason == "no data"


def test_short_history_skipped():
    times, values = noise_series(days=0.05)

    result = evaluate(times, values, now=times[-1])

    assert result.status == "skipped"
    assert result.reason == "insufficient history"


def test_infinite_values_ignored():
    times, values = noise_series(seed=3)
    values[-2] = np.inf
    values[-4] = -np.inf
    values[1000:1010] = np.inf

    result = evaluate(times, values, now=times[-1])

    assert result.status == "normal"
    assert math.isfinite(result.current)
    assert math.isfinite(result.baseline_std)


def test_only_infinite_window_is_no_data():
    times, values = noise_series(days=2)
    values[-5:] = np.inf

    result = evaluate(times, values, now=times[-1])

    assert result.status == "skipped"
    assert result.reason == "no data"


def test_direction_above_ignores_drop():
    times, values = noise_series()
    values = shifted(values, last=5, by=-60.0)
    settings = DetectorSettings(direction="above")

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "normal"
    assert result.deviation < -3.0
    assert result.p_value > 0.5


def test_direction_below_ignores_spike():
    times, values = noise_series()
    values = shifted(values, last=5, by=60.0)
    settings = DetectorSettings(direction="below")

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "normal"


def test_future_points_ignored():
    times, values = noise_series()
    values = shifted(values, last=5, by=60.0)
    now = times[-6]

    result = evaluate(times, values, now=now)

    assert result.status == "normal"
    assert result.evaluated_at == now


def test_lower_threshold_separate_from_upper():
    times, values = noise_series(sigma=5.0)
    values = shifted(values, last=5, by=-15.0)
    strict = DetectorSettings(lower_threshold=4.0)
    loose = DetectorSettings(lower_threshold=2.0)

    assert evaluate(times, values, now=times[-1], settings=strict).status == "normal"
    assert evaluate(times, values, now=times[-1], settings=loose).status == "anomaly"


def test_min_fraction_needs_most_points_beyond():
    times, values = noise_series()
    values = shifted(values, last=1, by=200.0)
    settings = DetectorSettings(min_fraction=0.6)

    by_mean = evaluate(times, values, now=times[-1])
    by_fraction = evaluate(times, values, now=times[-1], settings=settings)

    assert by_mean.status == "anomaly"
    assert by_fraction.status == "normal"


def test_min_fraction_detects_level_shift():
    times, values = noise_series()
    values = shifted(values, last=5, by=40.0)
    settings = DetectorSettings(min_fraction=0.6)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "anomaly"
    assert result.tier == "high"


def test_baseline_offset_moves_baseline():
    times, values = noise_series(days=8)
    # A level that held only in the last day: with a one-day offset it is not in the baseline.
    values = shifted(values, last=1440, by=60.0)
    settings = DetectorSettings(baseline=6 * 86400.0, baseline_offset=86400.0 - 300.0)

    without_offset = evaluate(times, values, now=times[-1])
    with_offset = evaluate(times, values, now=times[-1], settings=settings)

    assert with_offset.status == "anomaly"
    assert with_offset.deviation > without_offset.deviation


def test_irregular_timestamps():
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.uniform(20.0, 100.0, size=12_000)) + 1.7e9
    values = 10.0 + rng.standard_normal(times.size)
    values[-4:] += 12.0

    result = evaluate(times, values, now=times[-1])

    assert result.status == "anomaly"
    assert result.anomaly is not None
    assert result.anomaly.kind == "spike"


def test_unsorted_timestamps_rejected():
    times = np.array([3.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="ascending"):
        evaluate(times, np.ones(3), now=10.0)


def test_mismatched_lengths_rejected():
    with pytest.raises(ValueError, match="equal length"):
        evaluate(np.arange(3.0), np.ones(4), now=10.0)


@pytest.mark.parametrize(
    ("p_value", "tier"),
    [
        (0.0, "high"),
        (0.0099, "high"),
        (0.01, "medium"),
        (0.049, "medium"),
        (0.05, "low"),
        (1.0, "low"),
        (float("nan"), "low"),
    ],
)
def test_tier_for_boundaries(p_value, tier):
    assert tier_for(p_value) == tier


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("detector", "nope"),
        ("window", 0.0),
        ("threshold", -1.0),
        ("direction", "up"),
        ("min_fraction", 1.5),
        ("min_samples", 0),
        ("seasonality", "hourly"),
        ("timezone", "Mars/Olympus"),
        ("baseline_offset", -1.0),
        ("capacity", float("inf")),
    ],
)
def test_invalid_settings_rejected(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        DetectorSettings(**{field: value})
