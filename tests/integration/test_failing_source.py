"""A monitor whose backend is down logs its error and never stops the other monitors."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime import build_sources
from bot.scheduler import schedule_monitors
from bot.settings import Settings
from tests.harness.processes import LOOPBACK, free_port, wait_until
from tests.harness.prometheus_server import BackfillSeries, backfill, start_prometheus
from tests.integration.pipeline import build_pipeline


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    now = math.floor(time.time() / 60) * 60
    timestamps = np.arange(now - 2 * 86400, now + 3600, 60.0)
    values = 50 + np.random.default_rng(3).normal(0, 2, timestamps.size)
    data_dir = tmp_path_factory.mktemp("failing-source") / "data"
    backfill(data_dir, [BackfillSeries("queue_depth", {"queue": "orders"}, timestamps, values)])
    server = start_prometheus(data_dir)
    yield server
    server.stop()


def test_unreachable_source_logged_others_keep_polling(prometheus, redis_server, redis_client, slack, caplog):
    down_url = f"http://{LOOPBACK}:{free_port()}"
    monitors_yaml = f"""
sources:
  prometheus-down: {{type: prometheus, url: "{down_url}", timeout: 2s}}
  prometheus-up: {{type: prometheus, url: "{prometheus.url}"}}
monitors:
  - {{name: orders-down, source: prometheus-down, query: queue_depth, interval: 1s, step: 1m, channel: "#ops",
      detector: {{baseline: 1d}}}}
  - {{name: orders-up, source: prometheus-up, query: queue_depth, interval: 1s, step: 1m, channel: "#ops",
      detector: {{baseline: 1d}}}}
"""
    from bot.monitors import parse_monitors

    parsed = parse_monitors(monitors_yaml)
    sources = build_sources(Settings(), parsed.sources)
    pipeline = build_pipeline(redis_url=redis_server.url, sources=sources, slack=slack,
                              monitors_yaml=monitors_yaml)
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_monitors(scheduler, pipeline.poller, parsed.monitors)

    with caplog.at_level(logging.INFO):
        scheduler.start()
        try:
            wait_until(lambda: caplog.text.count("monitor orders-down: source prometheus-down failed") >= 3,
                       timeout=20, what="three failed polls of the down monitor")
        finally:
            scheduler.shutdown(wait=True)

    assert f"Prometheus at {down_url} is unreachable" in caplog.text
    assert caplog.text.count("monitor orders-up: fetched 1 series") >= 1
    assert redis_client.get("anomalybot:monitor:orders-up:fetched-until") is not None
    assert redis_client.get("anomalybot:monitor:orders-down:fetched-until") is None
    assert len(pipeline.store.series_fingerprints("orders-up")) == 1
