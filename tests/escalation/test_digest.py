"""The daily digest: its figures, and one post per day however many workers run."""

from __future__ import annotations

import threading

from slack_sdk import WebClient

from bot.daily_digest import post_daily_digest
from bot.digest import build_digest, digest_text
from bot.incident import Hypothesis, Incident
from bot.lifecycle import acknowledge, resolve
from bot.silences import count_suppressed
from bot.slack.gateway import WebGateway
from bot.store import Store

NOW = 1_800_000_000.0


def _incident(store: Store, *, monitor: str, tier: str, kind: str, severity: str, opened: float) -> Incident:
    incident, _ = store.create_incident(lambda new_id: Incident(
        id=new_id, fingerprint=f"fp-{new_id}", monitor=monitor, query="q", labels={}, channel="#c",
        playbook="metric_anomaly", opened_at=opened, updated_at=opened, anomaly_start=opened - 90,
        last_anomalous_at=opened, detector="sigma", kind=kind, direction="above", tier=tier, p_value=0.001,
        deviation=4.0, peak_deviation=4.0, current=1.0, expected=0.5, baseline_mean=0.5, baseline_std=0.1,
        severity=severity, card_posted_at=opened + 30,
    ))
    return incident


def _seed(store: Store) -> None:
    first = _incident(store, monitor="api-latency", tier="high", kind="spike", severity="P1", opened=NOW - 7200)
    acknowledge(store, first.id, user="U1", now=NOW - 7200 + 120)
    resolve(store, first.id, user="U1", now=NOW - 7200 + 1200)
    second = _incident(store, monitor="queue-depth", tier="medium", kind="trend", severity="P2", opened=NOW - 3600)
    resolve(store, second.id, user="U2", now=NOW - 3000, not_anomaly=True)
    third = _incident(store, monitor="queue-depth", tier="medium", kind="drop", severity="P2", opened=NOW - 1800)
    store.update_incident(third.id, lambda current: current.model_copy(update={"hypotheses": [
        Hypothesis(id="h1", title="deploy", evidence="e", status="confirmed", decided_by="U3")]}))
    for _ in range(4):
        count_suppressed(store, monitor="queue-depth", now=NOW - 600, reason="rate")


def test_digest_figures(redis_client):
    store = Store(redis_client)
    _seed(store)

    text = digest_text(build_digest(store, end=NOW))
    print(f"\n{text}")

    assert text.splitlines()[0] == "*Anomaly digest*: 3 incident(s) in the last 24 hours"
    assert "• by confidence: high 1, medium 2, low 0" in text
    assert "• by type: spike 1, trend 1, oscillation 0, drop 1" in text
    assert "• by severity: P0 0, P1 1, P2 2" in text
    assert "• feedback: 2 confirmed, 1 marked not an anomaly (precision 67%)" in text
    assert "• suppressed alerts: 4 (most: queue-depth 4)" in text
    assert "• detection latency (sample time to card): p50 2m, p95 2m" in text
    assert "• time to acknowledge: p50 2m, p95 2m" in text
    assert "• MTTR: 15m over 2 resolved incident(s)" in text
    assert "• noisy: queue-depth (6 alerts, 1 not an anomaly): most of its incidents were not anomalies" in text


def test_two_workers_post_one_digest(redis_client, slack):
    store = Store(redis_client)
    _seed(store)
    slack.add_channel("oncall")

    results: list[bool] = []

    def worker() -> None:
        gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url))
        results.append(post_daily_digest(Store(redis_client), gateway, channel="#oncall", timezone="Europe/Berlin",
                                         now=NOW))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    (message,) = slack.messages("oncall")
    assert message["text"].startswith("*Anomaly digest*: 3 incident(s)")
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    # The next day posts again.
    assert post_daily_digest(store, WebGateway(WebClient(token=slack.token, base_url=slack.base_url)),
                             channel="#oncall", timezone="Europe/Berlin", now=NOW + 86400) is True
