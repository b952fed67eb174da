"""Fixtures for end-to-end tests: a spiking metric in a real Prometheus and the bot serving HTTP."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from tests.e2e.bot_under_test import start_bot
from tests.harness.prometheus_server import BackfillSeries, backfill, start_prometheus

STEP = 60.0
CHANNEL = "alerts-api"
SPIKE_STEPS = [
    "Step 1. Timeframe analysis", "Step 2. Baseline comparison", "Step 3a. Spike analysis",
    "Step 4. Multi-metric correlation", "Step 6. Hypothesis validation", "Step 7. Action plan or escalation",
    "Step 8. Enhanced monitoring",
]
MONITORS = f"""
monitors:
  - name: api-latency
    source: prometheus
    query: api_latency_ms
    interval: 1m
    channel: "#{CHANNEL}"
    labels: {{service: api}}
    detector: {{name: sigma, window: 5m, baseline: 2d, threshold: 3}}
"""


@pytest.fixture(scope="package")
def spiking_prometheus(tmp_path_factory):
    """api_latency_ms at 1-minute steps for 3 days; +80 ms for the last 20 minutes and on."""
    now = math.floor(time.time() / STEP) * STEP
    timestamps = np.arange(now - 3 * 86400, now + 3600, STEP)
    rng = np.random.default_rng(5)
    values = 120 + rng.normal(0, 4, timestamps.size)
    values[timestamps >= now - 1200] += 80
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    backfill(data_dir, [BackfillSeries("api_latency_ms", {"service": "api", "region": "eu-west-1"},
                                       timestamps, values)])
    server = start_prometheus(data_dir)
    yield server
    server.stop()


@pytest.fixture
def people(slack):
    slack.add_channel(CHANNEL)
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    senior = slack.add_usergroup("oncall-senior", [alice])
    return {"alice": alice, "bob": bob, "senior_group": senior}


@pytest.fixture
def bot(redis_server, redis_client, spiking_prometheus, slack, people):
    running = start_bot(redis_url=redis_server.url, prometheus_url=spiking_prometheus.url, slack=slack,
                        monitors_yaml=MONITORS, groups={"resolve": ["oncall-senior"]})
    yield running
    running.stop()
