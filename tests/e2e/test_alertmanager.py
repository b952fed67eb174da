"""Alertmanager end to end: a real Prometheus evaluates the guide's CPU anomaly rule,
a real Alertmanager posts the webhook, and the bot opens and resolves the incident."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from tests.e2e.bot_under_test import ALERTMANAGER_TOKEN
from tests.e2e.conftest import CHANNEL
from tests.harness.alertmanager_server import start_alertmanager, webhook_config
from tests.harness.processes import wait_until
from tests.harness.prometheus_server import BackfillSeries, backfill, start_prometheus

# The rule of the debugging guide, with `for: 0s` so the test need not wait two minutes.
RULES = """
groups:
- name: anomaly_detection
  rules:
  - alert: CPUAnomalyDetected
    expr: |
      (
        avg_over_time(cpu_usage_percent[5m]) -
        avg_over_time(cpu_usage_percent[7d] offset 7d)
      ) / stddev_over_time(cpu_usage_percent[7d] offset 7d) > 3
    for: 0s
    labels:
      severity: warning
      team: infrastructure
    annotations:
      summary: "CPU usage anomaly detected on {{ $labels.instance }}"
      description: "CPU usage is {{ $value }}σ above normal baseline"
      deviation: "{{ $value }}"
"""


@pytest.fixture
def alert_chain(tmp_path, bot):
    """Prometheus with 15 days of CPU history ending in a spike, and Alertmanager posting to the bot."""
    alertmanager = start_alertmanager(tmp_path, webhook_config(url=f"{bot.url}/alertmanager",
                                                                token=ALERTMANAGER_TOKEN))
    now = math.floor(time.time() / 60) * 60
    timestamps = np.arange(now - 15 * 86400, now + 1800, 60.0)
    values = 40 + np.random.default_rng(9).normal(0, 3, timestamps.size)
    values[timestamps >= now - 600] += 45
    data_dir = tmp_path / "prometheus" / "data"
    data_dir.parent.mkdir()
    backfill(data_dir, [BackfillSeries("cpu_usage_percent", {"instance": "db-1:9100"}, timestamps, values)])
    (data_dir.parent / "rules.yml").write_text(RULES)
    prometheus = start_prometheus(data_dir, config_text=(
        "global: {scrape_interval: 1h, evaluation_interval: 1s}\n"
        f"rule_files: [{data_dir.parent / 'rules.yml'}]\n"
        f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{alertmanager.port}']}}]}}]}}\n"
    ), extra_args=(
        # Prometheus drops an alert sent before it has discovered the Alertmanager and
        # resends after this delay (default 1m); a short delay keeps the test short.
        "--rules.alert.resend-delay=2s",
    ))
    yield prometheus, alertmanager
    prometheus.stop()
    alertmanager.stop()


def test_firing_alert_opens_incident_and_resolution_resolves_it(alert_chain, bot, slack):
    prometheus, alertmanager = alert_chain

    wait_until(lambda: len(slack.messages(CHANNEL)) == 1, timeout=60, what="card from the Alertmanager webhook")
    (card,) = slack.messages(CHANNEL)
    assert "CPUAnomalyDetected" in card["text"]
    (incident_id,) = bot.store.open_incident_ids()
    incident = bot.store.get_incident(incident_id)
    assert incident.detector == "alertmanager"
    assert incident.labels["instance"] == "db-1:9100"
    assert incident.deviation > 3
    assert incident.tier == "high"
    assert "avg_over_time(cpu_usage_percent[5m])" in incident.query
    wait_until(lambda: len(slack.replies(CHANNEL, card["ts"])) >= 8, timeout=15, what="playbook thread")
    steps = [r["text"] for r in slack.replies(CHANNEL, card["ts"]) if r.get("text", "").startswith("Step")]
    assert steps[0].startswith("Step 1. Timeframe analysis")
    assert any("the rule's expression: `(" in text for text in steps)

    # Alertmanager repeats the notification; the card is updated, never posted again.
    time.sleep(3)
    assert len(slack.messages(CHANNEL)) == 1

    # Resolve: the rule stops being evaluated, and the alert is ended through Alertmanager's API.
    prometheus.stop()
    (alert,) = httpx.get(f"{alertmanager.url}/api/v2/alerts").json()
    ended = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    response = httpx.post(f"{alertmanager.url}/api/v2/alerts", content=json.dumps([{
        "labels": alert["labels"], "annotations": alert["annotations"], "startsAt": alert["startsAt"],
        "endsAt": ended, "generatorURL": alert["generatorURL"],
    }]), headers={"Content-Type": "application/json"})
    assert response.status_code == 200

    wait_until(lambda: bot.store.get_incident(incident_id).status == "resolved", timeout=30, what="resolution")
    assert bot.store.get_incident(incident_id).resolved_by == "alertmanager"
    assert len(slack.messages(CHANNEL)) == 1


def test_webhook_rejects_bad_token_and_bad_body(bot):
    url = f"{bot.url}/alertmanager"
    payload = {"version": "4", "groupKey": "{}:{alertname=\"X\"}", "status": "firing", "alerts": []}

    assert httpx.post(url, json=payload).status_code == 401
    assert httpx.post(url, json=payload, headers={"Authorization": "Bearer wrong"}).status_code == 401

    good = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
    response = httpx.post(url, content=b"not json", headers={**good, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]

    response = httpx.post(url, json=payload, headers=good)
    assert response.status_code == 400
    assert "field 'alerts'" in response.json()["error"]

    response = httpx.post(url, json={**payload, "version": "3", "alerts": [{}]}, headers=good)
    assert response.status_code == 400
    assert "field 'version'" in response.json()["error"]
    assert bot.store.open_incident_ids() == []
