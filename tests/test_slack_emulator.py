"""Tests of the Slack emulator, driven through the real slack_sdk client and Bolt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from werkzeug.serving import make_server

from tests.slack_emulator import (
    SlackEmulator,
    block_actions_body,
    post_signed,
    signature_headers,
    slash_command_body,
    validate_blocks,
)

SIGNING_SECRET = "emulator-test-signing-secret"


# The `slack` fixture (a started SlackEmulator) comes from tests/conftest.py.


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.base_url)


def api_error(call) -> SlackApiError:
    """Run `call` and return the SlackApiError it raises."""
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# Server basics.


def test_base_url_is_loopback_api_root(slack: SlackEmulator) -> None:
    assert slack.base_url == f"http://127.0.0.1:{slack.port}/api/"


def test_auth_test_describes_bot(slack: SlackEmulator, client: WebClient) -> None:
    response = client.auth_test()

    assert response["user_id"] == slack.bot_user_id
    assert response["team_id"] == "T0001"
    assert response["bot_id"] == slack.workspace.bot_id


def test_missing_token_is_not_authed(slack: SlackEmulator) -> None:
    anonymous = WebClient(base_url=slack.base_url)

    error = api_error(anonymous.auth_test)

    assert error.response["error"] == "not_authed"


def test_wrong_token_is_invalid_auth(slack: SlackEmulator) -> None:
    stranger = WebClient(token="xoxb-not-the-emulator-token", base_url=slack.base_url)

    error = api_error(stranger.auth_test)

    assert error.response["error"] == "invalid_auth"
    assert error.response.status_code == 200


def test_form_token_field_is_accepted(slack: SlackEmulator) -> None:
    channel = slack.add_channel("incidents")

    response = httpx.post(
        slack.base_url + "chat.postMessage",
        data={"token": slack.token, "channel": channel, "text": "from a form"},
    )

    assert response.json()["ok"] is True
    assert slack.messages(channel)[0]["text"] == "from a form"


def test_json_token_field_is_not_authed(slack: SlackEmulator) -> None:
    response = httpx.post(slack.base_url + "auth.test", json={"token": slack.token})

    assert response.status_code == 200
    assert response.json() == {"ok": False, "error": "not_authed"}


def test_query_token_is_not_authed(slack: SlackEmulator) -> None:
    response = httpx.post(slack.base_url + "auth.test", params={"token": slack.token})

    assert response.json() == {"ok": False, "error": "not_authed"}


def test_unknown_method_is_reported(slack: SlackEmulator, client: WebClient) -> None:
    error = api_error(lambda: client.api_call("chat.postMesage"))

    assert error.response["error"] == "unknown_method"
    assert error.response["req_method"] == "chat.postMesage"


def test_calls_are_recorded(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    client.chat_postMessage(channel=channel, text="first")
    api_error(lambda: client.chat_postMessage(channel="C9999", text="lost"))

    calls = slack.calls_to("chat.postMessage")

    assert [call.status for call in calls] == [200, 200]
    assert calls[0].params["text"] == "first"
    assert "token" not in calls[0].params
    assert calls[0].ok is True
    assert calls[1].error == "channel_not_found"


def test_reset_empties_workspace(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    client.chat_postMessage(channel=channel, text="before")

    slack.reset()

    assert slack.calls == []
    assert slack.workspace.channels == {}
    assert client.auth_test()["user_id"] == slack.bot_user_id


# chat.postMessage, chat.update and friends.


def test_post_reply_update_round_trip(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")

    parent = client.chat_postMessage(channel="#incidents", text="CPU anomaly on web-1")
    reply = client.chat_postMessage(channel=channel, text="Looking", thread_ts=parent["ts"])
    client.chat_update(channel=channel, ts=parent["ts"], text="CPU anomaly on web-1 (resolved)")

    assert parent["channel"] == channel
    assert float(reply["ts"]) > float(parent["ts"])
    top_level = slack.messages(channel)
    assert [m["text"] for m in top_level] == ["CPU anomaly on web-1 (resolved)"]
    assert top_level[0]["reply_count"] == 1
    assert top_level[0]["edited"]["user"] == slack.bot_user_id
    thread = slack.replies(channel, parent["ts"])
    assert [m["text"] for m in thread] == ["CPU anomaly on web-1 (resolved)", "Looking"]
    assert thread[1]["thread_ts"] == parent["ts"]


def test_ts_values_are_unique_and_increasing(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")

    stamps = [client.chat_postMessage(channel=channel, text=str(i))["ts"] for i in range(20)]

    assert len(set(stamps)) == 20
    assert [float(ts) for ts in stamps] == sorted(float(ts) for ts in stamps)
    seconds, _, micros = stamps[0].partition(".")
    assert seconds.isdigit() and len(micros) == 6


def test_reply_to_reply_joins_parent_thread(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    parent = client.chat_postMessage(channel=channel, text="parent")
    first = client.chat_postMessage(channel=channel, text="first", thread_ts=parent["ts"])

    client.chat_postMessage(channel=channel, text="second", thread_ts=first["ts"])

    assert [m["text"] for m in slack.replies(channel, parent["ts"])] == [
        "parent",
        "first",
        "second",
    ]


def test_post_to_user_id_opens_dm(slack: SlackEmulator, client: WebClient) -> None:
    oncall = slack.add_user("oncall")

    response = client.chat_postMessage(channel=oncall, text="You are paged")

    assert response["channel"].startswith("D")
    assert slack.messages(response["channel"])[0]["text"] == "You are paged"


@pytest.mark.parametrize(
    ("setup", "arguments", "expected_error"),
    [
        ("none", {"channel": "C9999", "text": "x"}, "channel_not_found"),
        ("none", {"channel": "#no-such-channel", "text": "x"}, "channel_not_found"),
        ("outside", {"text": "x"}, "not_in_channel"),
        ("archived", {"text": "x"}, "is_archived"),
        ("member", {}, "no_text"),
        ("member", {"text": ""}, "no_text"),
        ("member", {"text": "x", "blocks": "not json"}, "invalid_blocks_format"),
        ("member", {"text": "x", "metadata": {"event_type": "x"}}, "invalid_metadata_format"),
        ("member", {"text": "x", "attachments": [{"text": "a"}] * 101}, "too_many_attachments"),
    ],
)
def test_post_message_errors(
    slack: SlackEmulator, client: WebClient, setup: str, arguments: dict, expected_error: str
) -> None:
    channels = {
        "outside": slack.add_channel("outside", member=False),
        "archived": slack.add_channel("archived", archived=True),
        "member": slack.add_channel("member"),
    }
    arguments = {"channel": channels.get(setup), **arguments}

    error = api_error(lambda: client.api_call("chat.postMessage", json=arguments))

    assert error.response["error"] == expected_error
    assert error.response.status_code == 200


def test_post_message_without_channel_is_invalid_arguments(client: WebClient) -> None:
    error = api_error(lambda: client.api_call("chat.postMessage", json={"text": "x"}))

    assert error.response["error"] == "invalid_arguments"
    assert error.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: channel"
    ]


def test_long_text_is_truncated_with_warning(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")

    response = client.chat_postMessage(channel=channel, text="x" * 40001)

    assert response["warning"] == "message_truncated"
    assert response["response_metadata"]["warnings"] == ["message_truncated"]
    assert len(slack.messages(channel)[0]["text"]) == 40000


def test_fail_next_injects_msg_too_long(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    slack.fail_next("chat.postMessage", "msg_too_long")

    error = api_error(lambda: client.chat_postMessage(channel=channel, text="x"))
    retried = client.chat_postMessage(channel=channel, text="x")

    assert error.response["error"] == "msg_too_long"
    assert retried["ok"] is True
    assert len(slack.messages(channel)) == 1


def test_fail_next_rejects_unknown_method(slack: SlackEmulator) -> None:
    with pytest.raises(ValueError, match="chat.postMesage"):
        slack.fail_next("chat.postMesage")


def test_metadata_needs_include_all_metadata(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    metadata = {"event_type": "incident_opened", "event_payload": {"incident": "INC-7"}}
    client.chat_postMessage(channel=channel, text="INC-7", metadata=metadata)

    plain = client.conversations_history(channel=channel)
    detailed = client.conversations_history(channel=channel, include_all_metadata=True)

    assert "metadata" not in plain["messages"][0]
    assert detailed["messages"][0]["metadata"] == metadata


def test_update_replaces_and_removes_metadata(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    metadata = {"event_type": "incident_opened", "event_payload": {"incident": "INC-7"}}
    posted = client.chat_postMessage(channel=channel, text="INC-7", metadata=metadata)

    client.chat_update(channel=channel, ts=posted["ts"], text="INC-7 acked")
    kept = slack.messages(channel)[0]
    client.chat_update(channel=channel, ts=posted["ts"], text="INC-7 closed", metadata={})
    removed = slack.messages(channel)[0]

    assert kept["metadata"] == metadata
    assert "metadata" not in removed


@pytest.mark.parametrize(
    ("target", "expected_error"),
    [
        ("missing", "message_not_found"),
        ("human", "cant_update_message"),
        ("invalid_blocks", "invalid_blocks"),
        ("unknown_channel", "channel_not_found"),
    ],
)
def test_update_errors(
    slack: SlackEmulator, client: WebClient, target: str, expected_error: str
) -> None:
    channel = slack.add_channel("incidents")
    person = slack.add_user("alice", real_name="Alice")
    human_ts = slack.add_message(channel, "written by a person", user=person)
    bot_ts = client.chat_postMessage(channel=channel, text="bot message")["ts"]
    arguments = {
        "missing": {"channel": channel, "ts": "1.000001", "text": "x"},
        "human": {"channel": channel, "ts": human_ts, "text": "x"},
        "invalid_blocks": {"channel": channel, "ts": bot_ts, "text": "x", "blocks": [{}]},
        "unknown_channel": {"channel": "C9999", "ts": bot_ts, "text": "x"},
    }[target]

    error = api_error(lambda: client.api_call("chat.update", json=arguments))

    assert error.response["error"] == expected_error


def test_ephemeral_needs_user_in_channel(slack: SlackEmulator, client: WebClient) -> None:
    member = slack.add_user("member")
    outsider = slack.add_user("outsider")
    channel = slack.add_channel("incidents", members=[member])

    sent = client.chat_postEphemeral(channel=channel, user=member, text="only you")
    error = api_error(lambda: client.chat_postEphemeral(channel=channel, user=outsider, text="x"))

    assert sent["message_ts"]
    assert error.response["error"] == "user_not_in_channel"
    assert [m["recipient"] for m in slack.ephemeral_messages(channel)] == [member]
    assert slack.messages(channel) == []


def test_permalink_of_reply_names_thread(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    parent = client.chat_postMessage(channel=channel, text="parent")
    reply = client.chat_postMessage(channel=channel, text="reply", thread_ts=parent["ts"])

    link = client.chat_getPermalink(channel=channel, message_ts=reply["ts"])["permalink"]
    missing = api_error(lambda: client.chat_getPermalink(channel=channel, message_ts="1.000002"))

    assert f"/archives/{channel}/p{reply['ts'].replace('.', '')}" in link
    assert f"thread_ts={parent['ts']}" in link
    assert missing.response["error"] == "message_not_found"


# Block Kit limits.

OVER_LIMIT_BLOCKS = {
    "51 blocks": (
        [{"type": "divider"}] * 51,
        ["no more than 50 items allowed [json-pointer:/blocks]"],
    ),
    "3001-character section": (
        [section("x" * 3001)],
        [
            "failed to match all allowed schemas [json-pointer:/blocks/0/text]",
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ],
    ),
    "151-character header": (
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        [
            "failed to match all allowed schemas [json-pointer:/blocks/0/text]",
            "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        ],
    ),
    "76-character button text": (
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "ack",
                        "text": {"type": "plain_text", "text": "b" * 76},
                    }
                ],
            }
        ],
        [
            "failed to match all allowed schemas [json-pointer:/blocks/0/elements/0/text]",
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ],
    ),
    "11 section fields": (
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        ["no more than 10 items allowed [json-pointer:/blocks/0/fields]"],
    ),
    "256-character block_id": (
        [{"type": "divider", "block_id": "b" * 256}],
        ["must be less than 256 characters [json-pointer:/blocks/0/block_id]"],
    ),
}


@pytest.mark.parametrize("case", list(OVER_LIMIT_BLOCKS))
def test_over_limit_blocks_are_invalid(slack: SlackEmulator, client: WebClient, case: str) -> None:
    blocks, expected_errors = OVER_LIMIT_BLOCKS[case]
    channel = slack.add_channel("incidents")

    error = api_error(lambda: client.chat_postMessage(channel=channel, text="x", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"
    assert error.response["errors"] == expected_errors
    assert error.response["response_metadata"]["messages"] == [
        f"[ERROR] {message}" for message in expected_errors
    ]
    assert slack.messages(channel) == []


def test_blocks_at_limits_are_valid() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        section("s" * 3000),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {
            "type": "actions",
            "block_id": "b" * 255,
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "b" * 75},
                    "action_id": "a" * 255,
                    "value": "v" * 2000,
                    "style": "danger",
                }
            ]
            * 25,
        },
        {"type": "image", "image_url": "https://example.com/chart.png", "alt_text": "a" * 2000},
        {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]}
            ],
        },
        {"type": "divider"},
    ]
    blocks += [{"type": "divider"}] * (50 - len(blocks))

    assert validate_blocks(blocks) == []


def test_modal_allows_100_blocks(slack: SlackEmulator, client: WebClient) -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Silence"},
        "blocks": [{"type": "divider"}] * 100,
    }

    opened = client.views_open(trigger_id="1.2.abc", view=view)
    too_big = api_error(
        lambda: client.views_open(trigger_id="1.2.abc", view={**view, "blocks": view["blocks"] * 2})
    )

    assert opened["view"]["id"].startswith("V")
    assert slack.views[0]["trigger_id"] == "1.2.abc"
    assert too_big.response["errors"] == [
        "no more than 100 items allowed [json-pointer:/view/blocks]"
    ]


# Rate limiting and injected failures.


def test_rate_limited_call_has_retry_after(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    slack.rate_limit_next("chat.postMessage", retry_after=7)

    error = api_error(lambda: client.chat_postMessage(channel=channel, text="x"))

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert slack.messages(channel) == []


def test_retry_handler_waits_and_succeeds(
    slack: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=sleeps.append))
    retrying = WebClient(
        token=slack.token,
        base_url=slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    channel = slack.add_channel("incidents")
    slack.rate_limit_next("chat.postMessage", retry_after=2, count=2)

    response = retrying.chat_postMessage(channel=channel, text="after two 429s")

    assert response["ok"] is True
    assert [call.status for call in slack.calls_to("chat.postMessage")] == [429, 429, 200]
    assert len(sleeps) == 2
    assert all(2 <= seconds < 3 for seconds in sleeps)
    assert [m["text"] for m in slack.messages(channel)] == ["after two 429s"]


def test_rate_limit_counts_per_channel(slack: SlackEmulator, client: WebClient) -> None:
    first = slack.add_channel("first")
    second = slack.add_channel("second")
    slack.set_rate_limit("chat.postMessage", calls=1, per_seconds=60, per_channel=True)

    client.chat_postMessage(channel=first, text="1")
    client.chat_postMessage(channel=second, text="2")
    error = api_error(lambda: client.chat_postMessage(channel=first, text="3"))

    assert error.response.status_code == 429
    assert 1 <= int(error.response.headers["Retry-After"]) <= 60


def test_controlled_clock_ends_rate_limit_window() -> None:
    now = [1_733_333_333.0]
    with SlackEmulator(clock=lambda: now[0]) as slack:
        client = WebClient(token=slack.token, base_url=slack.base_url)
        slack.set_rate_limit("auth.test", calls=1, per_seconds=60)
        client.auth_test()
        limited = api_error(client.auth_test)

        now[0] += 61
        allowed = client.auth_test()

    assert limited.response.headers["Retry-After"] == "60"
    assert allowed["ok"] is True


# conversations.*


@pytest.mark.parametrize(
    ("name", "expected_error"),
    [
        ("", "invalid_name_required"),
        ("x" * 81, "invalid_name_maxlength"),
        ("Incidents", "invalid_name_specials"),
        ("inc 42", "invalid_name_specials"),
        ("inc.42", "invalid_name_specials"),
        ("inc#42", "invalid_name_specials"),
        ("---", "invalid_name_punctuation"),
        ("_-_", "invalid_name_punctuation"),
    ],
)
def test_create_rejects_bad_names(client: WebClient, name: str, expected_error: str) -> None:
    error = api_error(lambda: client.conversations_create(name=name))

    assert error.response["error"] == expected_error


@pytest.mark.parametrize("name", ["inc-42_cpu", "x" * 80, "インシデント-1", "42"])
def test_create_accepts_good_names(slack: SlackEmulator, client: WebClient, name: str) -> None:
    created = client.conversations_create(name=name)["channel"]

    assert created["name"] == name
    assert created["is_member"] is True
    assert slack.workspace.channels[created["id"]].creator == slack.bot_user_id


def test_create_name_taken_even_archived(slack: SlackEmulator, client: WebClient) -> None:
    slack.add_channel("inc-old", archived=True)
    client.conversations_create(name="inc-new")

    archived = api_error(lambda: client.conversations_create(name="inc-old"))
    active = api_error(lambda: client.conversations_create(name="inc-new"))

    assert archived.response["error"] == "name_taken"
    assert active.response["error"] == "name_taken"


@pytest.mark.parametrize(
    ("users", "bot_is_member", "expected_error"),
    [
        ("alice", True, "already_in_channel"),
        ("U9999", True, "user_not_found"),
        ("bot", True, "cant_invite_self"),
        ("", True, "no_user"),
        ("bob", False, "not_in_channel"),
    ],
)
def test_invite_errors(
    slack: SlackEmulator, client: WebClient, users: str, bot_is_member: bool, expected_error: str
) -> None:
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    channel = slack.add_channel("incidents", member=bot_is_member, members=[alice])
    user_ids = {"alice": alice, "bob": bob, "bot": slack.bot_user_id}.get(users, users)

    error = api_error(lambda: client.conversations_invite(channel=channel, users=user_ids))

    assert error.response["error"] == expected_error
    assert slack.workspace.channels[channel].members.count(bob) == 0


def test_invite_adds_users(slack: SlackEmulator, client: WebClient) -> None:
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    channel = slack.add_channel("incidents")

    client.conversations_invite(channel=channel, users=[alice, bob])

    assert slack.workspace.channels[channel].members == [slack.bot_user_id, alice, bob]


def test_join_info_archive_unarchive(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents", member=False)

    joined = client.conversations_join(channel=channel)
    again = client.conversations_join(channel=channel)
    info = client.conversations_info(channel=channel, include_num_members=True)
    client.conversations_archive(channel=channel)
    archived_twice = api_error(lambda: client.conversations_archive(channel=channel))
    archived_post = api_error(lambda: client.chat_postMessage(channel=channel, text="x"))
    client.conversations_unarchive(channel=channel)
    not_archived = api_error(lambda: client.conversations_unarchive(channel=channel))

    assert joined["channel"]["is_member"] is True
    assert again["warning"] == "already_in_channel"
    assert info["channel"]["num_members"] == 1
    assert archived_twice.response["error"] == "already_archived"
    assert archived_post.response["error"] == "is_archived"
    assert not_archived.response["error"] == "not_archived"


def test_private_channel_hidden_from_outsider_bot(slack: SlackEmulator, client: WebClient) -> None:
    secret = slack.add_channel("secret", private=True, member=False)

    error = api_error(lambda: client.conversations_info(channel=secret))
    listed = client.conversations_list(types="public_channel,private_channel")

    assert error.response["error"] == "channel_not_found"
    assert secret not in [c["id"] for c in listed["channels"]]


def test_list_pages_with_cursor(slack: SlackEmulator, client: WebClient) -> None:
    created = [slack.add_channel(f"team-{i}") for i in range(5)]
    slack.add_channel("old", archived=True)

    # slack_sdk's iterator follows `next_cursor` and reuses one response object.
    pages = [
        [c["id"] for c in page["channels"]]
        for page in client.conversations_list(limit=2, exclude_archived=True)
    ]

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [channel_id for page in pages for channel_id in page] == created


def test_list_rejects_bad_cursor(client: WebClient) -> None:
    error = api_error(lambda: client.conversations_list(cursor="not-a-cursor"))

    assert error.response["error"] == "invalid_cursor"


def test_history_pages_newest_first(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    stamps = [client.chat_postMessage(channel=channel, text=f"m{i}")["ts"] for i in range(5)]
    client.chat_postMessage(channel=channel, text="hidden reply", thread_ts=stamps[0])

    first = client.conversations_history(channel=channel, limit=3)
    second = client.conversations_history(
        channel=channel, limit=3, cursor=first["response_metadata"]["next_cursor"]
    )

    assert [m["text"] for m in first["messages"]] == ["m4", "m3", "m2"]
    assert first["has_more"] is True
    assert [m["text"] for m in second["messages"]] == ["m1", "m0"]
    assert second["has_more"] is False


def test_history_time_range_bounds(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    stamps = [client.chat_postMessage(channel=channel, text=f"m{i}")["ts"] for i in range(5)]

    exclusive = client.conversations_history(channel=channel, oldest=stamps[1], latest=stamps[3])
    inclusive = client.conversations_history(
        channel=channel, oldest=stamps[1], latest=stamps[3], inclusive=True
    )
    bad = api_error(lambda: client.conversations_history(channel=channel, oldest="yesterday"))

    assert [m["text"] for m in exclusive["messages"]] == ["m2"]
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    assert bad.response["error"] == "invalid_ts_oldest"


def test_history_needs_membership(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("elsewhere", member=False)

    error = api_error(lambda: client.conversations_history(channel=channel))

    assert error.response["error"] == "not_in_channel"


def test_replies_of_unknown_thread(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")

    error = api_error(lambda: client.conversations_replies(channel=channel, ts="1.000003"))

    assert error.response["error"] == "thread_not_found"


def test_replies_return_thread_oldest_first(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    person = slack.add_user("alice")
    parent = client.chat_postMessage(channel=channel, text="parent")["ts"]
    slack.add_message(channel, "human reply", user=person, thread_ts=parent)
    client.chat_postMessage(channel=channel, text="bot reply", thread_ts=parent)

    thread = client.conversations_replies(channel=channel, ts=parent)["messages"]

    assert [m["text"] for m in thread] == ["parent", "human reply", "bot reply"]
    assert thread[0]["reply_users"] == [person, slack.bot_user_id]


# Users and user groups.


def test_users_and_usergroups(slack: SlackEmulator, client: WebClient) -> None:
    alice = slack.add_user("alice", real_name="Alice Example")
    bob = slack.add_user("bob")
    group = slack.add_usergroup("sre-oncall", [alice, bob])

    user = client.users_info(user=alice)["user"]
    members = client.users_list()["members"]
    groups = client.usergroups_list(include_users=True)["usergroups"]
    group_users = client.usergroups_users_list(usergroup=group)["users"]
    unknown_user = api_error(lambda: client.users_info(user="U9999"))
    unknown_group = api_error(lambda: client.usergroups_users_list(usergroup="S9999"))

    assert user["real_name"] == "Alice Example"
    assert [m["id"] for m in members] == [slack.bot_user_id, alice, bob]
    assert groups == [
        {
            "id": group,
            "team_id": "T0001",
            "is_usergroup": True,
            "name": "sre-oncall",
            "handle": "sre-oncall",
            "description": "",
            "date_create": groups[0]["date_create"],
            "date_delete": 0,
            "user_count": 2,
            "users": [alice, bob],
        }
    ]
    assert group_users == [alice, bob]
    assert unknown_user.response["error"] == "user_not_found"
    assert unknown_group.response["error"] == "no_such_subteam"


# Files.


def test_files_upload_v2_lands_in_thread(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    parent = client.chat_postMessage(channel=channel, text="CPU anomaly")["ts"]
    chart = b"\x89PNG fake chart bytes"

    response = client.files_upload_v2(
        channel=channel,
        thread_ts=parent,
        content=chart,
        filename="cpu.png",
        title="CPU, last hour",
        initial_comment="Chart of the anomaly",
    )

    file_id = response["file"]["id"]
    share = slack.replies(channel, parent)[-1]
    assert share["text"] == "Chart of the anomaly"
    assert [f["id"] for f in share["files"]] == [file_id]
    assert share["files"][0]["title"] == "CPU, last hour"
    assert slack.uploaded_file(file_id).content == chart
    assert [m["text"] for m in slack.messages(channel)] == ["CPU anomaly"]
    download = httpx.get(share["files"][0]["url_private"])
    assert download.content == chart


def test_complete_upload_needs_uploaded_bytes(slack: SlackEmulator, client: WebClient) -> None:
    channel = slack.add_channel("incidents")
    reserved = client.files_getUploadURLExternal(filename="a.txt", length=3)

    error = api_error(
        lambda: client.files_completeUploadExternal(
            files=[{"id": reserved["file_id"], "title": "a"}], channel_id=channel
        )
    )
    zero_length = api_error(lambda: client.files_getUploadURLExternal(filename="a.txt", length=0))

    assert error.response["error"] == "file_not_found"
    assert zero_length.response["error"] == "missing_argument"


# Request signing and Bolt end to end.


def test_signature_accepted_by_slack_sdk() -> None:
    body = slash_command_body(
        text="status", user_id="U0002", channel_id="C0001", response_url="http://127.0.0.1/r"
    )
    verifier = SignatureVerifier(SIGNING_SECRET)

    headers = signature_headers(body, secret=SIGNING_SECRET)

    assert headers["X-Slack-Signature"].startswith("v0=")
    assert verifier.is_valid_request(body, headers) is True


def test_tampered_signature_rejected() -> None:
    body = slash_command_body(
        text="status", user_id="U0002", channel_id="C0001", response_url="http://127.0.0.1/r"
    )
    verifier = SignatureVerifier(SIGNING_SECRET)
    headers = signature_headers(body, secret=SIGNING_SECRET)

    tampered_body = body.replace("status", "silence")
    wrong_secret = signature_headers(body, secret="another-secret")
    stale = signature_headers(body, secret=SIGNING_SECRET, timestamp=int(time.time()) - 600)

    assert verifier.is_valid_request(tampered_body, headers) is False
    assert verifier.is_valid_request(body, wrong_secret) is False
    assert verifier.is_valid_request(body, stale) is False


def test_post_signed_refuses_other_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        post_signed("https://example.com/slack/events", "", secret=SIGNING_SECRET)


@pytest.fixture
def bolt_app_url(slack: SlackEmulator) -> Iterator[str]:
    """Serve a small Bolt app over Flask on loopback, wired to the emulator."""
    app = App(
        client=WebClient(token=slack.token, base_url=slack.base_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=True,
    )

    @app.command("/anomaly")
    def on_command(ack, command, say, respond):
        ack()
        say(f"Investigating {command['text']}")
        respond(f"Started an investigation of {command['text']}")

    @app.action("ack_incident")
    def on_ack(ack, body, respond):
        ack()
        respond(replace_original=True, text=f"Acknowledged by <@{body['user']['id']}>")

    flask_app = Flask(__name__)
    handler = SlackRequestHandler(app)

    @flask_app.post("/slack/events")
    def events():
        return handler.handle(request)

    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/slack/events"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_bolt_slash_command_end_to_end(slack: SlackEmulator, bolt_app_url: str) -> None:
    oncall = slack.add_user("oncall")
    channel = slack.add_channel("incidents", members=[oncall])
    response_url = slack.new_response_url(channel=channel)
    body = slash_command_body(
        text="cpu web-1", user_id=oncall, channel_id=channel, response_url=response_url
    )

    accepted = post_signed(bolt_app_url, body, secret=SIGNING_SECRET)
    forged = post_signed(bolt_app_url, body, secret="not-the-signing-secret")

    assert accepted.status_code == 200
    assert forged.status_code == 401
    assert [m["text"] for m in slack.messages(channel)] == ["Investigating cpu web-1"]
    posts = slack.response_posts(response_url)
    assert [post.body["text"] for post in posts] == ["Started an investigation of cpu web-1"]
    assert posts[0].block_errors == ()


def test_bolt_button_replaces_message(slack: SlackEmulator, bolt_app_url: str) -> None:
    oncall = slack.add_user("oncall")
    channel = slack.add_channel("incidents", members=[oncall])
    client = WebClient(token=slack.token, base_url=slack.base_url)
    alert = client.chat_postMessage(channel=channel, text="CPU anomaly on web-1")["ts"]
    body = block_actions_body(
        action_id="ack_incident",
        value="INC-7",
        user_id=oncall,
        channel_id=channel,
        message_ts=alert,
        response_url=slack.new_response_url(channel=channel, message_ts=alert),
    )

    response = post_signed(bolt_app_url, body, secret=SIGNING_SECRET)

    assert response.status_code == 200
    assert [m["text"] for m in slack.messages(channel)] == [f"Acknowledged by <@{oncall}>"]


def test_response_url_in_channel_posts(slack: SlackEmulator) -> None:
    channel = slack.add_channel("incidents")
    url = slack.new_response_url(channel=channel)

    reply = httpx.post(url, json={"response_type": "in_channel", "text": "Resolved"})

    assert reply.json() == {"ok": True}
    assert [m["text"] for m in slack.messages(channel)] == ["Resolved"]
    assert json.loads(json.dumps(slack.response_posts(url)[0].body))["text"] == "Resolved"
