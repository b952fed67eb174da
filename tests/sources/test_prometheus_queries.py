"""The Prometheus source against the real server: data problems, counters, histograms and instant queries."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from bot.errors import SourceError
from bot.sources import DataQuality, PrometheusSource, QueryRejected
from bot.sources.prometheus import MAX_POINTS_PER_SERIES
from tests.sources.conftest import BUCKET_RATES, MINUTE


@pytest.fixture
def source(history):
    prometheus = PrometheusSource(history.url, retry=None)
    yield prometheus
    prometheus.close()


def test_matrix_one_series_per_label_set(history, source):
    series = source.fetch("steady_gauge", start=history.end - 59 * MINUTE, end=history.end, step=MINUTE)

    by_instance = {entry.labels["instance"]: entry for entry in series}
    assert sorted(by_instance) == ["a", "b"]
    assert by_instance["a"].timestamps.size == 60
    assert 9 < by_instance["a"].values.mean() < 11
    assert 19 < by_instance["b"].values.mean() < 21
    assert by_instance["a"].quality == DataQuality(expected=60, received=60)


def test_non_finite_values_kept_and_counted(history, source):
    (series,) = source.fetch("weird_values", start=history.end - 59 * MINUTE, end=history.end, step=MINUTE)

    values = dict(zip(series.timestamps, series.values, strict=True))
    assert math.isnan(values[history.nan_at])
    assert values[history.inf_at] == math.inf
    assert values[history.neg_inf_at] == -math.inf
    assert series.quality == DataQuality(expected=60, received=60, non_finite=3)
    assert series.non_finite == 3


def test_non_finite_values_logged_with_source_and_query(history, source, caplog):
    with caplog.at_level(logging.INFO, logger="bot.sources.prometheus"):
        source.fetch("weird_values", start=history.end - 59 * MINUTE, end=history.end, step=MINUTE)
    assert "source prometheus: query 'weird_values' returned 3 NaN or infinite value(s)" in caplog.text


def test_gap_stays_missing_never_zero(history, source):
    gap_start, gap_end = history.gap
    (series,) = source.fetch("gappy_gauge", start=gap_start - 30 * MINUTE, end=gap_end + 30 * MINUTE, step=MINUTE)

    # Prometheus carries the last sample forward for its 5-minute lookback, then returns nothing.
    absent = (series.timestamps > gap_start + 5 * MINUTE) & (series.timestamps < gap_end)
    assert not absent.any()
    assert np.all(series.values > 40)
    assert series.quality is not None
    assert series.quality.missing == 25
    assert series.quality.non_finite == 0


def test_series_vanish_and_appear(history, source):
    series = source.fetch("vanishing_gauge", start=history.vanish_at - 3600, end=history.end, step=MINUTE)

    by_instance = {entry.labels["instance"]: entry for entry in series}
    old, new = by_instance["old"], by_instance["new"]
    assert old.timestamps.max() <= history.vanish_at + 4 * MINUTE
    assert new.timestamps.min() == history.appear_at
    assert np.all(old.values > 20)
    assert np.all(new.values > 20)
    assert old.quality is not None and old.quality.missing > 100
    assert new.quality is not None and new.quality.missing > 100


def test_series_absent_from_range_not_returned(history, source):
    series = source.fetch("vanishing_gauge", start=history.end - 30 * MINUTE, end=history.end, step=MINUTE)
    assert [entry.labels["instance"] for entry in series] == ["new"]


def test_no_match_returns_no_series(history, source):
    assert source.fetch("no_such_metric", start=history.end - 3600, end=history.end, step=MINUTE) == []


def test_raw_counter_reset_is_not_a_drop(history, source):
    start, end = history.reset_at - 30 * MINUTE, history.reset_at + 30 * MINUTE
    (series,) = source.fetch('requests_total{instance="a"}', start=start, end=end, step=MINUTE)

    assert series.timestamps[0] == start
    assert history.reset_at not in series.timestamps.tolist()
    assert np.all(series.values > 80)
    assert np.all(series.values < 120)
    assert series.quality == DataQuality(expected=61, received=60, counter_resets=1)


def test_raw_counter_kept_when_asked(history):
    keep = PrometheusSource(history.url, raw_counters="keep")
    start, end = history.reset_at - 10 * MINUTE, history.reset_at + 10 * MINUTE
    (series,) = keep.fetch('requests_total{instance="a"}', start=start, end=end, step=MINUTE)
    keep.close()

    values = dict(zip(series.timestamps, series.values, strict=True))
    assert values[history.reset_at - MINUTE] > 100_000
    assert values[history.reset_at] == 0.0


def test_counter_override_per_fetch(history, source):
    start, end = history.reset_at - 10 * MINUTE, history.reset_at - MINUTE
    (raw,) = source.fetch('requests_total{instance="a"}', start=start, end=end, step=MINUTE, counter=False)
    assert raw.values.min() > 100_000


def test_rate_query_not_treated_as_counter(history, source):
    start, end = history.reset_at + 10 * MINUTE, history.reset_at + 40 * MINUTE
    (series,) = source.fetch('rate(requests_total{instance="a"}[5m])', start=start, end=end, step=MINUTE)
    assert series.timestamps.size == 31
    assert np.all(np.abs(series.values - 100 / 60) < 0.3)


def test_histogram_quantile_over_buckets(history, source):
    query = "histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket[5m])))"
    (series,) = source.fetch(query, start=history.end - 60 * MINUTE, end=history.end, step=MINUTE)

    # 90 of 100 requests per minute: 80 are under 0.5 s and 95 under 1 s, so the
    # quantile falls 10/15 of the way from 0.5 to 1.
    expected = 0.5 + (0.9 * BUCKET_RATES["+Inf"] - BUCKET_RATES["0.5"]) / (
        BUCKET_RATES["1"] - BUCKET_RATES["0.5"]) * 0.5
    assert series.timestamps.size == 61
    assert np.allclose(series.values, expected, atol=1e-6)
    assert series.quality == DataQuality(expected=61, received=61)


def test_long_range_chunked_with_quality(history, source):
    start, end, step = history.timestamps[0], history.end, 10.0
    expected_points = int((end - start) / step) + 1
    assert expected_points > MAX_POINTS_PER_SERIES

    (series,) = source.fetch('steady_gauge{instance="a"}', start=start, end=end, step=step)

    assert series.timestamps.size == expected_points
    assert np.all(np.diff(series.timestamps) == step)
    assert series.quality == DataQuality(expected=expected_points, received=expected_points)


def test_instant_vector(history, source):
    series = source.query("steady_gauge", at=history.end)

    assert sorted(entry.labels["instance"] for entry in series) == ["a", "b"]
    assert all(entry.timestamps.tolist() == [history.end] for entry in series)
    assert all(entry.values.size == 1 for entry in series)


def test_instant_scalar(history, source):
    (series,) = source.query("scalar(sum(steady_gauge)) * 0 + 42", at=history.end)
    assert dict(series.labels) == {}
    assert series.values.tolist() == [42.0]


def test_instant_matrix_from_range_selector(history, source):
    # 270 seconds hold 5 one-minute samples whether or not the range includes its start.
    (series,) = source.query('steady_gauge{instance="a"}[270s]', at=history.end)
    assert series.timestamps.size == 5
    assert series.labels["instance"] == "a"


def test_instant_string_rejected(history, source):
    with pytest.raises(QueryRejected) as caught:
        source.query('"text"', at=history.end)
    assert "result type 'string'" in str(caught.value)
    assert "returns numbers" in str(caught.value)


def test_bad_query_rejected_with_type_and_query(history, source):
    with pytest.raises(QueryRejected) as caught:
        source.fetch("rate(steady_gauge[5m]", start=history.end - 600, end=history.end, step=MINUTE)

    assert isinstance(caught.value, SourceError)
    assert "rejected the query (HTTP 400, bad_data)" in str(caught.value)
    assert caught.value.query == "rate(steady_gauge[5m]"
    assert caught.value.url == history.url
    assert caught.value.source == "prometheus"


def test_probe_answers(history, source):
    source.probe()
