"""Slack rate limits and outages: every message delivered once and in order."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient

from bot.slack.gateway import WebGateway
from tests.e2e.conftest import CHANNEL, SPIKE_STEPS
from tests.harness.outage_proxy import OutageProxy
from tests.harness.processes import wait_until


def _drain(bot, incident_id, timeout=40.0):
    deadline = time.monotonic() + timeout
    while bot.notifier.outbox.pending(incident_id):
        assert time.monotonic() < deadline, "outbox did not drain"
        bot.notifier.deliver()
        time.sleep(0.2)


def _thread_texts(slack, incident):
    return [reply["text"] for reply in slack.replies(CHANNEL, incident.card_ts)[1:]]


def test_rate_limit_storm_delivers_everything_once_in_order(bot, slack, people):
    slack.set_rate_limit("chat.postMessage", calls=2, per_seconds=1)
    report = bot.poller.poll(bot.monitors["api-latency"])
    incident = bot.store.get_incident(report.opened[0])
    for number in range(1, 13):
        bot.notifier.note(incident, f"note {number:02d}")

    _drain(bot, incident.id)

    incident = bot.store.get_incident(incident.id)
    texts = _thread_texts(slack, incident)
    steps = [text.split(":")[0] for text in texts if text.startswith("Step")]
    notes = [text for text in texts if text.startswith("note ")]
    assert steps == SPIKE_STEPS
    assert notes == [f"note {number:02d}" for number in range(1, 13)]
    assert texts.index(notes[0]) > texts.index(next(t for t in texts if t.startswith("Step 8")))
    assert len(slack.messages(CHANNEL)) == 1
    limited = [call for call in slack.calls_to("chat.postMessage") if call.status == 429]
    assert len(limited) > 0
    assert bot.notifier.outbox.dead_letters() == []


@pytest.fixture
def outage(slack):
    proxy = OutageProxy(slack.root_url).start()
    yield proxy
    proxy.stop()


def test_outage_queues_in_redis_and_delivers_in_order(bot, slack, people, outage):
    gateway = WebGateway(WebClient(token=slack.token, base_url=outage.base_url), sleep=lambda _: None)
    bot.notifier.gateway = gateway
    outage.down = True

    report = bot.poller.poll(bot.monitors["api-latency"])
    incident = bot.store.get_incident(report.opened[0])
    for number in range(1, 6):
        bot.notifier.note(incident, f"during outage {number}")

    assert slack.messages(CHANNEL) == []
    assert outage.refused >= 1
    assert bot.notifier.outbox.pending(incident.id) >= 1 + 3 + 1 + 5
    assert bot.notifier.outbox.dead_letters() == []

    outage.down = False
    wait_until(lambda: bot.notifier.deliver() >= 0 and bot.notifier.outbox.pending(incident.id) == 0,
               timeout=30, what="delivery after the outage")

    incident = bot.store.get_incident(incident.id)
    (card,) = slack.messages(CHANNEL)
    assert card["ts"] == incident.card_ts
    texts = _thread_texts(slack, incident)
    assert [t for t in texts if t.startswith("during outage")] == [f"during outage {n}" for n in range(1, 6)]
    assert [t.split(":")[0] for t in texts if t.startswith("Step")] == SPIKE_STEPS
    assert texts.index("during outage 1") > texts.index(next(t for t in texts if t.startswith("Step 8")))
