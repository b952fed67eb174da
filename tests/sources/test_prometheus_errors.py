"""Every way a Prometheus request fails, played by a loopback server: each gives one clear error."""

from __future__ import annotations

import logging
import random

import pytest

from bot.errors import SourceError, SourceUnreachable
from bot.sources import PrometheusSource, QueryRejected, SourceRateLimited
from bot.sources.client import RetryPolicy
from tests.fakes.server import LOOPBACK, LoopbackServer, Reply
from tests.harness.processes import free_port
from tests.sources.conftest import FakeClock

QUERY = 'up{job="api"}'
RETRY = RetryPolicy(retries=2, backoff=0.5, max_backoff=4.0)


def _matrix(*values: str) -> Reply:
    points = [[1000.0 + 60 * index, value] for index, value in enumerate(values)]
    return Reply.json(200, {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "up", "job": "api"}, "values": points}]}})


@pytest.fixture
def server():
    with LoopbackServer(lambda request: _matrix("1", "1")) as running:
        yield running


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def source(server, clock):
    prometheus = PrometheusSource(server.url, name="prometheus-eu", retry=RETRY, sleep=clock.sleep,
                                  auth_hint="check the token in PROMETHEUS_EU_TOKEN")
    yield prometheus
    prometheus.close()


def _fetch(source):
    return source.fetch(QUERY, start=1000, end=1060, step=60)


def test_answer_parsed(source, server):
    (series,) = _fetch(source)
    assert series.values.tolist() == [1.0, 1.0]
    assert server.requests[0].params == {"query": QUERY, "start": "1000.000", "end": "1060.000", "step": "60"}


def test_server_timeout_body_retried_then_reported(source, server, clock):
    body = {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}
    server.queue(Reply.json(503, body), count=3)

    with pytest.raises(SourceError) as caught:
        _fetch(source)

    message = str(caught.value)
    assert "Prometheus at http://127.0.0.1" in message
    assert "gave up on the query (HTTP 503, timeout): query timed out in expression evaluation" in message
    assert "--query.timeout" in message
    assert caught.value.source == "prometheus-eu"
    assert caught.value.query == QUERY
    assert len(server.requests) == 3
    assert len(clock.sleeps) == 2


def test_backoff_doubles_between_retries(source, server, clock):
    server.queue(Reply.json(503, {"status": "error", "errorType": "unavailable", "error": "not ready"}), count=3)
    with pytest.raises(SourceError):
        _fetch(source)

    first, second = clock.sleeps
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


def test_execution_error_rejected_without_retry(source, server):
    body = {"status": "error", "errorType": "execution",
            "error": "query processing would load too many samples into memory in query execution"}
    server.queue(Reply.json(422, body))

    with pytest.raises(QueryRejected) as caught:
        _fetch(source)

    assert "rejected the query (HTTP 422, execution): query processing would load too many samples" in str(
        caught.value)
    assert len(server.requests) == 1


def test_warnings_logged_and_data_kept(source, server, caplog):
    reply = _matrix("3")
    body = reply.body.replace(b'{"status": "success"', b'{"status": "success", "warnings": ["partial data"]')
    server.queue(Reply(200, body, reply.headers))

    with caplog.at_level(logging.WARNING, logger="bot.sources.prometheus"):
        (series,) = _fetch(source)

    assert series.values.tolist() == [3.0]
    assert f"source prometheus-eu: Prometheus at {source.base_url} warned about query 'up{{job=\"api\"}}': " \
           "partial data" in caplog.text


def test_html_page_from_proxy_reported(source, server):
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    server.queue(Reply.text(502, page, "text/html"), count=3)

    with pytest.raises(SourceError) as caught:
        _fetch(source)

    message = str(caught.value)
    assert "responded with HTTP 502 and a body that is not JSON (text/html)" in message
    assert "502 Bad Gateway" in message
    assert len(server.requests) == 3


def test_slow_server_times_out(server, clock):
    server.queue(Reply(200, b"{}", delay=1.0), count=2)
    slow = PrometheusSource(server.url, timeout=0.2, retry=RetryPolicy(retries=1), sleep=clock.sleep)

    with pytest.raises(SourceUnreachable) as caught:
        _fetch(slow)
    slow.close()

    assert str(caught.value) == f"Prometheus at {server.url} timed out after 0.2s"
    assert len(server.requests) == 2


def test_unauthorized_names_credentials_fix(source, server):
    server.queue(Reply.text(401, "<html>401 Authorization Required</html>", "text/html"))

    with pytest.raises(SourceError) as caught:
        _fetch(source)

    assert str(caught.value) == (
        f"Prometheus at {server.url} rejected the credentials (HTTP 401); check the token in PROMETHEUS_EU_TOKEN"
    )
    assert len(server.requests) == 1


def test_not_found_names_path_prefix(source, server):
    server.queue(Reply.text(404, "404 page not found"))
    with pytest.raises(SourceError) as caught:
        _fetch(source)
    assert "has no API at /api/v1/query_range (HTTP 404); check the URL, including any path prefix" in str(
        caught.value)


def test_json_that_is_not_prometheus(source, server):
    server.queue(Reply.json(200, {"message": "hello from another service"}))
    with pytest.raises(SourceError) as caught:
        _fetch(source)
    assert "responded with HTTP 200 and JSON that is not a Prometheus API response" in str(caught.value)
    assert "check that the URL points at Prometheus" in str(caught.value)


def test_malformed_sample_named(source, server):
    server.queue(Reply.json(200, {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1000, 5]]}]}}))
    with pytest.raises(SourceError) as caught:
        _fetch(source)
    assert "returned a sample that is not [time, \"value\"]: [1000, 5]" in str(caught.value)


def test_transient_failure_then_answer(source, server, clock):
    server.queue(Reply.text(502, "Bad Gateway"))
    (series,) = _fetch(source)
    assert series.values.tolist() == [1.0, 1.0]
    assert len(server.requests) == 2
    assert len(clock.sleeps) == 1


def test_retry_after_honoured(source, server, clock):
    server.queue(Reply.text(429, "slow down", headers={"Retry-After": "3"}))
    _fetch(source)
    assert clock.sleeps == [3.0]


def test_long_retry_after_gives_up_at_once(source, server, clock):
    server.queue(Reply.text(429, "slow down", headers={"Retry-After": "120"}))
    with pytest.raises(SourceRateLimited) as caught:
        _fetch(source)
    assert caught.value.retry_after == 120.0
    assert clock.sleeps == []
    assert len(server.requests) == 1


def test_unreachable_port_retried_then_named(clock):
    url = f"http://{LOOPBACK}:{free_port()}"
    down = PrometheusSource(url, retry=RETRY, sleep=clock.sleep)
    with pytest.raises(SourceUnreachable) as caught:
        _fetch(down)
    down.close()
    assert f"Prometheus at {url} is unreachable" in str(caught.value)
    assert len(clock.sleeps) == 2


def test_url_password_never_logged(server, caplog):
    port = server.url.rsplit(":", 1)[1]
    with_password = PrometheusSource(f"http://reader:s3cret@{LOOPBACK}:{port}", retry=RetryPolicy(retries=0))
    server.queue(Reply.text(500, "boom"))

    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as caught:
        _fetch(with_password)
    with_password.close()

    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caplog.text
    assert caught.value.url == f"http://{LOOPBACK}:{port}"
    assert server.requests[0].headers["authorization"] == "Basic cmVhZGVyOnMzY3JldA=="


def test_retry_policy_bounds():
    policy = RetryPolicy(retries=5, backoff=1.0, max_backoff=5.0)
    rng = random.Random(3)
    delays = [policy.delay(retry, rng) for retry in range(1, 6)]
    ceilings = [1.0, 2.0, 4.0, 5.0, 5.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_retry_policy_rejects_negative_retries():
    with pytest.raises(ValueError, match="retries must be 0 or more"):
        RetryPolicy(retries=-1)
