"""Posts from the app to a `response_url`, recorded and applied to the workspace.

Slack gives each slash command and block action a `response_url`, where the app posts
a JSON message (https://docs.slack.dev/messaging/modifying-messages, "Updating messages
using response_url"):

- `replace_original` or `delete_original` change the message the action came from.
- `"response_type": "in_channel"` posts a new message in the channel.
- Any other post is an ephemeral reply to the user who acted.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from . import limits
from .http_reply import Reply
from .state import ResponseUrl, ResponseUrlPost, Workspace

logger = logging.getLogger(__name__)


def receive_post(workspace: Workspace, url_id: str, body: bytes) -> Reply:
    """Record a post to the response URL `url_id` and apply it to the workspace."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        payload = None
    if not isinstance(payload, dict):
        logger.warning("Slack emulator: response_url %s received a body that is not JSON", url_id)
        return Reply.text(400, "invalid_payload")

    with workspace.lock:
        response_url = workspace.response_urls.get(url_id)
        if response_url is None:
            logger.warning(
                "Slack emulator: response_url %s not found; create it with new_response_url",
                url_id,
            )
            return Reply.text(404, f"no response_url {url_id} on the Slack emulator")

        block_errors = limits.validate_blocks(payload["blocks"]) if "blocks" in payload else []
        response_url.posts.append(
            ResponseUrlPost(
                url=response_url.url,
                body=payload,
                time=workspace.clock(),
                block_errors=tuple(block_errors),
            )
        )
        _apply(workspace, response_url, payload)
    logger.info("Slack emulator: response_url %s received a post", url_id)
    return Reply.json(200, {"ok": True})


def _apply(workspace: Workspace, response_url: ResponseUrl, payload: dict[str, Any]) -> None:
    channel = workspace.channels.get(response_url.channel_id or "")
    original = None
    if channel is not None and response_url.message_ts:
        original = workspace.find_message(channel, response_url.message_ts)
    content = {key: payload[key] for key in ("text", "blocks", "attachments") if key in payload}

    if payload.get("delete_original") and channel is not None and original is not None:
        channel.messages.remove(original)
    elif payload.get("replace_original") and original is not None:
        original.update(content)
    elif payload.get("response_type") == "in_channel" and channel is not None:
        message = {
            "user": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "app_id": workspace.app_id,
            **content,
        }
        workspace.append_message(channel, message, thread_ts=payload.get("thread_ts"))
    else:
        workspace.ephemeral_messages.append(
            {
                "type": "message",
                "channel": response_url.channel_id,
                "recipient": None,
                "response_url": response_url.url,
                **content,
            }
        )
