"""Backend data problems never open an incident by themselves, and a failing source is reported at a bounded rate.

The poll pipeline runs as the service runs it: the real Prometheus of the
`history` fixture, a real Redis, the Slack emulator, and `poll_safely`
from the scheduler.
"""

from __future__ import annotations

import logging

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.scheduler import poll_safely, schedule_monitors
from bot.source_health import SourceHealth
from bot.sources import PrometheusSource
from bot.sources.client import RetryPolicy
from tests.harness.processes import LOOPBACK, free_port
from tests.integration.pipeline import build_pipeline
from tests.sources.conftest import MINUTE

CHANNEL = "metrics"
DETECTOR = "detector: {name: sigma, window: 15m, baseline: 1d, threshold: 3}"


def _monitors(*entries: tuple[str, str]) -> str:
    lines = [
        f"  - {{name: {name}, source: prometheus, query: '{query}', interval: 5m, step: 1m, "
        f"channel: '#{CHANNEL}', {DETECTOR}}}"
        for name, query in entries
    ]
    return "monitors:\n" + "\n".join(lines) + "\n"


def _poll_around(pipeline, monitor, moment: float) -> tuple[list[str], set[str]]:
    """Poll every 5 minutes from 30 minutes before `moment` to 60 minutes after.

    Returns the incidents opened and the evaluation statuses seen.
    """
    opened, statuses = [], set()
    now = moment - 30 * MINUTE
    while now <= moment + 60 * MINUTE:
        report = pipeline.poller.poll(monitor, now=now)
        opened.extend(report.opened)
        statuses.update(evaluation.status for _, evaluation in report.evaluations)
        now += 5 * MINUTE
    return opened, statuses


@pytest.fixture
def pipeline_for(history, redis_server, redis_client, slack):
    slack.add_channel(CHANNEL)
    sources = {"prometheus": PrometheusSource(history.url)}

    def build(monitors_yaml: str):
        return build_pipeline(redis_url=redis_server.url, sources=sources, slack=slack, monitors_yaml=monitors_yaml)

    yield build
    sources["prometheus"].close()


# `evaluated`: whether the detector judges the series at some poll, rather than
# skipping it for too little data, so the case tests the detector's input.
@pytest.mark.parametrize(("name", "query", "event", "evaluated"), [
    ("gap", "gappy_gauge", "gap_end", True),
    ("nan-and-infinity", "weird_values", "inf_at", True),
    ("counter-reset", 'requests_total{instance="a"}', "reset_at", True),
    ("series-vanish", "vanishing_gauge", "vanish_at", True),
    ("series-appear", "vanishing_gauge", "appear_at", False),
    ("empty-answer", "no_such_metric", "end", False),
])
def test_data_problem_opens_no_incident(history, pipeline_for, slack, name, query, event, evaluated):
    pipeline = pipeline_for(_monitors((name, query)))
    moment = history.gap[1] if event == "gap_end" else getattr(history, event)

    opened, statuses = _poll_around(pipeline, pipeline.monitors[name], min(moment, history.end - 60 * MINUTE))

    assert opened == []
    assert slack.calls_to("chat.postMessage") == []
    assert ("normal" in statuses) == evaluated


def test_real_spike_still_opens_incident(history, pipeline_for, slack):
    pipeline = pipeline_for(_monitors(("spike", "spiking_gauge")))
    report = pipeline.poller.poll(pipeline.monitors["spike"], now=history.end)
    assert len(report.opened) == 1


def test_failing_source_logged_and_noticed_once_then_recovered(history, pipeline_for, slack, caplog):
    pipeline = pipeline_for(_monitors(("cpu", "steady_gauge")))
    monitor = pipeline.monitors["cpu"]
    health = SourceHealth(store=pipeline.store, gateway=pipeline.gateway)
    working = pipeline.poller.sources["prometheus"]
    down_url = f"http://{LOOPBACK}:{free_port()}"
    pipeline.poller.sources["prometheus"] = PrometheusSource(down_url, retry=RetryPolicy(retries=0))

    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        for _ in range(3):
            poll_safely(pipeline.poller, monitor, source_health=health)

    assert caplog.text.count(f"monitor cpu: source prometheus failed: Prometheus at {down_url} is unreachable") == 3
    assert f"(url {down_url}, query 'steady_gauge')" in caplog.text
    (notice,) = [message for message in slack.messages(CHANNEL)]
    assert notice["text"].startswith(f"Source prometheus is unhealthy: Prometheus at {down_url} is unreachable")
    assert health.status("prometheus").consecutive_failures == 3

    pipeline.poller.sources["prometheus"] = working
    poll_safely(pipeline.poller, monitor, source_health=health)

    unhealthy, recovered = slack.messages(CHANNEL)
    assert recovered["text"] == "Source prometheus responds again; polling resumed."
    assert health.status("prometheus").healthy


def test_unconfigured_source_noticed(pipeline_for, slack, caplog):
    pipeline = pipeline_for(_monitors(("cpu", "steady_gauge")).replace("source: prometheus", "source: atlas"))
    health = SourceHealth(store=pipeline.store, gateway=pipeline.gateway)

    poll_safely(pipeline.poller, pipeline.monitors["cpu"], source_health=health)

    assert "monitor cpu: source atlas failed" in caplog.text
    assert "(url not configured, query 'steady_gauge')" in caplog.text
    (notice,) = slack.messages(CHANNEL)
    assert "Source atlas is unhealthy" in notice["text"]


def test_scheduled_polls_get_source_health(pipeline_for, monkeypatch):
    monkeypatch.setenv("SOURCE_NOTICE_INTERVAL", "600")
    pipeline = pipeline_for(_monitors(("cpu", "steady_gauge")))
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_monitors(scheduler, pipeline.poller, list(pipeline.monitors.values()))

    job = scheduler.get_job("poll:cpu")
    assert isinstance(job.kwargs["source_health"], SourceHealth)
    assert job.kwargs["source_health"].gateway is pipeline.poller.notifier.gateway
    assert job.kwargs["source_health"].notice_interval == 600.0
