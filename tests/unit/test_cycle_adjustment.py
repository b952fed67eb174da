"""Benjamini-Hochberg across the series of one poll: many series, one borderline p-value."""

from __future__ import annotations

import numpy as np
import pytest

from bot.poller import adjust_cycle
from bot.sources.base import Series
from detectors import Anomaly, Evaluation, tier_for


def _evaluation(p_value: float, *, status: str = "normal") -> Evaluation:
    anomaly = None
    if status == "anomaly":
        anomaly = Anomaly(kind="spike", shape=None, direction="above", start=0.0, duration=60.0, amplitude=1.0,
                          deviation=3.5, details={})
    tier = tier_for(p_value)
    return Evaluation(status=status, reason=None, detector="sigma", evaluated_at=0.0, current=1.0, expected=0.0,
                      baseline_mean=0.0, baseline_std=1.0, deviation=3.5, p_value=p_value, tier=tier,
                      anomaly=anomaly)


def _cycle(evaluations: list[Evaluation]):
    series = Series({}, np.array([0.0]), np.array([0.0]))
    return [(f"fp{index}", series, evaluation) for index, evaluation in enumerate(evaluations)]


def test_borderline_anomaly_among_many_is_not_alerted():
    cycle = _cycle([_evaluation(0.02, status="anomaly")] + [_evaluation(0.5) for _ in range(19)])

    adjusted = adjust_cycle(cycle)

    _, _, first = adjusted[0]
    assert first.p_value == pytest.approx(0.4)  # 0.02 × 20 tests / rank 1
    assert first.tier == "low"
    assert first.status == "normal"


def test_strong_anomaly_survives_adjustment():
    cycle = _cycle([_evaluation(1e-5, status="anomaly")] + [_evaluation(0.5) for _ in range(19)])

    _, _, first = adjust_cycle(cycle)[0]

    assert first.p_value == pytest.approx(2e-4)
    assert first.tier == "high"
    assert first.status == "anomaly"


def test_single_series_unchanged_and_skips_not_counted():
    single = _cycle([_evaluation(0.03, status="anomaly")])
    assert adjust_cycle(single)[0][2].p_value == 0.03

    skipped = Evaluation(status="skipped", reason="no data", detector="sigma", evaluated_at=0.0, current=np.nan,
                         expected=np.nan, baseline_mean=np.nan, baseline_std=np.nan, deviation=0.0, p_value=1.0,
                         tier="low")
    with_skip = _cycle([_evaluation(0.03, status="anomaly"), skipped])
    assert adjust_cycle(with_skip)[0][2].p_value == 0.03
