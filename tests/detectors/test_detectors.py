import math

import numpy as np
import pytest
from detector_series import MINUTE, daily_series, noise_series, shifted

from detectors import DETECTOR_NAMES, DetectorSettings, evaluate

LEVEL_DETECTORS = ["sigma", "mad", "iqr", "seasonal", "basic", "agile", "robust", "adaptive", "ensemble"]


@pytest.mark.parametrize("name", LEVEL_DETECTORS)
def test_level_detector_finds_spike(name):
    times, values = noise_series()
    values = shifted(values, last=3, by=60.0)

    result = evaluate(times, values, now=times[-1], settings=DetectorSettings.for_detector(name))

    assert result.status == "anomaly"
    assert result.detector == name
    assert result.anomaly is not None
    assert result.anomaly.kind == "spike"
    assert result.tier == "high"


@pytest.mark.parametrize("name", LEVEL_DETECTORS)
def test_level_detector_quiet_on_noise(name):
    times, values = noise_series(seed=3)

    result = evaluate(times, values, now=times[-1], settings=DetectorSettings.for_detector(name))

    assert result.status == "normal"


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_every_detector_skips_flat_baseline(name):
    times, _ = noise_series(days=8)
    values = np.full(times.size, 7.0)
    settings = DetectorSettings.for_detector(name, window=3600.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "skipped"
    assert result.reason == "no variance"


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_every_detector_skips_all_nan(name):
    times, _ = noise_series(days=2)
    values = np.full(times.size, np.nan)
    settings = DetectorSettings.for_detector(name, window=3600.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "skipped"
    assert result.reason == "no data"


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_every_detector_skips_short_history(name):
    times, values = noise_series(days=0.05)
    settings = DetectorSettings.for_detector(name, window=600.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "skipped"
    assert result.reason == "insufficient history"


def test_mad_ignores_baseline_outliers():
    times, values = noise_series(sigma=1.0)
    values[-3000:-2700] = -1e6
    values = shifted(values, last=5, by=6.0)

    sigma = evaluate(times, values, now=times[-1])
    mad = evaluate(times, values, now=times[-1], settings=DetectorSettings.for_detector("mad"))

    assert sigma.status == "normal"
    assert mad.status == "anomaly"


def test_mad_with_mostly_constant_baseline():
    times, _ = noise_series()
    values = np.zeros(times.size)
    values[::7] = 1.0
    values = shifted(values, last=5, by=10.0)

    result = evaluate(times, values, now=times[-1], settings=DetectorSettings.for_detector("mad"))

    assert result.status == "anomaly"


def test_iqr_fences_in_details():
    times, values = noise_series(level=100.0, sigma=5.0)
    values = shifted(values, last=5, by=40.0)

    result = evaluate(times, values, now=times[-1], settings=DetectorSettings.for_detector("iqr"))

    assert result.anomaly is not None
    upper_fence = result.anomaly.details["upper_fence"]
    q3 = result.anomaly.details["q3"]
    assert upper_fence == pytest.approx(q3 + 1.5 * (q3 - result.anomaly.details["q1"]))
    assert upper_fence == pytest.approx(100.0 + 0.674 * 5.0 + 1.5 * 1.349 * 5.0, rel=0.05)


def test_drop_detector_ignores_spikes():
    times, values = noise_series()
    settings = DetectorSettings.for_detector("drop")

    spike = evaluate(times, shifted(values, last=5, by=60.0), now=times[-1], settings=settings)
    drop = evaluate(times, shifted(values, last=5, by=-15.0), now=times[-1], settings=settings)

    assert spike.status == "normal"
    assert drop.status == "anomaly"
    assert drop.anomaly is not None
    assert drop.anomaly.kind == "drop"
    assert settings.lower_bound == 2.0


def test_seasonal_follows_daily_cycle():
    times, values = daily_series()
    # At the daily peak, a value that is normal then but far above the mean.
    now_index = int(np.argmin(np.abs(((times - times[0]) % 86400) - 0.25 * 86400)) + 7 * 1440)
    now = times[now_index]
    settings = DetectorSettings.for_detector("seasonal")

    seasonal = evaluate(times, values, now=now, settings=settings)

    assert seasonal.status == "normal"
    assert seasonal.expected == pytest.approx(values[now_index - 4 : now_index + 1].mean(), abs=3)


def test_seasonal_detects_spike_at_trough():
    times, values = daily_series()
    values = shifted(values, last=5, by=15.0)
    settings = DetectorSettings.for_detector("seasonal")

    sigma = evaluate(times, values, now=times[-1])
    seasonal = evaluate(times, values, now=times[-1], settings=settings)

    assert sigma.status == "normal"
    assert seasonal.status == "anomaly"
    assert seasonal.anomaly is not None
    assert seasonal.anomaly.details["seasonality"] == "daily"


def test_seasonal_auto_picks_none_for_noise():
    times, values = noise_series()
    values = shifted(values, last=5, by=60.0)
    settings = DetectorSettings.for_detector("seasonal")

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.anomaly is not None
    assert result.anomaly.details["seasonality"] == "none"


def test_seasonal_weekly_needs_two_weeks():
    times, values = daily_series(days=8)
    values = shifted(values, last=5, by=30.0)
    settings = DetectorSettings.for_detector("seasonal", seasonality="weekly")

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.anomaly is not None
    assert result.anomaly.details["seasonality"] == "daily"


def test_seasonal_weekly_profile_in_timezone():
    times, noise = noise_series(days=22, level=0.0, sigma=1.0)
    local = times + 2 * 3600.0  # Europe/Berlin in summer; START is in November (UTC+1)
    weekend = ((np.floor(local / 86400) + 3) % 7) >= 5
    values = 10.0 + 40.0 * weekend + noise
    settings = DetectorSettings.for_detector("seasonal", baseline=21 * 86400.0, timezone="Europe/Berlin")

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "normal"


def test_agile_adapts_to_level_shift():
    times, values = daily_series()
    values = shifted(values, last=240, by=15.0)
    seasonal = DetectorSettings.for_detector("seasonal")
    agile = DetectorSettings.for_detector("agile")

    assert evaluate(times, values, now=times[-1], settings=seasonal).status == "anomaly"
    assert evaluate(times, values, now=times[-1], settings=agile).status == "normal"


def test_trend_reports_slope_and_capacity():
    times, values = daily_series()
    values[-120:] += np.linspace(0.0, 30.0, 120)
    settings = DetectorSettings(detector="trend", window=3600.0, capacity=200.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "anomaly"
    assert result.anomaly is not None
    assert result.anomaly.kind == "trend"
    assert result.anomaly.direction == "above"
    details = result.anomaly.details
    assert details["slope_per_hour"] == pytest.approx(15.0, rel=0.4)
    remaining = 200.0 - details["level"]
    assert details["time_to_capacity"] == pytest.approx(remaining / details["slope_per_hour"] * 3600)


def test_trend_quiet_on_seasonal_noise():
    times, values = daily_series(seed=9)
    settings = DetectorSettings(detector="trend", window=3600.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "normal"


def test_falling_trend_without_capacity_time():
    times, values = daily_series()
    values[-120:] -= np.linspace(0.0, 30.0, 120)
    settings = DetectorSettings(detector="trend", window=3600.0, capacity=200.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.anomaly is not None
    assert result.anomaly.direction == "below"
    assert "time_to_capacity" not in result.anomaly.details


def test_oscillation_finds_new_period():
    times, values = daily_series()
    values[-120:] += 5.0 * np.sin(2 * np.pi * times[-120:] / 600.0)
    settings = DetectorSettings(detector="oscillation", window=7200.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "anomaly"
    assert result.anomaly is not None
    assert result.anomaly.kind == "oscillation"
    assert result.anomaly.details["period"] == pytest.approx(600.0, rel=0.1)
    assert result.anomaly.amplitude == pytest.approx(5.0, rel=0.3)


def test_oscillation_quiet_on_noise():
    times, values = daily_series(seed=11)
    settings = DetectorSettings(detector="oscillation", window=7200.0)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "normal"


def test_oscillation_short_window_skipped():
    times, values = daily_series()
    settings = DetectorSettings(detector="oscillation", window=5 * MINUTE)

    result = evaluate(times, values, now=times[-1], settings=settings)

    assert result.status == "skipped"
    assert result.reason == "insufficient history"


def test_details_are_floats_or_strings():
    times, values = daily_series()
    values[-120:] += np.linspace(0.0, 30.0, 120)
    for name in DETECTOR_NAMES:
        settings = DetectorSettings.for_detector(name, window=3600.0, capacity=500.0)
        result = evaluate(times, values, now=times[-1], settings=settings)
        if result.anomaly is None:
            continue
        for key, value in result.anomaly.details.items():
            assert isinstance(value, float | str), (name, key, value)
            assert not (isinstance(value, float) and math.isnan(value)), (name, key)


def test_ensemble_p_value_is_bonferroni():
    times, values = daily_series()
    values = shifted(values, last=3, by=15.0)

    result = evaluate(times, values, now=times[-1], settings=DetectorSettings.for_detector("ensemble"))

    assert result.anomaly is not None
    details = result.anomaly.details
    assert details["test"] in ("seasonal", "density", "tail")
    assert result.p_value == pytest.approx(min(1.0, 3.0 * details["test_p_value"]))


def test_ensemble_drop_below_range():
    times, values = daily_series(amplitude=20.0, sigma=2.0)
    values = shifted(values, last=1, by=-80.0)

    result = evaluate(times, values, now=times[-1], settings=DetectorSettings.for_detector("ensemble"))

    assert result.status == "anomaly"
    assert result.tier == "high"
    assert result.anomaly is not None
    assert result.anomaly.kind == "drop"


def test_ensemble_quiet_at_daily_highs_and_lows():
    times, values = daily_series(days=9.0, amplitude=30.0, sigma=2.0, seed=12)
    settings = DetectorSettings.for_detector("ensemble")
    phase = (times / 86400.0) % 1.0
    near_extreme = (np.abs(phase - 0.25) < 0.01) | (np.abs(phase - 0.75) < 0.01)
    extremes = np.flatnonzero((times > times[0] + 7 * 86400.0) & near_extreme)

    results = [evaluate(times, values, now=times[index], settings=settings) for index in extremes[::5]]

    assert len(results) > 20
    assert [result.status for result in results] == ["normal"] * len(results)
