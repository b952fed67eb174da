"""Restart the real worker process mid-incident: nothing is lost, nothing is posted twice.

A synthetic series at 5-second resolution is backfilled into a real
Prometheus with a spike that started 10 minutes ago and goes on. The worker
(`python -m bot worker`, a subprocess) polls it every 2 seconds against the
real Redis and the Slack emulator.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

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


def _worker(tmp_path, redis_server, prometheus, slack) -> WorkerProcess:
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
        },
        log_path=tmp_path / "worker.log",
    )


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_restart_keeps_one_card(tmp_path, redis_server, redis_client, spiking_prometheus, slack, hard):
    slack.add_channel(CHANNEL)
    worker = _worker(tmp_path, redis_server, spiking_prometheus, slack).start()
    try:
        wait_until(lambda: len(slack.messages(CHANNEL)) == 1 and len(slack.calls_to("chat.postMessage")) == 8
                   and len(slack.calls_to("files.completeUploadExternal")) == 1,
                   timeout=30, what="first card, its seven steps and the chart")
    finally:
        exit_code = worker.stop(hard=hard)
    if not hard:
        assert exit_code == 0
        assert "worker stopped" in worker.log()

    updates_before = len(slack.calls_to("chat.update"))
    worker = _worker(tmp_path, redis_server, spiking_prometheus, slack).start()
    try:
        # A new 5-second point arrives at least every 5 s; the poll that sees it updates the card.
        wait_until(lambda: len(slack.calls_to("chat.update")) >= updates_before + 2,
                   timeout=30, what="card updates after the restart")
    finally:
        worker.stop()

    (card,) = slack.messages(CHANNEL)
    assert len(slack.calls_to("chat.postMessage")) == 8
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    steps = [r for r in slack.replies(CHANNEL, card["ts"]) if r.get("text", "").startswith("Step")]
    assert len(steps) == 7
    assert "api-latency" in card["text"]
    assert len(redis_client.keys("anomalybot:incident:open:*")) == 1
    for call in slack.calls_to("chat.update"):
        assert call.params["ts"] == card["ts"]
