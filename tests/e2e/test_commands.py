"""Every `/anomaly` command as Slack sends it, signed, over real HTTP."""

from __future__ import annotations

import time

from tests.e2e.bot_under_test import SIGNING_SECRET
from tests.e2e.conftest import CHANNEL
from tests.harness.processes import wait_until
from tests.slack_emulator import post_signed, slash_command_body


def _run(bot, slack, user, text, *, timestamp=None, secret=SIGNING_SECRET):
    channel = slack.workspace.channel_named(CHANNEL).id
    url = slack.new_response_url(channel=channel)
    body = slash_command_body(text=text, user_id=user, channel_id=channel, response_url=url)
    started = time.monotonic()
    response = post_signed(bot.events_url, body, secret=secret, timestamp=timestamp)
    elapsed = time.monotonic() - started
    return response, url, elapsed, body


def _posts(slack, url, count=1):
    wait_until(lambda: len(slack.response_posts(url)) >= count, timeout=15, what="response_url post")
    return [post.body for post in slack.response_posts(url)]


def test_help_and_status(bot, slack, people):
    response, _, elapsed, _ = _run(bot, slack, people["alice"], "help")
    assert response.status_code == 200
    assert elapsed < 3
    assert "/anomaly triage <metric selector or incident id> [window]" in response.text

    bot.poller.poll(bot.monitors["api-latency"])
    response, *_ = _run(bot, slack, people["alice"], "status")
    assert "1 open incident(s)" in response.text
    assert "high spike on `api-latency {region=eu-west-1, service=api}`" in response.text


def test_ack_and_resolve_by_command(bot, slack, people):
    report = bot.poller.poll(bot.monitors["api-latency"])
    incident_id = report.opened[0]

    response, url, elapsed, _ = _run(bot, slack, people["bob"], f"ack {incident_id}")
    assert response.status_code == 200
    assert elapsed < 3
    assert f"Working on incident {incident_id}" in response.text
    assert "acknowledged the incident" in _posts(slack, url)[0]["text"]
    assert bot.store.get_incident(incident_id).acknowledged_by == people["bob"]

    _, url, _, _ = _run(bot, slack, people["bob"], f"resolve {incident_id}")
    assert "Only members of @oncall-senior may resolve" in _posts(slack, url)[0]["text"]
    assert bot.store.get_incident(incident_id).status == "acknowledged"

    _, url, _, _ = _run(bot, slack, people["alice"], f"resolve #{incident_id}")
    assert "resolved the incident" in _posts(slack, url)[0]["text"]
    assert bot.store.get_incident(incident_id).status == "resolved"

    _, url, _, _ = _run(bot, slack, people["alice"], "ack 999")
    assert "Incident 999 was not found" in _posts(slack, url)[0]["text"]


def test_silence_suppresses_then_unsilence(bot, slack, people):
    response, url, _, _ = _run(bot, slack, people["alice"], "silence api-latency 2h deploy in progress")
    assert response.status_code == 200
    posted = _posts(slack, url)[0]
    assert posted["response_type"] == "in_channel"
    assert "silenced `api-latency` until" in posted["text"]
    assert "deploy in progress" in posted["text"]

    report = bot.poller.poll(bot.monitors["api-latency"])
    assert report.opened == []
    assert len(report.silenced) == 1
    assert slack.messages(CHANNEL) == [m for m in slack.messages(CHANNEL) if "silenced" in m.get("text", "")]

    response, *_ = _run(bot, slack, people["alice"], "status")
    assert "`api-latency` until" in response.text

    _, url, _, _ = _run(bot, slack, people["alice"], "unsilence api-latency")
    assert "alerts resume" in _posts(slack, url)[0]["text"]
    report = bot.poller.poll(bot.monitors["api-latency"], now=time.time() + 60)
    assert len(report.opened) == 1


def test_silence_by_selector(bot, slack, people):
    _, url, _, _ = _run(bot, slack, people["alice"], 'silence {region="eu-west-1"} 30m')
    assert "silenced `{region=\"eu-west-1\"}`" in _posts(slack, url)[0]["text"]
    report = bot.poller.poll(bot.monitors["api-latency"])
    assert report.opened == []
    assert len(report.silenced) == 1


def test_digest_posted_in_channel(bot, slack, people):
    bot.poller.poll(bot.monitors["api-latency"])
    _, url, _, _ = _run(bot, slack, people["alice"], "digest")
    posted = _posts(slack, url)[0]
    assert posted["response_type"] == "in_channel"
    assert "*Anomaly digest*: 1 incident(s) in the last 24 hours" in posted["text"]
    assert "by confidence: high 1, medium 0, low 0" in posted["text"]


def test_triage_selector_and_incident(bot, slack, people):
    response, url, elapsed, _ = _run(bot, slack, people["alice"], 'triage api_latency_ms{service="api"} 10m')
    assert elapsed < 3
    assert "Running the detection now" in response.text
    text = _posts(slack, url)[0]["text"]
    assert 'Triage of `api_latency_ms{service="api"}`: 1 of 1 series anomalous in the last 10m' in text
    assert "region=eu-west-1, service=api" in text
    assert "*spike*, high confidence" in text

    report = bot.poller.poll(bot.monitors["api-latency"])
    _, url, _, _ = _run(bot, slack, people["alice"], f"triage {report.opened[0]}")
    assert f"Incident {report.opened[0]}: Triage of `api_latency_ms`" in _posts(slack, url)[0]["text"]


def test_malformed_commands_change_nothing(bot, slack, people):
    cases = {
        "frobnicate": ("`frobnicate` is not a command I know", "/anomaly help"),
        "ack": ("`ack` needs an incident id (a number), and got nothing", "/anomaly ack 42"),
        "ack abc": ("and got `abc`", "/anomaly ack 42"),
        "silence api-latency": ("needs a monitor or selector and a duration", "/anomaly silence api-cpu 2h"),
        "silence api-latency forever": ("`forever` is not a duration", "/anomaly silence api-cpu 2h"),
        "silence api-latency 90d": ("`90d` is out of range", "/anomaly silence api-cpu 2h"),
        "silence nosuchmonitor 1h": ("`nosuchmonitor` is neither a monitor nor a selector", "api-cpu 2h"),
        'silence {region=eu} 1h': ("is not a label matcher", 'silence {service="api"} 2h'),
        "status now": ("`status` takes no arguments and got `now`", "/anomaly status"),
        "triage": ("`triage` needs a metric selector or an incident id", "/anomaly triage"),
        "unsilence": ("`unsilence` takes one monitor name", "/anomaly unsilence api-cpu"),
    }
    for text, (problem, example) in cases.items():
        response, *_ = _run(bot, slack, people["alice"], text)
        assert response.status_code == 200, text
        assert problem in response.text, (text, response.text)
        assert example in response.text, (text, response.text)
        assert f"I understood `/anomaly {text}`" in response.text, text

    assert bot.store.redis.hlen("anomalybot:silences") == 0
    assert bot.store.open_incident_ids() == []


def test_forged_and_replayed_requests_rejected(bot, slack, people):
    response, *_ = _run(bot, slack, people["alice"], "status", secret="not-the-secret")
    assert response.status_code == 401

    response, *_ = _run(bot, slack, people["alice"], "status", timestamp=int(time.time()) - 301)
    assert response.status_code == 401

    channel = slack.workspace.channel_named(CHANNEL).id
    body = slash_command_body(text="silence api-latency 1h", user_id=people["alice"], channel_id=channel,
                              response_url=slack.new_response_url(channel=channel))
    sent_at = int(time.time())
    first = post_signed(bot.events_url, body, secret=SIGNING_SECRET, timestamp=sent_at)
    replay = post_signed(bot.events_url, body, secret=SIGNING_SECRET, timestamp=sent_at)
    assert first.status_code == 200
    assert replay.status_code == 401
    wait_until(lambda: bot.store.redis.hlen("anomalybot:silences") == 1, timeout=10, what="one silence")
    time.sleep(0.5)
    assert bot.store.redis.hlen("anomalybot:silences") == 1
