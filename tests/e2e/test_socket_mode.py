"""Socket Mode: with an app-level token, commands and clicks arrive over a WebSocket and are acked there."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.service import start_socket_mode
from bot.slack.app import build_app
from tests.e2e.bot_under_test import SIGNING_SECRET
from tests.e2e.conftest import CHANNEL
from tests.harness.processes import wait_until
from tests.slack_emulator.socket_mode import SocketModeServer


@pytest.fixture
def socket_mode(bot, slack):
    server = SocketModeServer().start()
    slack.socket_mode_url = server.url
    app = build_app(signing_secret=SIGNING_SECRET, client=WebClient(token=slack.token, base_url=slack.base_url),
                    services=bot.services)
    handler = start_socket_mode(app, slack.app_token)
    wait_until(server.connected, timeout=10, what="Socket Mode connection")
    yield server
    handler.close()
    server.stop()


def _command(slack, people, text: str) -> dict:
    channel = slack.workspace.channel_named(CHANNEL).id
    return {"command": "/anomaly", "text": text, "user_id": people["alice"], "user_name": "alice",
            "channel_id": channel, "channel_name": CHANNEL, "team_id": "T0001",
            "response_url": slack.new_response_url(channel=channel), "trigger_id": "1.2.abc",
            "api_app_id": "A0EMULATOR"}


def test_commands_over_socket_mode(socket_mode, bot, slack, people):
    ack = socket_mode.wait_ack(socket_mode.send("slash_commands", _command(slack, people, "help")))
    assert "/anomaly status" in ack["payload"]["text"]

    report = bot.poller.poll(bot.monitors["api-latency"])
    ack = socket_mode.wait_ack(socket_mode.send("slash_commands", _command(slack, people, "status")))
    assert "1 open incident(s)" in ack["payload"]["text"]

    ack = socket_mode.wait_ack(socket_mode.send("slash_commands", _command(slack, people, "ack nope")))
    assert "`ack` needs an incident id (a number), and got `nope`" in ack["payload"]["text"]

    incident = bot.store.get_incident(report.opened[0])
    click = {
        "type": "block_actions", "user": {"id": people["alice"], "name": "alice"}, "api_app_id": "A0EMULATOR",
        "team": {"id": "T0001"}, "channel": {"id": incident.card_channel},
        "container": {"type": "message", "message_ts": incident.card_ts, "channel_id": incident.card_channel},
        "message": {"ts": incident.card_ts, "text": ""}, "response_url": slack.new_response_url(),
        "trigger_id": "1.2.def",
        "actions": [{"type": "button", "action_id": "incident_ack", "block_id": f"incident:{incident.id}",
                     "value": incident.id, "action_ts": "1800000000.000100"}],
    }
    socket_mode.wait_ack(socket_mode.send("interactive", click))
    wait_until(lambda: bot.store.get_incident(incident.id).status == "acknowledged", timeout=10,
               what="acknowledged over Socket Mode")
    assert bot.store.get_incident(incident.id).acknowledged_by == people["alice"]


def test_bot_token_cannot_open_socket_mode(slack):
    from slack_sdk.errors import SlackApiError

    slack.socket_mode_url = "ws://127.0.0.1:1/link"
    with pytest.raises(SlackApiError) as caught:
        WebClient(token=slack.token, base_url=slack.base_url).apps_connections_open(app_token=slack.token)
    assert caught.value.response["error"] == "not_allowed_token_type"
