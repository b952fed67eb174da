"""Raw counter detection and the increase per step across resets and gaps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.sources.base import DataQuality, assess_quality, grid_points
from bot.sources.counters import counter_increases, is_raw_counter_query


@pytest.mark.parametrize("query", [
    "http_requests_total",
    'http_requests_total{code="500"}',
    "sum by (code) (http_requests_total)",
    "node_cpu_seconds_total / 4",
])
def test_raw_counter_queries_detected(query):
    assert is_raw_counter_query(query)


@pytest.mark.parametrize("query", [
    "rate(http_requests_total[5m])",
    "increase(http_requests_total[1h])",
    "sum(irate(http_requests_total[1m])) by (code)",
    "max_over_time(http_requests_total[10m:1m])",
    "queue_depth",
    'up{job="exporter_total"}',
    "requests_totals",
])
def test_other_queries_not_counters(query):
    assert not is_raw_counter_query(query)


def test_increases_per_step():
    timestamps = np.arange(0, 300, 60.0)
    values = np.array([100.0, 160.0, 230.0, 300.0, 390.0])

    times, increases, resets = counter_increases(timestamps, values, step=60)

    assert times.tolist() == [60.0, 120.0, 180.0, 240.0]
    assert increases.tolist() == [60.0, 70.0, 70.0, 90.0]
    assert resets == 0


def test_reset_step_left_out_not_a_drop():
    timestamps = np.arange(0, 360, 60.0)
    values = np.array([1000.0, 1100.0, 1200.0, 40.0, 140.0, 240.0])

    times, increases, resets = counter_increases(timestamps, values, step=60)

    assert resets == 1
    assert 180.0 not in times.tolist()
    assert times.tolist() == [60.0, 120.0, 240.0, 300.0]
    assert increases.tolist() == [100.0, 100.0, 100.0, 100.0]
    assert np.all(increases >= 0)


def test_point_after_gap_left_out():
    timestamps = np.array([0.0, 60.0, 600.0, 660.0])
    values = np.array([10.0, 20.0, 80.0, 95.0])

    times, increases, _ = counter_increases(timestamps, values, step=60)

    assert times.tolist() == [60.0, 660.0]
    assert increases.tolist() == [10.0, 15.0]


def test_non_finite_counter_value_kept_as_non_finite():
    timestamps = np.arange(0, 240, 60.0)
    values = np.array([10.0, math.nan, 30.0, 40.0])

    times, increases, resets = counter_increases(timestamps, values, step=60)

    # The NaN point stays NaN; the point after it has no finite predecessor and is left out.
    assert times.tolist() == [60.0, 180.0]
    assert math.isnan(increases[0])
    assert increases[1] == 10.0
    assert resets == 0


def test_single_sample_gives_nothing():
    times, increases, resets = counter_increases(np.array([0.0]), np.array([5.0]), step=60)
    assert times.size == 0
    assert increases.size == 0
    assert resets == 0


def test_grid_points_counts_both_ends():
    assert grid_points(0, 600, 60) == 11
    assert grid_points(0, 59, 60) == 1
    assert grid_points(10, 0, 60) == 0


def test_quality_counts_missing_and_non_finite():
    timestamps = np.array([0.0, 60.0, 180.0, 240.0])
    values = np.array([1.0, math.inf, 2.0, math.nan])

    quality = assess_quality(timestamps, values, start=0, end=300, step=60)

    assert quality == DataQuality(expected=6, received=4, non_finite=2)
    assert quality.missing == 2
    assert quality.usable == 2
    assert not quality.complete
    assert quality.describe() == "2 of 6 points usable: 2 missing, 2 NaN or infinite"


def test_complete_quality_described_briefly():
    quality = DataQuality(expected=60, received=60)
    assert quality.complete
    assert quality.describe() == "60 of 60 points usable"
