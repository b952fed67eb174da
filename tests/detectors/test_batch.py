import numpy as np
import pytest
from detector_series import MINUTE, START

from detectors import DetectorSettings, SeasonalBank, SigmaBank, evaluate, evaluate_many
from detectors._pvalues import count_clusters, fit_generalised_pareto, tail_size

SETTINGS = DetectorSettings(baseline=2 * 86400.0)


def grid_history(series: int = 30, days: float = 3.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    steps = int(days * 86400 / MINUTE)
    times = START + MINUTE * np.arange(steps)
    drift = 0.1 * rng.standard_normal((series, steps)).cumsum(axis=1)
    values = 50.0 + drift + rng.standard_normal((series, steps))
    return times, values


def test_batch_matches_single_series():
    times, values = grid_history()
    values[3, -3:] += 30.0
    values[4, -5:] -= 30.0
    values[5, :] = np.nan
    values[6, :] = 7.0
    values[7, -6:] = np.nan
    values[8, 100:200] = np.inf

    batch = evaluate_many(times, values, settings=SETTINGS)

    for row in range(values.shape[0]):
        single = evaluate(times, values[row], now=times[-1], settings=SETTINGS)
        assert batch.status[row] == single.status, row
        assert batch.deviation[row] == pytest.approx(single.deviation, abs=1e-9), row
        assert batch.p_value[row] == pytest.approx(single.p_value, rel=1e-3, abs=1e-9), row
        assert batch.tier[row] == single.tier, row
    assert batch.kind[3] == "spike"
    assert batch.kind[4] == "drop"
    assert batch.reason[5] == "no data"
    assert batch.reason[6] == "no variance"
    assert batch.reason[7] == "no data"


def test_append_matches_rebuild():
    times, values = grid_history(series=10)
    values[2, -2:] += 40.0
    bank = SigmaBank.from_history(times[:-30], values[:, :-30], settings=SETTINGS)

    for column in range(values.shape[1] - 30, values.shape[1]):
        appended = bank.append(float(times[column]), values[:, column])

    rebuilt = evaluate_many(times, values, settings=SETTINGS)
    assert np.allclose(appended.deviation, rebuilt.deviation, atol=1e-9)
    assert np.allclose(appended.p_value, rebuilt.p_value, rtol=1e-6)
    assert list(appended.status) == list(rebuilt.status)


def test_append_rejects_skipped_step():
    times, values = grid_history(series=2)
    bank = SigmaBank.from_history(times, values, settings=SETTINGS)

    with pytest.raises(ValueError, match="one step"):
        bank.append(float(times[-1] + 2 * MINUTE), values[:, -1])


def test_batch_rejects_uneven_grid():
    times, values = grid_history(series=2)
    times = times.copy()
    times[10] += 1.0

    with pytest.raises(ValueError, match="evenly spaced"):
        evaluate_many(times, values, settings=SETTINGS)


def test_batch_short_history_skipped():
    times, values = grid_history(series=3, days=0.05)

    batch = evaluate_many(times, values, settings=SETTINGS)

    assert list(batch.reason) == ["insufficient history"] * 3


def daily_grid(series: int = 20, days: float = 4.0, seed: int = 1):
    rng = np.random.default_rng(seed)
    steps = int(days * 86400 / MINUTE)
    times = START + MINUTE * np.arange(steps)
    cycle = 20.0 * np.sin(2 * np.pi * times / 86400.0)
    values = 50.0 + cycle[None, :] + rng.standard_normal((series, steps))
    return times, values


def test_seasonal_bank_follows_daily_cycle():
    times, values = daily_grid()
    values[1, -3:] += 12.0
    settings = DetectorSettings(detector="seasonal", baseline=3 * 86400.0)
    history = values.shape[1] - 60
    bank = SeasonalBank.from_history(times[:history], values[:, :history], settings=settings)

    for column in range(history, values.shape[1]):
        result = bank.append(float(times[column]), values[:, column])

    assert result.status[1] == "anomaly"
    assert result.kind[1] == "spike"
    assert np.count_nonzero(result.status == "anomaly") == 1
    expected = 50.0 + 20.0 * np.sin(2 * np.pi * times[-5:] / 86400.0)
    assert result.expected[0] == pytest.approx(expected.mean(), abs=1.0)


def test_crossing_only_leaves_others_nan():
    times, values = grid_history(series=5)
    values[0, -3:] += 40.0
    bank = SigmaBank.from_history(times[:-1], values[:, :-1], settings=SETTINGS)

    result = bank.append(float(times[-1]), values[:, -1], crossing_only=True)

    assert result.crossed[0]
    assert result.p_value[0] < 0.01
    assert np.all(np.isnan(result.p_value[1:]))


def weekly_grid(series: int = 5, days: float = 18.6, seed: int = 2):
    rng = np.random.default_rng(seed)
    steps = int(days * 86400 / MINUTE)
    times = START + MINUTE * np.arange(steps)
    weekend = ((np.floor(times / 86400.0) + 3) % 7) >= 5
    values = 50.0 + 30.0 * weekend[None, :] + rng.standard_normal((series, steps))
    return times, values


def test_seasonal_bank_weekly_profile():
    times, values = weekly_grid()
    # START + 18.6 days is a Sunday at 12:37 UTC, so the last points are weekend values.
    values[2, -3:] += 12.0
    history = values.shape[1] - 60
    settings = DetectorSettings(detector="seasonal", baseline=15 * 86400.0, seasonality="weekly")

    bank = SeasonalBank.from_history(times[:history], values[:, :history], settings=settings)
    for column in range(history, values.shape[1]):
        result = bank.append(float(times[column]), values[:, column])

    assert list(np.flatnonzero(result.status == "anomaly")) == [2]
    assert result.expected[0] == pytest.approx(80.0, abs=1.0)
    # The weekday part is in the shape, not in the level: Friday's expected value is 50.
    bins_per_day = round(86400.0 / bank.bin_seconds)
    assert bank.profile[0, 4 * bins_per_day] == pytest.approx(50.0, abs=1.0)


def test_seasonal_bank_follows_trend():
    times, values = daily_grid(days=8.0)
    # 5 per day (10% of the level) up for the first 10 series, down for the others.
    slope = np.where(np.arange(values.shape[0]) < 10, 5.0, -5.0)
    values = values + slope[:, None] * (times - times[0])[None, :] / 86400.0
    history = values.shape[1] - 120
    settings = DetectorSettings(detector="seasonal", baseline=7 * 86400.0)

    bank = SeasonalBank.from_history(times[:history], values[:, :history], settings=settings)
    for column in range(history, values.shape[1]):
        result = bank.append(float(times[column]), values[:, column])

    true_mean = values[:, -5:].mean(axis=1)
    # The level is the last day's median, so it lags by about half a day of trend (2.5).
    assert np.all(np.abs(result.expected - true_mean) < 4.0)
    assert np.count_nonzero(result.status == "anomaly") == 0


def test_seasonal_bank_weekly_needs_two_weeks():
    times, values = weekly_grid(series=2, days=10.0)
    settings = DetectorSettings(detector="seasonal", seasonality="weekly")

    with pytest.raises(ValueError, match="14 days"):
        SeasonalBank.from_history(times, values, settings=settings)


def test_conservative_tail_raises_far_p_values():
    times, values = grid_history(series=6)
    values[:, -5:] += np.array([0.0, 0.0, 3.0, 5.0, 8.0, 12.0])[:, None]
    default = evaluate_many(times, values, settings=SETTINGS)
    conservative = SigmaBank.from_history(times, values, settings=SETTINGS, conservative_tail=True).evaluate()

    # Where neither fits a tail (two-sided p above 2 x 5%) both agree, and far out the
    # conservative tail is heavier.
    inside = default.p_value > 0.2
    far = default.p_value < 1e-4
    assert np.any(inside)
    assert np.any(far)
    assert np.allclose(conservative.p_value[inside], default.p_value[inside])
    assert np.all(conservative.p_value[far] > default.p_value[far])
    assert list(conservative.deviation) == list(default.deviation)


def test_pareto_shape_raised_by_clusters():
    excess = np.sort(np.random.default_rng(3).exponential(1.0, size=200))

    point_shape, _ = fit_generalised_pareto(excess)
    raised_shape, raised_scale = fit_generalised_pareto(excess, clusters=25)

    assert raised_shape == pytest.approx(min(0.5, point_shape + (1.0 + point_shape) / 5.0))
    assert raised_scale == pytest.approx(excess.mean() * (1.0 - raised_shape))


def test_count_clusters_of_runs():
    assert count_clusters(np.array([], dtype=np.int64)) == 0
    assert count_clusters(np.array([7, 3, 4, 5, 9, 10])) == 3
    assert tail_size(40_000, conservative=True) == 200
    assert tail_size(40_000) == 2000
    assert tail_size(100, conservative=True) == 10


def test_conservative_tail_setting_matches_bank():
    times, values = grid_history(series=4)
    values[:, -5:] += np.array([0.0, 5.0, 8.0, 12.0])[:, None]
    conservative = SETTINGS.with_changes(tail="conservative")
    bank = SigmaBank.from_history(times, values, settings=conservative).evaluate()

    for row in range(4):
        point = evaluate(times, values[row], now=times[-1], settings=SETTINGS)
        careful = evaluate(times, values[row], now=times[-1], settings=conservative)

        # The bank keeps its window means in float32.
        assert careful.p_value == pytest.approx(bank.p_value[row], rel=1e-4)
        if point.p_value < 1e-4:
            assert careful.p_value > point.p_value
        if point.p_value > 0.2:
            assert careful.p_value == pytest.approx(point.p_value)


def test_tail_setting_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown tail 'heavy': use one of point, conservative"):
        DetectorSettings(tail="heavy")


def test_bank_warm_up_matches_single_series():
    times, values = grid_history(series=3, days=3.0)
    values[1, : int(2.5 * 86400 / MINUTE)] = np.nan  # starts half a day before the end
    values[2, : int(1.5 * 86400 / MINUTE)] = np.nan  # starts a day and a half before the end
    settings = DetectorSettings(baseline=2 * 86400.0)  # a warm-up of half a day

    bank = SigmaBank.from_history(times, values, settings=settings)
    result = bank.evaluate()
    later = bank.append(times[-1] + MINUTE, values[:, -1])

    for row in range(3):
        single = evaluate(times, values[row], now=times[-1], settings=settings)
        assert result.status[row] == single.status
        assert result.reason[row] == (single.reason or "")
    assert list(result.status) == ["normal", "skipped", "normal"]
    assert later.reason[1] == "insufficient history"
