"""chat.* methods: post, update and link messages.

Errors follow each method's reference page, such as
https://docs.slack.dev/reference/methods/chat.postMessage, as mirrored for every method
in https://github.com/slack-ruby/slack-api-ref/tree/master/methods/chat.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from .base import ApiCall, web_api_method
from .content import (
    bot_author_fields,
    public_copy,
    read_content,
    read_metadata,
    resolve_posting_channel,
)


@web_api_method("chat.postMessage")
def post_message(call: ApiCall) -> dict[str, Any]:
    """Post a message, or a thread reply when `thread_ts` is set."""
    args = call.args
    channel = resolve_posting_channel(call, args.get_str("channel", required=True) or "")
    content = read_content(args)
    metadata = read_metadata(args)

    message = {**bot_author_fields(call), **content.fields}
    if metadata:
        message["metadata"] = metadata
    stored = call.workspace.append_message(
        channel,
        message,
        thread_ts=args.get_str("thread_ts") or None,
        reply_broadcast=args.get_bool("reply_broadcast"),
    )

    body = {
        "ok": True,
        "channel": channel.id,
        "ts": stored["ts"],
        "message": public_copy(stored, include_metadata=False),
    }
    return content.add_warnings_to(body)


@web_api_method("chat.postEphemeral")
def post_ephemeral(call: ApiCall) -> dict[str, Any]:
    """Show a message to one member of a channel; only the emulator's records keep it."""
    args = call.args
    channel = resolve_posting_channel(call, args.get_str("channel", required=True) or "")
    user = args.get_str("user", required=True)
    if user not in channel.members:
        raise ApiError("user_not_in_channel")
    content = read_content(args)

    message_ts = call.workspace.next_ts()
    call.workspace.ephemeral_messages.append(
        {
            **bot_author_fields(call),
            **content.fields,
            "type": "message",
            "channel": channel.id,
            "recipient": user,
            "thread_ts": args.get_str("thread_ts"),
            "message_ts": message_ts,
        }
    )
    return content.add_warnings_to({"ok": True, "message_ts": message_ts})


@web_api_method("chat.update")
def update(call: ApiCall) -> dict[str, Any]:
    """Change the text, blocks, attachments or metadata of a message the bot posted.

    Arguments left out keep their old values. An empty `metadata` object removes the
    metadata, as chat.update's reference describes.
    """
    args = call.args
    channel_id = args.get_str("channel", required=True)
    ts = args.get_str("ts", required=True)
    channel = call.workspace.find_channel(channel_id or "")
    if channel is None:
        raise ApiError("channel_not_found")
    message = call.workspace.find_message(channel, ts or "")
    if message is None:
        raise ApiError("message_not_found")
    if message.get("user") != call.bot_user_id:
        raise ApiError("cant_update_message")
    if channel.is_archived:
        raise ApiError("is_inactive")

    content = read_content(args)
    metadata = read_metadata(args)

    message.update(content.fields)
    if metadata == {}:
        message.pop("metadata", None)
    elif metadata is not None:
        message["metadata"] = metadata
    message["edited"] = {"user": call.bot_user_id, "ts": call.workspace.next_ts()}

    body = {
        "ok": True,
        "channel": channel.id,
        "ts": message["ts"],
        "text": message.get("text", ""),
        "message": public_copy(message, include_metadata=False),
    }
    return content.add_warnings_to(body)


@web_api_method("chat.getPermalink")
def get_permalink(call: ApiCall) -> dict[str, Any]:
    """Return the permalink of a message."""
    args = call.args
    channel_id = args.get_str("channel", required=True)
    message_ts = args.get_str("message_ts", required=True)
    channel = call.workspace.find_channel(channel_id or "")
    if channel is None:
        raise ApiError("channel_not_found")
    message = call.workspace.find_message(channel, message_ts or "")
    if message is None:
        raise ApiError("message_not_found")
    return {
        "ok": True,
        "channel": channel.id,
        "permalink": call.workspace.permalink(channel, message),
    }
