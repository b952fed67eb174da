"""Posting cards through the real slack_sdk to the emulator: limits, errors and crash recovery."""

from __future__ import annotations

import logging
import time

import pytest
from slack_sdk import WebClient

from bot.analysis import STEP_FIELDS
from bot.incident import Incident
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.settings import PLAYBOOKS_DIR
from bot.slack.gateway import WebGateway
from bot.store import Store

CHANNEL = "alerts-api"


def _incident(**changes) -> Incident:
    fields = dict(
        id="1", fingerprint="fp1", monitor="api-latency", query="histogram_quantile(0.99, ...)",
        labels={"service": "api"}, channel=f"#{CHANNEL}", playbook="metric_anomaly",
        opened_at=1_000.0, updated_at=1_000.0, anomaly_start=900.0, last_anomalous_at=1_000.0,
        detector="sigma", kind="spike", direction="above", tier="high", p_value=0.0004,
        deviation=5.2, peak_deviation=5.2, current=480.0, expected=210.0, baseline_mean=210.0,
        baseline_std=52.0,
    )
    fields.update(changes)
    return Incident(**fields)


@pytest.fixture
def parts(redis_client, slack):
    slack.add_channel(CHANNEL)
    sleeps: list[float] = []
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=sleeps.append)
    store = Store(redis_client)
    notifier = Notifier(store=store, gateway=gateway,
                        playbooks=load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS))
    return store, gateway, notifier, sleeps


def _fields() -> dict[str, str]:
    return {name: f"<{name}>" for name in STEP_FIELDS}


def _open(store: Store, incident: Incident) -> Incident:
    created, _ = store.create_incident(lambda new_id: incident.model_copy(update={"id": new_id}))
    return created


def test_card_and_steps_posted_once(parts, slack):
    store, _, notifier, _ = parts
    incident = _open(store, _incident())

    published = notifier.publish(incident, now=1_060.0, fields=_fields())
    notifier.publish(store.get_incident(incident.id), now=1_120.0, fields=_fields())

    (card,) = slack.messages(CHANNEL)
    assert published.card_ts == card["ts"]
    assert store.get_incident(incident.id).card_ts == card["ts"]
    replies = slack.replies(CHANNEL, card["ts"])[1:]
    assert [reply["text"].split(":")[0] for reply in replies] == [
        "Step 1. Timeframe analysis", "Step 2. Baseline comparison", "Step 3a. Spike analysis",
        "Step 4. Multi-metric correlation", "Step 6. Hypothesis validation", "Step 7. Action plan or escalation",
        "Step 8. Enhanced monitoring",
    ]
    assert "<hour_mean>" in replies[0]["text"]
    assert len(slack.calls_to("chat.update")) == 1
    assert len(slack.calls_to("chat.postMessage")) == 8


def test_card_respects_block_limits_with_long_labels(parts, slack):
    store, _, notifier, _ = parts
    labels = {f"label_{index}": "x" * 60 for index in range(12)}
    incident = _open(store, _incident(labels=labels))

    notifier.publish(incident, now=1_060.0)

    (card,) = slack.messages(CHANNEL)
    header = card["blocks"][0]["text"]["text"]
    assert len(header) == 150
    assert header.endswith("…(truncated)")
    assert all(call.ok for call in slack.calls_to("chat.postMessage"))


def test_rate_limit_retried_after_retry_after(parts, slack):
    store, _, notifier, sleeps = parts
    slack.rate_limit_next("chat.postMessage", retry_after=2, count=2)
    incident = _open(store, _incident())

    notifier.publish(incident, now=1_060.0)

    assert sleeps == [2.0, 2.0]
    assert len(slack.messages(CHANNEL)) == 1
    statuses = [call.status for call in slack.calls_to("chat.postMessage")]
    assert statuses == [429, 429, 200]


def test_channel_not_found_logged_then_posted_when_fixed(parts, slack, caplog):
    store, _, notifier, _ = parts
    incident = _open(store, _incident(channel="#no-such-channel"))

    with caplog.at_level(logging.ERROR):
        returned = notifier.publish(incident, now=1_060.0, fields=_fields())

    assert returned.card_ts is None
    assert store.get_incident(incident.id).card_ts is None
    assert "card incident:1:card not delivered, Slack error channel_not_found in #no-such-channel" in caplog.text
    assert len(pipeline_dead := store.redis.lrange("anomalybot:outbox:dead", 0, -1)) == 8, pipeline_dead

    slack.add_channel("no-such-channel")
    notifier.publish(store.get_incident(incident.id), now=1_120.0, fields=_fields())
    assert len(slack.messages("no-such-channel")) == 1


def test_not_in_channel_joins_and_posts(parts, slack):
    store, _, notifier, _ = parts
    slack.add_channel("outside", member=False)
    incident = _open(store, _incident(channel="#outside"))

    notifier.publish(incident, now=1_060.0)

    assert len(slack.calls_to("conversations.join")) == 1
    assert len(slack.messages("outside")) == 1


def test_post_interrupted_by_crash_not_repeated(parts, slack):
    store, gateway, notifier, _ = parts
    incident = _open(store, _incident())
    post_key = f"incident:{incident.id}:card"
    # A process marked the card pending and posted it, then died before storing its ts.
    store.mark_post_pending(post_key)
    channel_id, ts = gateway.post(f"#{CHANNEL}", {"text": "card"}, post_key=post_key)

    published = notifier.publish(incident, now=1_060.0)

    assert published.card_ts == ts
    assert published.card_channel == channel_id
    assert len(slack.messages(CHANNEL)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert len(slack.calls_to("chat.update")) == 0


def test_post_lock_of_dead_process_defers_not_drops(redis_client, slack):
    """A process died after posting the card while holding its post lock: nothing is lost or doubled."""
    slack.add_channel(CHANNEL)
    now = {"t": 1_060.0}
    store = Store(redis_client)
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=lambda _: None)
    notifier = Notifier(store=store, gateway=gateway, playbooks=load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS),
                        clock=lambda: now["t"])
    incident = _open(store, _incident())
    post_key = f"incident:{incident.id}:card"
    store.mark_post_pending(post_key)
    gateway.post(f"#{CHANNEL}", {"text": "card"}, post_key=post_key)
    redis_client.set(store.key("lock", f"post:{post_key}"), "dead-process", px=300)

    notifier.publish(incident, now=now["t"], fields=_fields())

    assert len(slack.messages(CHANNEL)) == 1
    assert slack.replies(CHANNEL, slack.messages(CHANNEL)[0]["ts"])[1:] == []
    assert notifier.outbox.pending(incident.id) == 1 + 7
    assert notifier.outbox.dead_letters() == []

    time.sleep(0.4)  # the dead process's lock expires
    now["t"] += 10  # past the stream's pause
    notifier.deliver(incident.id)

    (card,) = slack.messages(CHANNEL)
    assert store.get_incident(incident.id).card_ts == card["ts"]
    steps = [reply["text"] for reply in slack.replies(CHANNEL, card["ts"])[1:]]
    assert len(steps) == 7
    assert notifier.outbox.pending(incident.id) == 0
    assert notifier.outbox.dead_letters() == []
