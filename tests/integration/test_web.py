"""The web process over real HTTP: signed slash commands, /healthz and /metrics."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from slack_sdk import WebClient
from werkzeug.serving import make_server

from bot.analysis import STEP_FIELDS
from bot.escalation import load_matrix
from bot.incident import Incident
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.settings import PLAYBOOKS_DIR
from bot.slack.app import build_app
from bot.slack.gateway import WebGateway
from bot.slack.permissions import Permissions
from bot.slack.services import Services
from bot.store import Store
from bot.web import build_web
from tests.harness.processes import LOOPBACK
from tests.slack_emulator import post_signed, slash_command_body

SECRET = "test-signing-secret"


@pytest.fixture
def web(redis_client, slack):
    store = Store(redis_client)
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url))
    playbooks = load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS)
    services = Services(
        store=store, notifier=Notifier(store=store, gateway=gateway, playbooks=playbooks), gateway=gateway,
        sources={}, monitors={}, matrix=load_matrix(PLAYBOOKS_DIR / "escalation.yml"),
        permissions=Permissions(gateway, {}),
    )
    app = build_app(signing_secret=SECRET,
                    client=WebClient(token=slack.token, base_url=slack.base_url), services=services)
    server = make_server(LOOPBACK, 0, build_web(store=store, slack_app=app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOOPBACK}:{server.server_port}", store
    server.shutdown()
    server.server_close()


def _command(slack, text: str) -> str:
    channel = slack.add_channel(f"ops-{time.monotonic_ns()}")
    return slash_command_body(text=text, user_id=slack.add_user("alice"), channel_id=channel,
                              response_url=slack.new_response_url(channel=channel))


def test_help_answered_in_the_ack(web, slack):
    url, _ = web
    response = post_signed(f"{url}/slack/events", _command(slack, "help"), secret=SECRET)

    assert response.status_code == 200
    assert "`/anomaly status`" in response.text


def test_status_lists_open_incidents(web, slack):
    url, store = web
    store.create_incident(lambda new_id: Incident(
        id=new_id, fingerprint="fp", monitor="api-latency", query="q", labels={"service": "api"},
        channel="#c", playbook="metric_anomaly", opened_at=1.0, updated_at=1.0, anomaly_start=1.0,
        last_anomalous_at=1.0, detector="sigma", kind="spike", direction="above", tier="high",
        p_value=0.001, deviation=4.5, peak_deviation=4.5, current=300.0, expected=200.0,
        baseline_mean=200.0, baseline_std=22.0,
    ))

    response = post_signed(f"{url}/slack/events", _command(slack, "status"), secret=SECRET)

    assert response.status_code == 200
    assert "1 open incident(s)" in response.text
    assert "api-latency {service=api}" in response.text
    assert "+4.50σ" in response.text


def test_unknown_command_quotes_input_and_shows_help(web, slack):
    url, _ = web
    response = post_signed(f"{url}/slack/events", _command(slack, "frobnicate now"), secret=SECRET)

    assert response.status_code == 200
    assert "I understood `/anomaly frobnicate now`" in response.text
    assert "`frobnicate` is not a command I know" in response.text
    assert "For example: `/anomaly help`" in response.text


def test_bad_signature_rejected(web, slack):
    url, _ = web
    response = post_signed(f"{url}/slack/events", _command(slack, "help"), secret="wrong-secret")
    assert response.status_code == 401


def test_stale_timestamp_rejected(web, slack):
    url, _ = web
    six_minutes_ago = int(time.time()) - 6 * 60
    response = post_signed(f"{url}/slack/events", _command(slack, "help"), secret=SECRET,
                           timestamp=six_minutes_ago)
    assert response.status_code == 401


def test_healthz_reports_redis(web):
    url, _ = web
    response = httpx.get(f"{url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": "ok"}


def test_metrics_exposed_in_prometheus_format(web):
    url, _ = web
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE anomalybot_polls_total counter" in response.text
