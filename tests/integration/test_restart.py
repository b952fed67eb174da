"""Restart the real worker process mid-incident: nothing is lost, nothing is posted twice.

A synthetic series at 5-second resolution is backfilled into a real
Prometheus with a spike that started 10 minutes ago and goes on. The worker
(`python -m bot worker`, a subprocess) polls it every 2 seconds against the
real Redis and the Slack emulator.
"""

from __future__ import annotations

import math
import shutil
import time

import numpy as np
import pytest

from bot.settings import PLAYBOOKS_DIR
from tests.harness.processes import wait_until
from tests.harness.prometheus_server import BackfillSeries, backfill, start_prometheus
from tests.integration.worker_process import WorkerProcess

STEP = 5.0
CHANNEL = "alerts-api"

MONITORS = f"""
monitors:
  - name: api-latency
    source: prometheus
    query: api_latency_ms
    interval: 2s
    step: 5s
    channel: "#{CHANNEL}"
    detector: {{name: sigma, window: 1m, baseline: 6h, threshold: 3}}
"""


@pytest.fixture(scope="module")
def spiking_prometheus(tmp_path_factory):
    now = math.floor(time.time() / STEP) * STEP
    timestamps = np.arange(now - 8 * 3600, now + 3600, STEP)
    rng = np.random.default_rng(11)
    values = 120 + rng.normal(0, 4, timestamps.size)
    values[timestamps >= now - 600] += 80

    data_dir = tmp_path_factory.mktemp("restart") / "data"
    backfill(data_dir, [BackfillSeries("api_latency_ms", {"service": "api"}, timestamps, values)])
    server = start_prometheus(data_dir)
    yield server
    server.stop()


def _worker(tmp_path, redis_server, prometheus, slack, **extra_env: str) -> WorkerProcess:
    monitors = tmp_path / "monitors.yml"
    monitors.write_text(MONITORS, encoding="utf-8")
    return WorkerProcess(
        env={
            "REDIS_URL": redis_server.url,
            "PROMETHEUS_URL": prometheus.url,
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.base_url,
            "MONITORS_FILE": str(monitors),
            "LOG_LEVEL": "INFO",
            **extra_env,
        },
        log_path=tmp_path / "worker.log",
    )


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_restart_keeps_one_card(tmp_path, redis_server, redis_client, spiking_prometheus, slack, hard):
    slack.add_channel(CHANNEL)
    worker = _worker(tmp_path, redis_server, spiking_prometheus, slack).start()
    try:
        wait_until(lambda: len(slack.messages(CHANNEL)) == 1 and len(slack.calls_to("chat.postMessage")) >= 8
                   and len(slack.calls_to("files.completeUploadExternal")) == 1,
                   timeout=30, what="first card, its seven steps and the chart")
        time.sleep(1)
    finally:
        exit_code = worker.stop(hard=hard)
    if not hard:
        assert exit_code == 0
        assert "worker stopped" in worker.log()

    updates_before = len(slack.calls_to("chat.update"))
    posts_before = len(slack.calls_to("chat.postMessage"))
    worker = _worker(tmp_path, redis_server, spiking_prometheus, slack).start()
    try:
        # A new 5-second point arrives at least every 5 s; the poll that sees it updates the card.
        wait_until(lambda: len(slack.calls_to("chat.update")) >= updates_before + 2,
                   timeout=30, what="card updates after the restart")
    finally:
        worker.stop()

    (card,) = slack.messages(CHANNEL)
    assert len(slack.calls_to("chat.postMessage")) == posts_before
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    steps = [r for r in slack.replies(CHANNEL, card["ts"]) if r.get("text", "").startswith("Step")]
    assert len(steps) == 7
    assert "api-latency" in card["text"]
    assert len(redis_client.keys("anomalybot:incident:open:*")) == 1
    for call in slack.calls_to("chat.update"):
        assert call.params["ts"] == card["ts"]


def test_escalation_due_while_down_fires_once(tmp_path, redis_server, redis_client, spiking_prometheus, slack):
    """Kill the worker mid-countdown; the restarted worker escalates once, at once."""
    playbooks = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS_DIR, playbooks)
    (playbooks / "escalation.yml").write_text(
        "escalation:\n"
        "  - {min_confidence: 0.0, after: 8s, target: senior engineer, handle: '@oncall-senior'}\n"
    )
    slack.add_channel(CHANNEL)
    group = slack.add_usergroup("oncall-senior", [slack.add_user("alice")])

    worker = _worker(tmp_path, redis_server, spiking_prometheus, slack, PLAYBOOKS_DIR=str(playbooks))
    worker.start()
    try:
        wait_until(lambda: len(slack.messages(CHANNEL)) == 1, timeout=30, what="card")
    finally:
        worker.stop(hard=True)
    (incident_key,) = redis_client.keys("anomalybot:incident:open:*")
    incident_id = redis_client.get(incident_key).decode()
    due = redis_client.zscore("anomalybot:escalation:due", incident_id)
    assert due is not None

    def escalations() -> list[str]:
        (card,) = slack.messages(CHANNEL)
        return [reply["text"] for reply in slack.replies(CHANNEL, card["ts"]) if "escalating" in reply["text"]]

    # The timer falls due while no worker runs.
    time.sleep(max(0.0, due - time.time()) + 1)
    assert escalations() == []

    worker = _worker(tmp_path, redis_server, spiking_prometheus, slack, PLAYBOOKS_DIR=str(playbooks)).start()
    try:
        # A worker killed while sending holds its queue's lock for up to 15 s.
        wait_until(lambda: len(escalations()) == 1, timeout=30, what="escalation after the restart")
        fired_at = time.time()
        time.sleep(6)
    finally:
        worker.stop()

    (line,) = escalations()
    assert f"escalating to the senior engineer, <!subteam^{group}>" in line
    assert fired_at - due < 30
    assert redis_client.zscore("anomalybot:escalation:due", incident_id) is None
