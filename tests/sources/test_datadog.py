"""The Datadog source against a loopback server that responds as Datadog's query API documents."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.errors import ConfigError, SourceError
from bot.monitors import parse_monitors
from bot.sources import DatadogSource, DataQuality, QueryRejected, SourceRateLimited
from bot.sources.client import RetryPolicy
from bot.sources.datadog import MAX_POINTS_PER_SERIES, series_labels, site_url
from bot.sources.ratelimit import RateBudget
from bot.sources.registry import build_sources
from bot.sources.settings import SourceSettings
from tests.fakes.datadog import API_KEY, APP_KEY, FakeDatadog
from tests.fakes.server import Reply
from tests.sources.conftest import FakeClock

QUERY = "avg:system.cpu.user{env:prod} by {host}"
START = 1_700_000_000.0


@pytest.fixture
def clock():
    return FakeClock(start=START + 86400)


@pytest.fixture
def datadog():
    with FakeDatadog() as fake:
        yield fake


def _source(fake, clock, *, budget=None, name="datadog"):
    return DatadogSource(
        api_key=API_KEY, app_key=APP_KEY, base_url=fake.url, name=name, retry=RetryPolicy(retries=2),
        sleep=clock.sleep,
        budget=budget or RateBudget(key=f"test:ratelimit:{name}", clock=clock.time, sleep=clock.sleep),
    )


def _add_hosts(fake):
    times = [START + 60 * index for index in range(5)]
    fake.add(QUERY, metric="system.cpu.user", tags=["env:prod", "host:web-1"], timestamps=times,
             values=[10.0, None, 12.0, 13.0, None])
    fake.add(QUERY, metric="system.cpu.user", tags=["env:prod", "host:web-2"], timestamps=times,
             values=[20.0, 21.0, 22.0, 23.0, 24.0])


def test_pointlist_parsed_nulls_left_out(datadog, clock):
    _add_hosts(datadog)
    series = _source(datadog, clock).fetch(QUERY, start=START, end=START + 240, step=60)

    by_host = {entry.labels["host"]: entry for entry in series}
    web1, web2 = by_host["web-1"], by_host["web-2"]
    assert web1.timestamps.tolist() == [START, START + 120, START + 180]
    assert web1.values.tolist() == [10.0, 12.0, 13.0]
    assert web1.quality == DataQuality(expected=5, received=3)
    assert web2.values.tolist() == [20.0, 21.0, 22.0, 23.0, 24.0]
    assert dict(web1.labels) == {"env": "prod", "host": "web-1", "__name__": "system.cpu.user"}


def test_keys_sent_in_headers_and_query_untouched(datadog, clock):
    _add_hosts(datadog)
    _source(datadog, clock).fetch(QUERY, start=START, end=START + 240, step=60)

    (request,) = datadog.requests
    assert request.path == "/api/v1/query"
    assert request.headers["dd-api-key"] == API_KEY
    assert request.headers["dd-application-key"] == APP_KEY
    assert request.params == {"from": str(int(START)), "to": str(int(START + 240)), "query": QUERY}


def test_series_labels_from_scope_and_tags():
    assert series_labels({"scope": "host:a,env:prod", "metric": "m"}) == (
        ("__name__", "m"), ("env", "prod"), ("host", "a"))
    assert series_labels({"scope": "*", "metric": "m"}) == (("__name__", "m"),)
    assert series_labels({"tag_set": ["url:http://x:80/", "canary"]}) == (("canary", ""), ("url", "http://x:80/"))
    assert series_labels({"tag_set": ["role:db", "role:cache"]}) == (("role", "db,cache"),)


def test_same_scope_twice_kept_apart(datadog, clock):
    times = [START, START + 60]
    datadog.add("a{*}, b{*}", metric="m", tags=[], timestamps=times, values=[1.0, 2.0])
    datadog.add("a{*}, b{*}", metric="m", tags=[], timestamps=times, values=[5.0, 6.0])

    series = _source(datadog, clock).fetch("a{*}, b{*}", start=START, end=START + 60, step=60)

    assert len(series) == 2
    assert {entry.labels.get("query_index") for entry in series} == {None, "1"}


def test_forbidden_names_keys_without_values(datadog, clock):
    wrong = DatadogSource(api_key="wrong-key", app_key=APP_KEY, base_url=datadog.url, sleep=clock.sleep)
    with pytest.raises(SourceError) as caught:
        wrong.fetch(QUERY, start=START, end=START + 60, step=60)

    message = str(caught.value)
    assert message == (
        f"Datadog at {datadog.url} rejected the keys (HTTP 403: Forbidden); check DATADOG_API_KEY and DATADOG_APP_KEY"
    )
    assert "wrong-key" not in message
    assert len(datadog.requests) == 1


def test_unparsable_query_rejected(datadog, clock):
    datadog.reject("avg:cpu{", "Error parsing query: unable to parse avg:cpu{: Rule 'scope_expr' didn't match")
    with pytest.raises(QueryRejected) as caught:
        _source(datadog, clock).fetch("avg:cpu{", start=START, end=START + 60, step=60)
    assert "rejected the query (HTTP 400): Error parsing query: unable to parse avg:cpu{" in str(caught.value)
    assert caught.value.query == "avg:cpu{"


def test_error_status_in_ok_body_rejected(datadog, clock):
    datadog.server.queue(Reply.json(200, {"status": "error", "error": "query returned too many series",
                                          "series": []}))
    with pytest.raises(QueryRejected) as caught:
        _source(datadog, clock).fetch(QUERY, start=START, end=START + 60, step=60)
    assert "rejected the query: query returned too many series" in str(caught.value)


def test_server_error_retried_then_reported(datadog, clock):
    datadog.server.queue(Reply.json(503, {"errors": ["Service Unavailable"]}), count=3)
    with pytest.raises(SourceError) as caught:
        _source(datadog, clock).fetch(QUERY, start=START, end=START + 60, step=60)
    assert str(caught.value) == f"Datadog at {datadog.url} failed (HTTP 503): Service Unavailable"
    assert len(datadog.requests) == 3
    assert len(clock.sleeps) == 2


def test_malformed_json_reported(datadog, clock):
    datadog.server.queue(Reply(200, b'{"series": [', {"Content-Type": "application/json"}))
    with pytest.raises(SourceError) as caught:
        _source(datadog, clock).fetch(QUERY, start=START, end=START + 60, step=60)
    message = str(caught.value)
    assert "responded with HTTP 200 and a body that is not JSON (application/json): '{\"series\": ['" in message


def test_short_rate_limit_waited_out(datadog, clock):
    _add_hosts(datadog)
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Period": "60", "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset": "2"}
    datadog.server.queue(Reply.json(429, {"errors": ["Rate limit of 100 requests in 60 seconds reached"]}, headers))

    series = _source(datadog, clock).fetch(QUERY, start=START, end=START + 240, step=60)

    assert len(series) == 2
    assert clock.sleeps == [2.0]
    assert len(datadog.requests) == 2


def test_long_rate_limit_raises_at_once(datadog, clock):
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800"}
    datadog.server.queue(Reply.json(429, {"errors": ["Rate limit reached"]}, headers))

    with pytest.raises(SourceRateLimited) as caught:
        _source(datadog, clock).fetch(QUERY, start=START, end=START + 60, step=60)

    assert caught.value.retry_after == 1800.0
    assert "rate limited the query (HTTP 429); the limit resets in 1800s" in str(caught.value)
    assert len(datadog.requests) == 1
    assert clock.sleeps == []


def test_workers_share_one_budget(redis_client, clock):
    with FakeDatadog(rate_limit=5, period=86400) as fake:
        _add_hosts(fake)

        def worker(name):
            budget = RateBudget(key="test:ratelimit:datadog-org", redis_client=redis_client,
                                clock=clock.time, sleep=clock.sleep)
            return _source(fake, clock, budget=budget, name=name)

        first, second = worker("datadog-worker-1"), worker("datadog-worker-2")
        for source in (first, second, first, second, first):
            source.fetch(QUERY, start=START, end=START + 240, step=60)
        assert len(fake.requests) == 5

        with pytest.raises(SourceRateLimited) as caught:
            second.fetch(QUERY, start=START, end=START + 240, step=60)

    assert "rate limit of" in str(caught.value)
    assert "shared by every worker" in str(caught.value)
    assert len(fake.requests) == 5
    assert fake.rate_limited == 0


def test_long_range_fetched_in_chunks(datadog, clock):
    step = 60
    times = [START + step * index for index in range(2000)]
    datadog.add("avg:queue.depth{*}", metric="queue.depth", tags=[], timestamps=times,
                values=[float(index) for index in range(2000)])

    (series,) = _source(datadog, clock).fetch("avg:queue.depth{*}", start=times[0], end=times[-1], step=step)

    assert len(datadog.requests) == math.ceil(2000 / MAX_POINTS_PER_SERIES)
    assert series.timestamps.size == 2000
    assert np.all(np.diff(series.timestamps) == step)
    assert series.values[-1] == 1999.0


@pytest.mark.parametrize(("site", "url"), [
    ("datadoghq.com", "https://api.datadoghq.com"),
    ("datadoghq.eu", "https://api.datadoghq.eu"),
    ("us3.datadoghq.com", "https://api.us3.datadoghq.com"),
    ("app.datadoghq.com", "https://api.datadoghq.com"),
])
def test_site_url(site, url):
    assert site_url(site) == url


def test_environment_builds_datadog(datadog, monkeypatch):
    _add_hosts(datadog)
    monkeypatch.setenv("DATADOG_API_KEY", API_KEY)
    monkeypatch.setenv("DATADOG_APP_KEY", APP_KEY)
    monkeypatch.setenv("DATADOG_URL", datadog.url)

    source = build_sources(SourceSettings())["datadog"]

    assert isinstance(source, DatadogSource)
    assert len(source.fetch(QUERY, start=START, end=START + 240, step=60)) == 2


def test_environment_missing_app_key(monkeypatch):
    monkeypatch.setenv("DATADOG_API_KEY", API_KEY)
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings())
    assert caught.value.problems == [
        "DATADOG_APP_KEY is missing; Datadog's query API needs both DATADOG_API_KEY and DATADOG_APP_KEY"
    ]


def test_environment_site_with_scheme_rejected(monkeypatch):
    monkeypatch.setenv("DATADOG_API_KEY", API_KEY)
    monkeypatch.setenv("DATADOG_APP_KEY", APP_KEY)
    monkeypatch.setenv("DATADOG_SITE", "https://app.datadoghq.eu")
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings())
    assert caught.value.problems == [
        "DATADOG_SITE='https://app.datadoghq.eu' is not a Datadog site name; set it like datadoghq.eu, "
        "or set DATADOG_URL to a full API base URL"
    ]


def test_declared_datadog_source(datadog, clock, monkeypatch):
    _add_hosts(datadog)
    monkeypatch.setenv("DD_EU_API", API_KEY)
    monkeypatch.setenv("DD_EU_APP", APP_KEY)
    parsed = parse_monitors(
        "sources:\n"
        f"  datadog-eu: {{type: datadog, url: '{datadog.url}', api_key_env: DD_EU_API, app_key_env: DD_EU_APP}}\n"
        "monitors:\n  - {name: cpu, source: datadog-eu, query: 'avg:cpu{*}', channel: '#ops'}\n"
    )
    source = build_sources(SourceSettings(), parsed.sources)["datadog-eu"]
    assert source.name == "datadog-eu"
    assert len(source.fetch(QUERY, start=START, end=START + 240, step=60)) == 2


def test_declared_datadog_key_variable_unset(monkeypatch):
    parsed = parse_monitors(
        "sources:\n  datadog-eu: {type: datadog, site: datadoghq.eu, api_key_env: DD_EU_API, app_key_env: DD_EU_APP}\n"
        "monitors:\n  - {name: cpu, source: datadog-eu, query: 'avg:cpu{*}', channel: '#ops'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        build_sources(SourceSettings(), parsed.sources, origin="monitors.yml")
    assert caught.value.path == "monitors.yml"
    assert caught.value.problems == [
        "source 'datadog-eu': field 'api_key_env': the variable DD_EU_API is not set; "
        "export it with the Datadog API key",
        "source 'datadog-eu': field 'app_key_env': the variable DD_EU_APP is not set; "
        "export it with the Datadog application key",
    ]
