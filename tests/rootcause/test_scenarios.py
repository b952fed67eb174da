"""Root-cause scenarios with known causes, against a real Prometheus, real Redis and the Slack emulator.

Each test polls its monitors with the bot's own poller, so incidents open as they do in
production, then runs `analyze` on the incident and checks which hypothesis ranks first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.serving import make_server

from bot import lifecycle
from bot.events_api import register_events
from bot.rootcause import analyze, attach_hypotheses
from bot.sources.client import RetryPolicy
from bot.sources.prometheus import PrometheusSource
from bot.store import Store
from tests.harness.processes import LOOPBACK, free_port
from tests.harness.prometheus_server import PrometheusServer, backfill, start_prometheus
from tests.integration.pipeline import Pipeline, build_pipeline
from tests.rootcause.scenarios import (
    CHANNEL,
    DEPENDENCY_LEAD,
    STEP,
    World,
    all_series,
    make_world,
    monitors_yaml,
)

SECRET = "scenario-events-secret"


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, world) -> Iterator[PrometheusServer]:
    data_dir = tmp_path_factory.mktemp("rootcause") / "data"
    backfill(data_dir, all_series(world))
    server = start_prometheus(data_dir)
    yield server
    server.stop()


def _pipeline(prometheus, redis_server, slack, yaml: str) -> Pipeline:
    slack.add_channel(CHANNEL)
    return build_pipeline(redis_url=redis_server.url, sources={"prometheus": PrometheusSource(prometheus.url)},
                          slack=slack, monitors_yaml=yaml)


def _open_incident(pipeline: Pipeline, monitor: str, now: float):
    report = pipeline.poller.poll(pipeline.monitors[monitor], now=now)
    assert len(report.opened) == 1, report
    return pipeline.store.get_incident(report.opened[0])


def _analyze(pipeline: Pipeline, incident, now: float):
    return analyze(store=pipeline.store, sources=pipeline.poller.sources, monitors=pipeline.monitors,
                   incident=incident, now=now)


def test_region_fault_ranks_infrastructure(prometheus, redis_server, redis_client, slack, world):
    pipeline = _pipeline(prometheus, redis_server, slack,
                         monitors_yaml(("latency-s1", "avg(s1_request_latency_seconds)")))
    incident = _open_incident(pipeline, "latency-s1", world.end)

    result = _analyze(pipeline, incident, world.end)

    assert result.missing == []
    top = result.hypotheses[0]
    assert top.id == "infra-eu-west-1"
    assert "region eu-west-1" in top.title
    assert "4 of 4 services there are degraded" in top.evidence
    assert top.query == "avg by (service, region) (s1_request_latency_seconds)"
    assert top.score > result.hypotheses[1].score + 0.3
    regions = [row for row in result.dimensions if row.label == "region"]
    assert [row.value for row in regions][0] == "eu-west-1"
    assert regions[0].mark == "red"
    assert regions[0].share > 0.9
    assert all(row.mark == "green" for row in regions[1:])
    services = [row for row in result.dimensions if row.label == "service"]
    assert all(row.mark == "red" for row in services)
    assert all(0.15 < row.share < 0.35 for row in services)
    assert "*region*: eu-west-1 (100%) explains 100% of the change." in result.dimensions_text
    assert "*service*: the change is spread across all 4 values." in result.dimensions_text
    assert "🔴 eu-west-1" in result.dimensions_text
    assert result.heatmap_png is not None
    assert result.heatmap_png.startswith(b"\x89PNG")


def test_capacity_limit_ranks_capacity(prometheus, redis_server, redis_client, slack, world):
    pipeline = _pipeline(prometheus, redis_server, slack,
                         monitors_yaml(("latency-s2", "avg(s2_request_latency_seconds)")))
    incident = _open_incident(pipeline, "latency-s2", world.end)

    result = _analyze(pipeline, incident, world.end)

    top = result.hypotheses[0]
    assert top.id == "capacity-checkout"
    assert "service checkout" in top.title
    assert "degraded in 3 of 3 region values" in top.evidence
    assert "segment=premium accounts for" in top.evidence
    assert top.query == "avg by (service, segment) (s2_request_latency_seconds)"
    assert not any(hypothesis.id.startswith("infra-") for hypothesis in result.hypotheses)
    services = [row for row in result.dimensions if row.label == "service"]
    assert services[0].value == "checkout"
    assert services[0].share > 0.95
    segments = [row for row in result.dimensions if row.label == "segment"]
    assert segments[0].value == "premium"
    assert segments[0].share > 0.6


def test_deployment_ranks_first(prometheus, redis_server, redis_client, slack, world):
    pipeline = _pipeline(prometheus, redis_server, slack,
                         monitors_yaml(("latency-s3", "avg(s3_request_latency_seconds)")))
    web = Flask("events")
    register_events(web, store=pipeline.store, secret=SECRET)
    server = make_server(LOOPBACK, 0, web, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        response = httpx.post(
            f"http://{LOOPBACK}:{server.server_port}/events",
            json={"type": "deployment", "service": "search", "version": "v2.4.0", "time": world.deployed_at,
                  "link": "https://ci.example.com/runs/981"},
            headers={"Authorization": f"Bearer {SECRET}"}, timeout=5,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 201, response.text
    incident = _open_incident(pipeline, "latency-s3", world.end)
    assert incident.anomaly_start == world.anomaly_start

    result = _analyze(pipeline, incident, world.end)

    top = result.hypotheses[0]
    assert top.id == "deployment-search-v2.4.0"
    assert top.title == "Deployment of search v2.4.0, 4 minutes before the anomaly started"
    assert "service=search" in top.evidence
    assert "https://ci.example.com/runs/981" in top.evidence
    assert result.hypotheses[1].id == "capacity-search"
    assert [event.version for event in result.events] == ["v2.4.0"]


def test_unrelated_spike_stays_weak(prometheus, redis_server, redis_client, slack, world):
    pipeline = _pipeline(prometheus, redis_server, slack, monitors_yaml(
        ("api-latency", "avg(s4_api_latency_seconds)"),
        ("db-latency", "s4_db_latency_seconds"),
        ("batch-queue", "s4_batch_queue_depth"),
    ))
    queue_incident = _open_incident(pipeline, "batch-queue", world.anomaly_start + STEP)
    pipeline.poller.poll(pipeline.monitors["db-latency"], now=world.end)
    pipeline.poller.poll(pipeline.monitors["batch-queue"], now=world.end)
    incident = _open_incident(pipeline, "api-latency", world.end)

    result = _analyze(pipeline, incident, world.end)

    by_monitor = {item.monitor: item for item in result.related}
    database, queue = by_monitor["db-latency"], by_monitor["batch-queue"]
    assert result.related[0] is database
    assert database.strength_label == "strong"
    assert database.correlation > 0.9
    assert database.p_value < 0.01
    assert database.lag == DEPENDENCY_LEAD
    assert database.anomalous
    assert queue.anomalous
    assert queue.incident_id == queue_incident.id
    assert queue.strength_label == "weak"
    assert queue.strength < 0.4

    top = result.hypotheses[0]
    assert top.id.startswith("dependency-db-latency-")
    assert "3 minutes before" in top.title
    assert not any("batch-queue" in hypothesis.title for hypothesis in result.hypotheses)
    lines = result.related_text.splitlines()
    assert lines[1].startswith("• db-latency {cluster=main} rose 3 minutes before api-latency: r = +")
    assert lines[1].endswith(f", strong (incident {database.incident_id})")
    assert lines[2] == (f"• batch-queue {{queue=reports}} was anomalous in the same window: r = "
                        f"{queue.correlation:+.2f}, weak, probably unrelated (incident {queue_incident.id})")

    # The thread a responder reads: the analysis goes out as the service posts it.
    incident = attach_hypotheses(pipeline.store, incident.id, result.hypotheses)
    pipeline.notifier.refresh_hypotheses(incident)
    pipeline.notifier.note(incident, f"{result.related_text}\n{result.dimensions_text}")
    incident = pipeline.store.get_incident(incident.id)
    thread = [reply["text"] for reply in slack.replies(incident.card_channel, incident.card_ts)]
    print("\n--- thread of the dependency scenario ---\n" + "\n\n".join(thread))
    assert thread[0].startswith(incident.severity)
    assert any(text.startswith("Root-cause hypotheses for incident") for text in thread)
    assert any("db-latency {cluster=main} rose 3 minutes before api-latency" in text for text in thread)


def test_rejecting_brings_up_next(prometheus, redis_server, redis_client, slack, world):
    pipeline = _pipeline(prometheus, redis_server, slack,
                         monitors_yaml(("latency-s1", "avg(s1_request_latency_seconds)")))
    incident = _open_incident(pipeline, "latency-s1", world.end)
    result = _analyze(pipeline, incident, world.end)
    assert len(result.hypotheses) > 3

    stored = attach_hypotheses(pipeline.store, incident.id, result.hypotheses)
    pipeline.notifier.refresh_hypotheses(stored)
    rejected = lifecycle.decide_hypothesis(pipeline.store, incident.id, result.hypotheses[0].id, user="U1",
                                           now=world.end + 60, confirm=False)
    pipeline.notifier.refresh_hypotheses(rejected.incident)

    thread = slack.replies(pipeline.store.get_incident(incident.id).card_channel, stored.card_ts)
    message = next(reply for reply in thread if reply.get("text", "").startswith("Root-cause hypotheses"))
    buttons = [block for block in message["blocks"] if block["type"] == "actions"]
    assert [block["block_id"] for block in buttons] == [
        f"hypothesis:{incident.id}:{hypothesis.id}" for hypothesis in result.hypotheses[1:4]
    ]
    assert "rejected by <@U1>" in str(message["blocks"])

    again = attach_hypotheses(pipeline.store, incident.id, result.hypotheses)
    assert again.hypotheses[0].status == "rejected"
    assert [hypothesis.id for hypothesis in again.hypotheses] == [hypothesis.id for hypothesis in result.hypotheses]


def test_failing_backends_do_not_raise(redis_client, world):
    from bot.incident import Incident
    from bot.monitors import parse_monitors

    monitors = {monitor.name: monitor for monitor in parse_monitors(
        monitors_yaml(("latency-s1", "avg(s1_request_latency_seconds)"))).monitors}
    incident = Incident(
        id="9", fingerprint="f" * 16, monitor="latency-s1", query="avg(s1_request_latency_seconds)", labels={},
        channel=CHANNEL, playbook="metric_anomaly", opened_at=world.end, updated_at=world.end,
        anomaly_start=world.anomaly_start, last_anomalous_at=world.end, detector="sigma", kind="spike",
        direction="above", tier="high", p_value=0.001, deviation=8.0, peak_deviation=8.0, current=0.2,
        expected=0.1, baseline_mean=0.1, baseline_std=0.01,
    )
    down = PrometheusSource(f"http://{LOOPBACK}:{free_port()}", retry=RetryPolicy(retries=0), timeout=1)
    unreachable = Store(redis.Redis(host=LOOPBACK, port=free_port(), socket_connect_timeout=0.5,
                                    retry=Retry(NoBackoff(), 0)))

    for store in (Store(redis_client), unreachable):
        result = analyze(store=store, sources={"prometheus": down}, monitors=monitors, incident=incident,
                         now=world.end)

        assert len(result.hypotheses) >= 4
        assert result.hypotheses[0].id == "generic-load"
        assert any("failed on prometheus" in note for note in result.missing)
        assert "not computed" in result.dimensions_text
        assert result.heatmap_png is None
    assert any("Redis" in note for note in result.missing)
    unreachable.redis.close()
