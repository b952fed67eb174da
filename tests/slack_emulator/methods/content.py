"""Checks shared by the methods that post or change messages.

chat.postMessage, chat.postEphemeral and chat.update take the same content
arguments (`text`, `blocks`, `attachments`, `metadata`) and fail the same way. The
functions here turn those arguments into message fields or raise the documented error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .. import limits
from ..errors import ApiError, invalid_blocks
from ..state import Channel
from .base import ApiCall, Args


@dataclass
class MessageContent:
    """The content fields of a message, and the warnings Slack returns about them."""

    fields: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    warning_messages: list[str] = field(default_factory=list)

    def add_warnings_to(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add the warnings to a response body in Slack's shape, and return the body."""
        if self.warnings:
            body["warning"] = ",".join(self.warnings)
            body["response_metadata"] = {
                "warnings": list(self.warnings),
                "messages": list(self.warning_messages),
            }
        return body


def read_content(args: Args, *, require_content: bool = True) -> MessageContent:
    """Validate `text`, `blocks` and `attachments` and return the fields to store.

    Raises `invalid_blocks_format` when `blocks` is not a JSON array,
    `invalid_blocks` when a block breaks a Block Kit limit, `too_many_attachments`,
    and `no_text` when `require_content` is set and all three are empty. A `text`
    over `limits.MESSAGE_TEXT_MAX_CHARS` is truncated with a warning, as Slack does.
    """
    content = MessageContent(fields={})

    blocks = args.get_json("blocks", error="invalid_blocks_format")
    if blocks is not None:
        if not isinstance(blocks, list):
            raise ApiError("invalid_blocks_format")
        errors = limits.validate_blocks(blocks)
        if errors:
            raise invalid_blocks(errors)
        content.fields["blocks"] = blocks

    attachments = args.get_json("attachments", error="invalid_attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            raise ApiError("invalid_attachments")
        if len(attachments) > limits.MAX_ATTACHMENTS_PER_MESSAGE:
            raise ApiError("too_many_attachments")
        content.fields["attachments"] = attachments

    text = args.get_str("text")
    if text is not None:
        if len(text) > limits.MESSAGE_TEXT_MAX_CHARS:
            text = text[: limits.MESSAGE_TEXT_MAX_CHARS]
            content.warnings.append(limits.MESSAGE_TRUNCATED_WARNING)
            content.warning_messages.append(limits.MESSAGE_TRUNCATED_MESSAGE)
        content.fields["text"] = text

    if require_content and not (text or blocks or attachments):
        raise ApiError("no_text")
    return content


def read_metadata(args: Args) -> dict[str, Any] | None:
    """Return the `metadata` argument, checked for `event_type` and `event_payload`.

    Message metadata is a JSON object with a string `event_type` and an object
    `event_payload` (https://docs.slack.dev/messaging/message-metadata). Anything
    else raises `invalid_metadata_format`. An empty object is returned as is, because
    chat.update uses it to remove metadata.
    """
    metadata = args.get_json("metadata", error="invalid_metadata_format")
    if metadata is None or metadata == {}:
        return metadata
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    return metadata


def resolve_posting_channel(call: ApiCall, reference: str) -> Channel:
    """Return the channel a posting method targets, or raise the error Slack returns.

    Posting methods accept an ID, a `#name`, a bare name, or a user ID for a direct
    message. The bot must be a member of the channel (`not_in_channel`) and the channel
    must not be archived (`is_archived`).
    """
    channel = call.workspace.find_channel(reference, allow_name=True) if reference else None
    if channel is None:
        raise ApiError("channel_not_found")
    if channel.is_archived:
        raise ApiError("is_archived")
    if call.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    return channel


def bot_author_fields(call: ApiCall) -> dict[str, Any]:
    """Return the fields Slack sets on a message that the app's bot posted."""
    return {
        "user": call.bot_user_id,
        "bot_id": call.workspace.bot_id,
        "app_id": call.workspace.app_id,
    }


def public_copy(message: dict[str, Any], *, include_metadata: bool) -> dict[str, Any]:
    """Return a copy of a stored message as read methods return it.

    Slack returns message metadata only when the request sets `include_all_metadata`.
    """
    result = copy.deepcopy(message)
    if not include_metadata:
        result.pop("metadata", None)
    return result
