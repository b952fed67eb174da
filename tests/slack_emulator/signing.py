"""Requests from Slack to an app: their bodies, their signature, and a way to send them.

Slack signs every request it sends to an app
(https://api.slack.com/docs/verifying-requests-from-slack):

1. Join the version `v0`, the `X-Slack-Request-Timestamp` header (Unix seconds) and
   the raw request body with colons: `v0:1733333333:token=...&text=...`.
2. Take the HMAC-SHA256 of that string, keyed with the app's signing secret.
3. Send `v0=` and the hex digest in the `X-Slack-Signature` header.

Apps reject a timestamp more than five minutes away from their clock, as
`slack_sdk.signature.SignatureVerifier` does, so tests that check replay protection
pass an old `timestamp`.

A slash command arrives as a form (`application/x-www-form-urlencoded`), and an
interaction such as a button click arrives as a form with one `payload` field that
contains JSON. `slash_command_body` and `block_actions_body` build those bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

SIGNATURE_VERSION = "v0"
SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_TIMEOUT_SECONDS = 5.0

# Defaults that match a fresh SlackEmulator workspace.
DEFAULT_TEAM_ID = "T0001"
DEFAULT_TEAM_DOMAIN = "emulated-workspace"
DEFAULT_APP_ID = "A0001"


def compute_signature(body: str | bytes, *, secret: str, timestamp: int | str) -> str:
    """Return the `X-Slack-Signature` value for `body` sent at `timestamp`."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + raw
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_headers(
    body: str | bytes, *, secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """Return the two headers Slack adds to a request; `timestamp` defaults to now."""
    sent_at = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(sent_at),
        SIGNATURE_HEADER: compute_signature(body, secret=secret, timestamp=sent_at),
    }


def new_trigger_id() -> str:
    """Return a value shaped like Slack's `trigger_id`s (`<digits>.<digits>.<hex>`)."""
    return f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def slash_command_body(
    *,
    command: str = "/anomaly",
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    trigger_id: str | None = None,
    user_name: str = "oncall",
    channel_name: str = "incidents",
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
) -> str:
    """Build the form body Slack posts when a user runs a slash command.

    Pass a `response_url` from `SlackEmulator.new_response_url`, so that replies
    reach the emulator and never leave the machine.
    """
    fields = {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields)


def block_actions_body(
    *,
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    block_id: str = "actions",
    button_text: str = "Button",
    message: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    user_name: str = "oncall",
    channel_name: str = "incidents",
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
) -> str:
    """Build the form body Slack posts when a user clicks a button in a message.

    The body is `payload=<JSON>` with a `block_actions` payload
    (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload).
    `message` is the clicked message as Slack stores it; by default a minimal one with
    `message_ts`. Pass a `response_url` from `SlackEmulator.new_response_url`.
    """
    action_ts = f"{time.time():.6f}"
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": message or {"type": "message", "ts": message_ts, "text": ""},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "action_ts": action_ts,
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def post_signed(
    url: str,
    body: str | bytes,
    *,
    secret: str,
    content_type: str = FORM_CONTENT_TYPE,
    timestamp: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> httpx.Response:
    """POST `body` to an app on loopback, signed as Slack signs it.

    Raises ValueError for a URL outside 127.0.0.1, localhost and ::1, because these
    requests are for apps under test on this machine only.
    """
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"post_signed sends only to loopback, not to {host!r} in {url!r}")

    raw = body.encode("utf-8") if isinstance(body, str) else body
    headers = {
        "Content-Type": content_type,
        **signature_headers(raw, secret=secret, timestamp=timestamp),
    }
    with httpx.Client(timeout=timeout) as client:
        return client.post(url, content=raw, headers=headers)
