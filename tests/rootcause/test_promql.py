"""Grouping a monitor's PromQL query by dimension labels."""

from __future__ import annotations

import pytest

from bot.rootcause.promql import aggregation_of, grouped_query


@pytest.mark.parametrize(("query", "expected"), [
    ("avg(api_latency_seconds)", "avg by (region) (api_latency_seconds)"),
    ("sum(rate(x_total[5m])) by (job)", "sum by (job, region) (rate(x_total[5m]))"),
    ("sum by (job) (rate(x_total[5m]))", "sum by (job, region) (rate(x_total[5m]))"),
    ("sum by (region) (x)", "sum by (region) (x)"),
    ("sum without (instance, region) (x)", "sum without (instance) (x)"),
    ("(avg(x))", "avg by (region) (x)"),
    ("quantile(0.9, x)", "quantile by (region) (0.9, x)"),
])
def test_aggregation_gains_label(query, expected):
    assert grouped_query(query, ["region"]) == expected


def test_histogram_quantile_keeps_le():
    query = "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))"

    assert grouped_query(query, ["service"]) == \
        "histogram_quantile(0.99, sum by (le, service) (rate(h_bucket[5m])))"
    assert grouped_query("histogram_quantile(0.99, rate(h_bucket[5m]))", ["service"]) == \
        "histogram_quantile(0.99, sum by (le, service) (rate(h_bucket[5m])))"


def test_ratio_groups_both_sides():
    query = 'sum(rate(errors_total{code=~"5.."}[5m])) / sum(rate(requests_total[5m]))'

    assert grouped_query(query, ["service", "region"]) == (
        'sum by (service, region) (rate(errors_total{code=~"5.."}[5m])) / '
        "sum by (service, region) (rate(requests_total[5m]))"
    )


def test_scaled_aggregation_keeps_number():
    assert grouped_query('100 * avg(x{a="b-c"})', ["region"]) == '100 * avg by (region) (x{a="b-c"})'
    assert grouped_query("1 - avg(rate(idle[5m]))", ["region"]) == "1 - avg by (region) (rate(idle[5m]))"


@pytest.mark.parametrize(("query", "expected"), [
    ("api_latency_seconds", "avg by (region) (api_latency_seconds)"),
    ("rate(http_requests_total[5m])", "sum by (region) (rate(http_requests_total[5m]))"),
    ("max_over_time(x[5m])", "avg by (region) (max_over_time(x[5m]))"),
    ("sum(a) / on(job) sum(b)", "avg by (region) (sum(a) / on(job) sum(b))"),
    ("sum_over_time(x[5m])", "sum by (region) (sum_over_time(x[5m]))"),
])
def test_other_queries_are_wrapped(query, expected):
    assert grouped_query(query, ["region"]) == expected


def test_request_rate_monitor_sums():
    assert grouped_query("http_requests_per_second", ["region"], metric_type="request_rate") == \
        "sum by (region) (http_requests_per_second)"
    assert aggregation_of("http_requests_per_second", metric_type="request_rate") == "sum"
    assert aggregation_of("api_latency_seconds") == "avg"


def test_grouped_query_needs_labels():
    with pytest.raises(ValueError, match="at least one label"):
        grouped_query("x", [])
