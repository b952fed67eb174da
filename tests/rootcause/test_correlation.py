"""Residuals, cross-correlation lags, onsets and change shares on constructed series."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.correlation import (
    DAY,
    change_shares,
    cross_correlation,
    onset_index,
    resample,
    residuals,
)

STEP = 60.0


def _driver(size: int, *, seed: int) -> np.ndarray:
    """A wandering signal with structure at every scale, so only the true lag lines up."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(0.0, 1.0, size))


@pytest.mark.parametrize("lead", [0, 1, 3, 7, -4])
def test_lag_of_shifted_copy(lead):
    driver = _driver(200, seed=1)
    rng = np.random.default_rng(2)
    follower = np.roll(driver, lead) + rng.normal(0.0, 0.3, driver.size)
    follower[: max(lead, 0)] = np.nan
    if lead < 0:
        follower[lead:] = np.nan

    result = cross_correlation(follower, driver, max_lag=10)

    assert result is not None
    assert result.lag == lead
    assert result.correlation > 0.9
    assert result.p_value < 0.01


def test_lag_sign_means_other_leads():
    times = np.arange(120) * STEP
    database = np.where(times >= 60 * STEP, 1.0, 0.0) + 0.3 * np.sin(times / 400.0)
    api = np.roll(database, 3)
    api[:3] = database[0]

    result = cross_correlation(api, database, max_lag=10)

    assert result is not None
    assert result.lag == 3


def test_negative_correlation_keeps_sign():
    driver = _driver(150, seed=3)

    result = cross_correlation(-driver, driver, max_lag=5)

    assert result is not None
    assert result.lag == 0
    assert result.correlation == pytest.approx(-1.0)


def test_unrelated_noise_is_weak():
    rng = np.random.default_rng(4)
    first = rng.normal(size=300)
    second = rng.normal(size=300)

    result = cross_correlation(first, second, max_lag=10)

    assert result is not None
    assert abs(result.correlation) < 0.25
    assert result.p_value > 0.05


def test_burst_against_level_shift_is_weak():
    rng = np.random.default_rng(5)
    shift = np.where(np.arange(50) >= 30, 1.0, 0.0) + rng.normal(0.0, 0.05, 50)
    burst = np.zeros(50)
    burst[30:32] = 10.0

    result = cross_correlation(shift, burst, max_lag=10)

    assert result is not None
    assert abs(result.correlation) < 0.4


def test_cross_correlation_skips_gaps():
    driver = _driver(120, seed=6)
    copy = driver.copy()
    copy[10:40] = np.nan

    result = cross_correlation(copy, driver, max_lag=3)

    assert result is not None
    assert result.lag == 0
    assert result.overlap == 90


def test_cross_correlation_needs_overlap():
    assert cross_correlation(np.full(30, np.nan), np.arange(30.0), max_lag=2) is None
    assert cross_correlation(np.ones(30), np.arange(30.0), max_lag=2) is None


def test_cross_correlation_rejects_other_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        cross_correlation(np.ones(10), np.ones(11), max_lag=2)


def test_resample_leaves_gaps_empty():
    times = np.array([0.0, 60.0, 180.0, 240.0])
    values = np.array([1.0, 2.0, 4.0, np.nan])

    result = resample(times, values, np.arange(0.0, 300.0, 60.0), tolerance=30.0)

    assert result[0] == 1.0
    assert result[1] == 2.0
    assert np.isnan(result[2])
    assert result[3] == 4.0
    assert np.isnan(result[4])


def test_residuals_remove_daily_cycle():
    times = np.arange(0.0, 4 * DAY, STEP)
    rng = np.random.default_rng(7)
    values = 100.0 + 30.0 * np.sin(2 * np.pi * times / DAY) + rng.normal(0.0, 1.0, times.size)
    grid = np.arange(3.5 * DAY, 4 * DAY, STEP)

    result = residuals(times, values, grid, reference=(3.5 * DAY, 3.9 * DAY), tolerance=STEP / 2)

    assert result.method == "seasonal"
    assert np.nanstd(result.values) < 3.0
    assert 0.5 < result.scale < 3.0


def test_residuals_level_without_history():
    times = np.arange(0.0, 7200.0, STEP)
    values = np.full(times.size, 50.0) + np.random.default_rng(8).normal(0.0, 2.0, times.size)
    grid = np.arange(3600.0, 7200.0, STEP)

    result = residuals(times, values, grid, reference=(0.0, 3600.0), tolerance=STEP / 2)

    assert result.method == "level"
    assert abs(float(np.nanmedian(result.values))) < 1.0


def test_residuals_without_reference_points():
    times = np.arange(3600.0, 7200.0, STEP)

    result = residuals(times, np.ones(times.size), times, reference=(0.0, 3600.0), tolerance=STEP / 2)

    assert result.method == "none"
    assert np.isnan(result.values).all()


def test_onset_needs_two_points_beyond_threshold():
    residual = np.array([0.0, 0.5, 4.0, 0.0, 3.5, 3.2, 5.0])

    assert onset_index(residual, after=0, scale=1.0) == 4
    assert onset_index(residual, after=0, scale=0.0) is None
    assert onset_index(-residual, after=5, scale=1.0) == 5


def test_change_shares_follow_direction():
    deltas = np.array([6.0, 3.0, 1.0, -2.0, np.nan])

    rising = change_shares(deltas, direction=1.0)
    falling = change_shares(deltas, direction=-1.0)

    assert rising.tolist() == pytest.approx([0.6, 0.3, 0.1, 0.0, 0.0])
    assert falling.tolist() == pytest.approx([0.0, 0.0, 0.0, 1.0, 0.0])
    assert change_shares(np.array([-1.0, -2.0]), direction=1.0).tolist() == [0.0, 0.0]
