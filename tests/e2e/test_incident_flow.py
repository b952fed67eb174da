"""One incident through the whole product: card, chart, thread, every button, over real HTTP."""

from __future__ import annotations

import json
import re
import time

import httpx

from bot.incident import Hypothesis
from tests.e2e.bot_under_test import EVENTS_SECRET, SIGNING_SECRET
from tests.e2e.conftest import CHANNEL, SPIKE_STEPS
from tests.harness.processes import wait_until
from tests.slack_emulator import block_actions_body, post_signed


def _open_incident(bot, slack):
    report = bot.poller.poll(bot.monitors["api-latency"])
    assert len(report.opened) == 1
    incident = bot.store.get_incident(report.opened[0])
    wait_until(lambda: bot.store.posted(f"incident:{incident.id}:chart") is not None, timeout=10,
               what="card, steps and chart")
    return bot.store.get_incident(incident.id)


def _click(bot, slack, incident, action_id, user, value=None, *, body=None):
    body = body or block_actions_body(
        action_id=action_id, value=value or incident.id, user_id=user, channel_id=incident.card_channel,
        message_ts=incident.card_ts, response_url=slack.new_response_url(channel=incident.card_channel,
                                                                         message_ts=incident.card_ts),
    )
    started = time.monotonic()
    response = post_signed(bot.events_url, body, secret=SIGNING_SECRET)
    assert response.status_code == 200
    # Slack shows an error to the user when the ack takes longer than 3 seconds.
    assert time.monotonic() - started < 3
    return body


def _notes(slack, incident):
    return [reply["text"] for reply in slack.replies(CHANNEL, incident.card_ts)
            if reply.get("blocks") and reply["blocks"][0]["type"] == "context"]


def _card(slack):
    (card,) = slack.messages(CHANNEL)
    return card


def _ephemeral_texts(slack):
    return [post.body.get("text", "") for post in slack.response_posts()]


def test_card_chart_and_thread(bot, slack, people, tmp_path):
    incident = _open_incident(bot, slack)
    card = _card(slack)

    assert card["ts"] == incident.card_ts
    header = card["blocks"][0]["text"]["text"]
    assert header.startswith(f"{incident.severity} · High confidence spike: api-latency")
    # The notification text separates the latest deviation from the strongest p-value.
    assert re.search(r": now \S+ against \S+ \([+-]\d+\.\d\dσ\), strongest p [<=] ", card["text"])
    fields = [field["text"] for field in card["blocks"][1]["fields"]]
    assert fields[0].startswith("*Current*\n")
    assert re.match(r"\*Deviation\*\n\+\d+\.\d\dσ", fields[1])
    assert "high" in fields[2]
    assert fields[5] == "*Status*\nOpen"
    assert "of 38m playbook budget" in fields[6]
    buttons = [element["action_id"] for element in card["blocks"][-1]["elements"]]
    assert buttons == ["incident_ack", "incident_resolve", "incident_snooze", "incident_escalate",
                       "incident_war_room", "incident_not_anomaly"]
    (tmp_path / "card.json").write_text(json.dumps(card["blocks"], indent=2))
    print(f"\nrendered card JSON: {tmp_path / 'card.json'}")

    replies = slack.replies(CHANNEL, card["ts"])[1:]
    steps = [reply["text"].split(":")[0] for reply in replies if reply.get("text", "").startswith("Step")]
    assert steps == SPIKE_STEPS
    step_texts = {reply["text"].split(":")[0]: reply["text"] for reply in replies}
    correlation = step_texts["Step 4. Multi-metric correlation"]
    print(f"step 4 as posted:\n{correlation}")
    assert "Residuals correlated with api-latency" in correlation
    assert "Where the change is concentrated:" in correlation
    assert "region" in correlation
    assert "`(api_latency_ms) offset 7d`" in step_texts["Step 6. Hypothesis validation"]
    assert "escalates to the senior engineer (@oncall-senior)" in step_texts["Step 7. Action plan or escalation"]
    assert "alert: ApiLatencyAnomaly" in step_texts["Step 8. Enhanced monitoring"]
    assert "budget 2m" in replies[0]["blocks"][0]["text"]["text"]
    assert re.search(r"mean [\d.,]+ \(baseline mean [\d.,]+, \+\d+\.\d% change\)", replies[0]["text"])

    uploads = slack.calls_to("files.completeUploadExternal")
    assert len(uploads) == 1
    assert uploads[0].params["thread_ts"] == card["ts"]
    file_id = bot.store.posted(f"incident:{incident.id}:chart")["ts"]
    chart = slack.uploaded_file(file_id)
    assert chart.content.startswith(b"\x89PNG")
    (tmp_path / "chart.png").write_bytes(chart.content)
    print(f"chart image: {tmp_path / 'chart.png'}")


def test_every_button(bot, slack, people):
    incident = _open_incident(bot, slack)
    alice, bob = people["alice"], people["bob"]

    # Acknowledge, then the same click delivered again (a Slack retry), then a second click.
    body = _click(bot, slack, incident, "incident_ack", alice)
    wait_until(lambda: any("acknowledged the incident" in n for n in _notes(slack, incident)), timeout=10,
               what="acknowledge line")
    time.sleep(1.1)  # a retry carries a new request timestamp, hence a new signature
    _click(bot, slack, incident, "incident_ack", alice, body=body)
    _click(bot, slack, incident, "incident_ack", bob)
    wait_until(lambda: any("already acknowledged" in text for text in _ephemeral_texts(slack)), timeout=10,
               what="second click answered")
    assert sum("acknowledged the incident" in n for n in _notes(slack, incident)) == 1
    assert f"Acknowledged by <@{alice}>" in _card(slack)["blocks"][1]["fields"][5]["text"]

    _click(bot, slack, incident, "incident_snooze", alice, value=f"{incident.id}:3600")
    wait_until(lambda: any("snoozed the incident for 1h" in n for n in _notes(slack, incident)), timeout=10,
               what="snooze line")

    _click(bot, slack, incident, "incident_escalate", alice)
    wait_until(lambda: any("escalated the incident" in n for n in _notes(slack, incident)), timeout=10,
               what="escalation line")
    (escalation,) = [n for n in _notes(slack, incident) if "escalated" in n]
    assert f"to the senior engineer: <!subteam^{people['senior_group']}>" in escalation

    _click(bot, slack, incident, "incident_war_room", alice)
    _click(bot, slack, incident, "incident_war_room", alice)
    wait_until(lambda: bot.store.get_incident(incident.id).war_room is not None, timeout=10, what="war room")
    wait_until(lambda: len(_ephemeral_texts(slack)) >= 2, timeout=10, what="second war-room click answered")
    room = bot.store.get_incident(incident.id).war_room
    created = [call for call in slack.calls_to("conversations.create") if call.ok]
    assert len(created) == 1
    assert re.fullmatch(r"inc-\d{8}-api-latency-\d+", created[0].params["name"])
    assert "The card and its playbook thread: http" in slack.messages(room)[0]["text"]
    assert alice in slack.workspace.channel(room).members
    assert f"<#{room}>" in _card(slack)["blocks"][2]["elements"][0]["text"]

    # Hypotheses: bob may confirm, but rejecting needs no group here; resolving needs @oncall-senior.
    bot.store.update_incident(incident.id, lambda current: current.model_copy(update={"hypotheses": [
        Hypothesis(id="h1", title="Deployment of api v2.3", evidence="deployed 4 minutes before", query="up"),
        Hypothesis(id="h2", title="Database saturation", evidence="db p99 rose first"),
    ]}))
    bot.notifier.refresh_hypotheses(bot.store.get_incident(incident.id))
    _click(bot, slack, incident, "hypothesis_reject", bob, value=f"{incident.id}:h2")
    _click(bot, slack, incident, "hypothesis_confirm", bob, value=f"{incident.id}:h1")
    wait_until(lambda: bot.store.get_incident(incident.id).current_step == "7", timeout=10, what="confirm")
    decided = {h.id: h.status for h in bot.store.get_incident(incident.id).hypotheses}
    assert decided == {"h1": "confirmed", "h2": "rejected"}

    _click(bot, slack, incident, "incident_resolve", bob)
    wait_until(lambda: any("Only members of @oncall-senior may resolve" in t for t in _ephemeral_texts(slack)),
               timeout=10, what="permission refusal")
    assert bot.store.get_incident(incident.id).status == "acknowledged"

    _click(bot, slack, incident, "incident_not_anomaly", alice)
    wait_until(lambda: bot.store.get_incident(incident.id).status == "resolved", timeout=10, what="resolve")
    final = bot.store.get_incident(incident.id)
    assert final.resolution == "not_anomaly"
    wait_until(lambda: _card(slack)["blocks"][-1]["type"] != "actions", timeout=10, what="card without buttons")
    assert "Resolved (not an anomaly) by" in _card(slack)["blocks"][1]["fields"][5]["text"]
    # One card, updated in place every time.
    assert len(slack.messages(CHANNEL)) == 1
    assert {call.params["ts"] for call in slack.calls_to("chat.update") if call.params.get("channel")
            == incident.card_channel and "blocks" in call.params and call.params["ts"] == incident.card_ts}


def test_deployment_event_becomes_top_hypothesis(bot, slack, people):
    deployed_at = time.time() - 25 * 60
    response = httpx.post(f"{bot.url}/events", json={
        "type": "deployment", "service": "api", "version": "v2.3.1", "time": deployed_at,
        "link": "https://ci.example.com/runs/42"}, headers={"Authorization": f"Bearer {EVENTS_SECRET}"})
    assert response.status_code == 201

    incident = _open_incident(bot, slack)
    wait_until(lambda: bool(bot.store.get_incident(incident.id).hypotheses), timeout=10, what="hypotheses")
    top = bot.store.get_incident(incident.id).hypotheses[0]
    assert "v2.3.1" in top.title
    assert "before the anomaly started" in top.evidence

    wait_until(lambda: bot.store.posted(f"incident:{incident.id}:hypotheses") is not None, timeout=10,
               what="hypotheses reply")
    (reply,) = [r for r in slack.replies(CHANNEL, incident.card_ts) if r.get("text", "").startswith("Root-cause")]
    actions = [b for b in reply["blocks"] if b["type"] == "actions"]
    assert len(actions) == 3
    assert actions[0]["elements"][0]["action_id"] == "hypothesis_confirm"
