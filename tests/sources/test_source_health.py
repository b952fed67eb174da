"""Source health notices in Slack: at most one per source per interval, and one recovery, with real Redis."""

from __future__ import annotations

import logging
import time

import pytest
from slack_sdk import WebClient

from bot import source_health
from bot.errors import SourceUnreachable
from bot.monitors import parse_monitors
from bot.slack.gateway import WebGateway
from bot.source_health import SOURCE_FAILURES, SourceHealth
from bot.sources import QueryRejected
from bot.store import Store

URL = "http://prometheus-eu.internal:9090"
MONITORS = parse_monitors(
    "monitors:\n"
    "  - {name: api-cpu, source: prometheus-eu, query: 'avg(rate(cpu_seconds_total[5m]))', channel: '#ops'}\n"
    "  - {name: api-mem, source: prometheus-eu, query: 'avg(memory_bytes)', channel: '#ops-mem'}\n"
    "sources:\n  prometheus-eu: {type: prometheus, url: 'http://prometheus-eu.internal:9090'}\n"
).monitors
CPU, MEM = MONITORS


def _down(query: str = "avg(rate(cpu_seconds_total[5m]))") -> SourceUnreachable:
    return SourceUnreachable(f"Prometheus at {URL} is unreachable: [Errno 111] Connection refused",
                             source="prometheus-eu", url=URL, query=query)


@pytest.fixture
def store(redis_client):
    return Store(redis_client)


@pytest.fixture
def gateway(slack):
    return WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=lambda _: None)


@pytest.fixture
def channels(slack):
    return slack.add_channel("ops"), slack.add_channel("ops-mem")


def _health(store, gateway, **options) -> SourceHealth:
    return SourceHealth(store=store, gateway=gateway, **options)


def test_failure_posts_one_notice(store, gateway, slack, channels):
    ops, _ = channels
    _health(store, gateway).record_failure(CPU, _down())

    (notice,) = slack.messages(ops)
    assert notice["text"] == (
        f"Source prometheus-eu is unhealthy: Prometheus at {URL} is unreachable: [Errno 111] Connection refused"
    )
    section, context = notice["blocks"]
    assert "Monitors on prometheus-eu are not evaluated until it responds" in section["text"]["text"]
    context_text = context["elements"][0]["text"]
    assert "monitor `api-cpu`" in context_text
    assert "query `avg(rate(cpu_seconds_total[5m]))`" in context_text
    assert "1 failed poll(s) since" in context_text
    assert "next notice at most every 30 min" in context_text


def test_repeated_failures_post_once_and_count(store, gateway, slack, channels):
    ops, ops_mem = channels
    health = _health(store, gateway)
    for _ in range(4):
        health.record_failure(CPU, _down())
    health.record_failure(MEM, _down("avg(memory_bytes)"))

    assert len(slack.messages(ops)) == 1
    assert slack.messages(ops_mem) == []
    status = health.status("prometheus-eu")
    assert status.consecutive_failures == 5
    assert status.failures_total == 5
    assert not status.healthy
    assert status.last_error == f"Prometheus at {URL} is unreachable: [Errno 111] Connection refused"


def test_replicas_share_the_bound(store, redis_server, gateway, slack, channels):
    ops, _ = channels
    other_replica = SourceHealth(store=Store(redis_server.client()), gateway=gateway)
    _health(store, gateway).record_failure(CPU, _down())
    other_replica.record_failure(CPU, _down())
    assert len(slack.messages(ops)) == 1


def test_notice_again_after_interval(store, gateway, slack, channels):
    ops, _ = channels
    health = _health(store, gateway, notice_interval=0.5)
    health.record_failure(CPU, _down())
    health.record_failure(CPU, _down())
    time.sleep(0.6)
    health.record_failure(CPU, _down())

    notices = slack.messages(ops)
    assert len(notices) == 2
    assert "3 failed poll(s)" in notices[1]["blocks"][1]["elements"][0]["text"]


def test_recovery_posted_once(store, gateway, slack, channels):
    ops, _ = channels
    health = _health(store, gateway)
    health.record_failure(CPU, _down())
    health.record_success(MEM)
    health.record_success(CPU)

    unhealthy, recovered = slack.messages(ops)
    assert recovered["text"] == "Source prometheus-eu responds again; polling resumed."
    assert "first successful poll: monitor `api-mem`" in recovered["blocks"][1]["elements"][0]["text"]
    status = health.status("prometheus-eu")
    assert status.healthy
    assert status.failures_total == 1
    assert not status.notice_pending_recovery


def test_success_without_notice_posts_nothing(store, gateway, slack, channels):
    ops, _ = channels
    _health(store, gateway).record_success(CPU)
    assert slack.messages(ops) == []
    assert slack.calls_to("chat.postMessage") == []


def test_flapping_source_bounded(store, gateway, slack, channels):
    ops, _ = channels
    health = _health(store, gateway)
    for _ in range(5):
        health.record_failure(CPU, _down())
        health.record_success(CPU)

    texts = [message["text"] for message in slack.messages(ops)]
    assert len(texts) == 2
    assert texts[0].startswith("Source prometheus-eu is unhealthy")
    assert texts[1].startswith("Source prometheus-eu responds again")
    assert health.status("prometheus-eu").failures_total == 5


def test_rejected_query_not_an_outage(store, gateway, slack, channels):
    ops, _ = channels
    health = _health(store, gateway)
    rejected = QueryRejected("Prometheus at ... rejected the query (HTTP 400, bad_data): parse error",
                             source="prometheus-eu", url=URL, query="rate(x[5m]")
    before = SOURCE_FAILURES.labels("prometheus-eu", "query_rejected")._value.get()

    health.record_failure(CPU, rejected)

    assert slack.messages(ops) == []
    status = health.status("prometheus-eu")
    assert status.queries_rejected == 1
    assert status.healthy
    assert SOURCE_FAILURES.labels("prometheus-eu", "query_rejected")._value.get() == before + 1


def test_failures_counted_by_kind(store, gateway, slack, channels):
    before = SOURCE_FAILURES.labels("prometheus-eu", "SourceUnreachable")._value.get()
    health = _health(store, gateway)
    health.record_failure(CPU, _down())
    health.record_failure(CPU, _down())
    assert SOURCE_FAILURES.labels("prometheus-eu", "SourceUnreachable")._value.get() == before + 2


def test_slack_failure_logged_and_retried_later(store, gateway, slack, monkeypatch, caplog):
    monkeypatch.setattr(source_health, "NOTICE_RETRY_SECONDS", 0.3)
    health = _health(store, gateway)

    with caplog.at_level(logging.ERROR, logger="bot.source_health"):
        health.record_failure(CPU, _down())
    assert "source prometheus-eu: unhealthy notice not posted in #ops" in caplog.text
    assert "channel_not_found" in caplog.text

    ops = slack.add_channel("ops")
    health.record_failure(CPU, _down())
    assert slack.messages(ops) == []
    time.sleep(0.4)
    health.record_failure(CPU, _down())
    assert len(slack.messages(ops)) == 1


def test_interval_must_be_positive(store, gateway):
    with pytest.raises(ValueError, match="notice_interval must be positive"):
        SourceHealth(store=store, gateway=gateway, notice_interval=0)
