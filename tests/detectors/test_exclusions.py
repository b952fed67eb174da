"""A strong, short anomaly stays out of later baselines; a long one becomes the new level."""

import numpy as np
import pytest
from detector_series import DAY, MINUTE, noise_series

from detectors import DetectorSettings, Evaluation, Exclusions, evaluate, replay
from detectors._exclusions import EXCLUDE_P_VALUE, MAX_EXCLUDED_RUN


def _evaluation(status: str, p_value: float) -> Evaluation:
    return Evaluation(status=status, reason=None, detector="sigma", evaluated_at=0.0, current=0.0, expected=0.0,
                      baseline_mean=0.0, baseline_std=1.0, deviation=0.0, p_value=p_value, tier="high")


def test_strong_run_excluded_when_it_ends():
    exclusions = Exclusions()

    exclusions.record(_evaluation("anomaly", 1e-6), np.array([100.0, 160.0]), oldest=0.0)
    assert list(exclusions.excluded()) == [100.0, 160.0]
    assert exclusions.times == []

    exclusions.record(_evaluation("normal", 0.4), np.array([220.0]), oldest=0.0)
    assert exclusions.times == [100.0, 160.0]
    assert exclusions.run == []


def test_weak_anomaly_not_excluded():
    exclusions = Exclusions()

    exclusions.record(_evaluation("anomaly", EXCLUDE_P_VALUE * 2), np.array([100.0]), oldest=0.0)

    assert exclusions.excluded().size == 0


def test_long_run_released_as_a_change_of_level():
    exclusions = Exclusions()
    strong = _evaluation("anomaly", 1e-9)
    minutes = np.arange(0.0, MAX_EXCLUDED_RUN + 2 * MINUTE, MINUTE)

    for stamp in minutes[:-1]:
        exclusions.record(strong, np.array([stamp]), oldest=0.0)
    assert len(exclusions.run) == minutes.size - 1
    exclusions.record(strong, minutes[-1:], oldest=0.0)

    assert exclusions.excluded().size == 0


def test_old_exclusions_dropped_and_json_round_trip():
    exclusions = Exclusions(times=[10.0, 20.0, 30.0])

    exclusions.record(_evaluation("normal", 0.5), np.array([40.0]), oldest=25.0)
    again = Exclusions.from_json(exclusions.to_json())

    assert again.times == [30.0]
    assert Exclusions.from_json(None).excluded().size == 0


def test_excluded_spike_leaves_the_baseline_spread():
    settings = DetectorSettings(detector="sigma", baseline=2 * DAY)
    times, values = noise_series(days=3.0, sigma=1.0, seed=4)
    spike = (times >= times[-1] - DAY) & (times < times[-1] - DAY + 20 * MINUTE)
    values[spike] += 30.0
    now = times[-1]

    plain = evaluate(times, values, now=now, settings=settings)
    cleaned = evaluate(times, values, now=now, settings=settings, excluded=times[spike])

    # With the spike, the baseline sigma is about sqrt(1 + 900 * 20 / 2880) = 2.7; without, 1.
    assert plain.baseline_std == pytest.approx(2.7, abs=0.2)
    assert cleaned.baseline_std == pytest.approx(1.0, abs=0.05)


def test_replay_repeated_spike_found():
    settings = DetectorSettings.for_detector("sigma", baseline=2 * DAY)
    times, values = noise_series(days=5.0, step=5 * MINUTE, sigma=1.0, seed=5)
    first = (times >= times[0] + 3 * DAY) & (times < times[0] + 3 * DAY + 30 * MINUTE)
    second = (times >= times[0] + 4 * DAY) & (times < times[0] + 4 * DAY + 30 * MINUTE)
    values[first | second] += 8.0

    result = replay(times, values, settings=settings)

    # Without exclusions the first spike is in the second's baseline: the second's lowest
    # p-value is then about 2e-3, against 3e-7 for the first.
    assert np.all(result.status[first] == "anomaly")
    assert np.all(result.status[second] == "anomaly")
    assert result.p_value[first].min() < 1e-6
    assert result.p_value[second].min() < 1e-6
    assert result.deviation[second].mean() >= result.deviation[first].mean()


def test_replay_follows_a_lasting_change_of_level():
    settings = DetectorSettings.for_detector("sigma", baseline=DAY)
    times, values = noise_series(days=4.0, step=5 * MINUTE, sigma=1.0, seed=6)
    shift = times >= times[0] + 2 * DAY
    values[shift] += 8.0

    result = replay(times, values, settings=settings)

    # The shift is an anomaly at first. After two hours its points go back into the baseline,
    # and a day later the new level is normal, not an anomaly or "insufficient history".
    assert result.status[np.flatnonzero(shift)[0]] == "anomaly"
    late = times >= times[0] + 3 * DAY + 3600.0
    assert np.mean(result.status[late] == "normal") > 0.95


def test_new_series_waits_for_its_warm_up():
    times, values = noise_series(days=2.0, sigma=1.0, seed=8)
    settings = DetectorSettings.for_detector("sigma")  # 7-day baseline: a warm-up of one day
    young = times[0] + 3 * 3600.0

    waiting = evaluate(times, values, now=young, settings=settings)
    ready = evaluate(times, values, now=times[-1], settings=settings)
    forced = evaluate(times, values, now=young, settings=settings.with_changes(min_history=0.0))

    assert (waiting.status, waiting.reason) == ("skipped", "insufficient history")
    assert ready.status == "normal"
    assert forced.status == "normal"
    assert settings.required_history == 86400.0
    assert DetectorSettings(baseline=3600.0).required_history == 900.0


def test_negative_min_history_rejected():
    with pytest.raises(ValueError, match=r"invalid min_history -60\.0: use a number of seconds >= 0"):
        DetectorSettings(min_history=-60.0)
