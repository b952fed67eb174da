"""conversations.* methods: create, join, invite, archive, list and read channels.

Errors follow each method's reference page, for example
https://docs.slack.dev/reference/methods/conversations.create. Read methods take the
bot's view: a private channel the bot is not in does not exist for them.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from ..state import Channel, is_top_level, parse_ts
from .base import ApiCall, paginate, web_api_method
from .content import public_copy

# https://docs.slack.dev/reference/methods/conversations.create ("Naming"): "Channel
# names may only contain lowercase letters, numbers, hyphens, and underscores, and
# must be 80 characters or less."
CHANNEL_NAME_MAX_CHARS = 80
CHANNEL_NAME_PUNCTUATION = frozenset("-_")

# conversations.list `limit`: "Must be an integer no larger than 1000." (Slack's method
# reference, as mirrored in the slack-api-ref project:
# https://github.com/slack-ruby/slack-api-ref/blob/master/methods/conversations/conversations.list.json)
LIST_LIMIT_MAX = 1000
DEFAULT_PAGE_LIMIT = 100
CHANNEL_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})


def channel_name_error(name: str) -> str | None:
    """Return the error conversations.create gives for `name`, or None when valid.

    Uppercase letters, spaces and periods are "unallowed special characters"
    (`invalid_name_specials`); a name of only hyphens and underscores is
    `invalid_name_punctuation`. Letters outside ASCII are allowed when lowercase,
    because Slack accepts channel names in other scripts.
    """
    if not name:
        return "invalid_name_required"
    if len(name) > CHANNEL_NAME_MAX_CHARS:
        return "invalid_name_maxlength"
    for character in name:
        allowed = character in CHANNEL_NAME_PUNCTUATION or (
            character.isalnum() and not character.isupper()
        )
        if not allowed:
            return "invalid_name_specials"
    if set(name) <= CHANNEL_NAME_PUNCTUATION:
        return "invalid_name_punctuation"
    return None


def _require_channel(call: ApiCall, argument: str = "channel") -> Channel:
    """Return the channel named by an ID argument, or raise `channel_not_found`."""
    reference = call.args.get_str(argument, required=True) or ""
    channel = call.workspace.find_channel(reference)
    if channel is None:
        raise ApiError("channel_not_found")
    return channel


def _channel_body(call: ApiCall, channel: Channel, **options: bool) -> dict[str, Any]:
    return channel.to_api(viewer=call.bot_user_id, **options)


@web_api_method("conversations.create")
def create(call: ApiCall) -> dict[str, Any]:
    """Create a channel with the bot as its creator and first member.

    Names of archived channels stay taken, as in Slack.
    """
    name = call.args.get_str("name", required=True) or ""
    error = channel_name_error(name)
    if error is not None:
        raise ApiError(error)
    if call.workspace.channel_named(name) is not None:
        raise ApiError("name_taken")

    channel_id = call.workspace.add_channel(
        name, member=True, private=call.args.get_bool("is_private")
    )
    channel = call.workspace.channels[channel_id]
    return {"ok": True, "channel": _channel_body(call, channel)}


@web_api_method("conversations.invite")
def invite(call: ApiCall) -> dict[str, Any]:
    """Add users to a channel the bot is in, all or none: one invalid user adds no one."""
    channel = _require_channel(call)
    if channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise ApiError("is_archived")
    if call.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")

    if "users" not in call.args:
        raise ApiError("no_user")
    user_ids = call.args.get_list("users")
    if not user_ids:
        raise ApiError("no_user")
    if call.bot_user_id in user_ids:
        raise ApiError("cant_invite_self")
    for user_id in user_ids:
        if user_id not in call.workspace.users:
            raise ApiError("user_not_found")
    already_in = [user_id for user_id in user_ids if user_id in channel.members]
    if already_in:
        raise ApiError(
            "already_in_channel",
            errors=[
                {"user": user_id, "ok": False, "error": "already_in_channel"}
                for user_id in already_in
            ],
        )

    channel.members.extend(user_ids)
    return {"ok": True, "channel": _channel_body(call, channel)}


@web_api_method("conversations.join")
def join(call: ApiCall) -> dict[str, Any]:
    """Add the bot to a public channel; joining twice succeeds with a warning."""
    channel = _require_channel(call)
    if channel.is_im or channel.is_private:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise ApiError("is_archived")

    body: dict[str, Any] = {"ok": True}
    if call.bot_user_id in channel.members:
        body["warning"] = "already_in_channel"
        body["response_metadata"] = {"warnings": ["already_in_channel"]}
    else:
        channel.members.append(call.bot_user_id)
    body["channel"] = _channel_body(call, channel)
    return body


@web_api_method("conversations.info")
def info(call: ApiCall) -> dict[str, Any]:
    """Return a channel's conversation object."""
    channel = _require_channel(call)
    include_num_members = call.args.get_bool("include_num_members")
    return {
        "ok": True,
        "channel": _channel_body(call, channel, include_num_members=include_num_members),
    }


@web_api_method("conversations.archive")
def archive(call: ApiCall) -> dict[str, Any]:
    """Archive a channel; its name stays taken."""
    channel = _require_channel(call)
    if channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise ApiError("already_archived")
    channel.is_archived = True
    return {"ok": True}


@web_api_method("conversations.unarchive")
def unarchive(call: ApiCall) -> dict[str, Any]:
    """Reverse conversations.archive."""
    channel = _require_channel(call)
    if channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if not channel.is_archived:
        raise ApiError("not_archived")
    channel.is_archived = False
    return {"ok": True}


@web_api_method("conversations.list")
def list_conversations(call: ApiCall) -> dict[str, Any]:
    """List the conversations of the requested `types` that the bot can see.

    `types` defaults to `public_channel`. A private channel appears only when the bot
    is a member. Results come in pages of `limit` (default 100, at most 1000).
    """
    args = call.args
    types = set(args.get_list("types")) or {"public_channel"}
    if not types <= CHANNEL_TYPES:
        raise ApiError("invalid_types")
    limit = args.get_int("limit", default=DEFAULT_PAGE_LIMIT, error="invalid_limit")
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise ApiError("invalid_limit")
    exclude_archived = args.get_bool("exclude_archived")

    matching = []
    for channel in call.workspace.channels.values():
        if exclude_archived and channel.is_archived:
            continue
        if _channel_type(channel) not in types:
            continue
        if channel.is_private and call.bot_user_id not in channel.members:
            continue
        matching.append(_channel_body(call, channel))

    page, next_cursor = paginate(matching, cursor=args.get_str("cursor"), limit=limit)
    return {"ok": True, "channels": page, "response_metadata": {"next_cursor": next_cursor}}


def _channel_type(channel: Channel) -> str:
    if channel.is_im:
        return "im"
    return "private_channel" if channel.is_private else "public_channel"


@web_api_method("conversations.history")
def history(call: ApiCall) -> dict[str, Any]:
    """Return a channel's top-level messages, newest first.

    `oldest` and `latest` bound the range (exclusive unless `inclusive`), `limit`
    (default 100) sizes the page, and `cursor` continues a previous page. Message
    metadata is included only with `include_all_metadata`.
    """
    channel = _require_channel(call)
    if call.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")

    shown = [m for m in channel.messages if is_top_level(m)]
    in_range = _filter_time_range(call, shown)
    in_range.reverse()
    return _message_page(call, in_range)


@web_api_method("conversations.replies")
def replies(call: ApiCall) -> dict[str, Any]:
    """Return a thread, parent first, then replies oldest first.

    A `ts` of a message without replies returns that message alone.
    """
    channel = _require_channel(call)
    ts = call.args.get_str("ts", required=True) or ""
    if call.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    parent = call.workspace.find_message(channel, ts)
    if parent is None:
        raise ApiError("thread_not_found")

    if parent.get("thread_ts") == parent["ts"]:
        thread = [m for m in channel.messages if m.get("thread_ts") == ts]
    else:
        thread = [parent]
    return _message_page(call, _filter_time_range(call, thread))


def _filter_time_range(call: ApiCall, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the messages between `oldest` and `latest`, oldest first."""
    oldest = _read_ts(call, "oldest", error="invalid_ts_oldest")
    latest = _read_ts(call, "latest", error="invalid_ts_latest")
    inclusive = call.args.get_bool("inclusive")

    def in_range(message: dict[str, Any]) -> bool:
        ts = float(message["ts"])
        if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
            return False
        return latest is None or ts < latest or (ts == latest and inclusive)

    return [m for m in messages if in_range(m)]


def _read_ts(call: ApiCall, name: str, *, error: str) -> float | None:
    value = call.args.get_str(name)
    if not value:
        return None
    try:
        return parse_ts(value)
    except ValueError:
        raise ApiError(error) from None


def _message_page(call: ApiCall, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Cut a page from `messages` and shape it as history and replies return it."""
    limit = call.args.get_int("limit", default=DEFAULT_PAGE_LIMIT)
    if limit < 1:
        limit = DEFAULT_PAGE_LIMIT
    page, next_cursor = paginate(messages, cursor=call.args.get_str("cursor"), limit=limit)
    include_metadata = call.args.get_bool("include_all_metadata")

    body: dict[str, Any] = {
        "ok": True,
        "messages": [public_copy(m, include_metadata=include_metadata) for m in page],
        "has_more": bool(next_cursor),
        "pin_count": 0,
    }
    if next_cursor:
        body["response_metadata"] = {"next_cursor": next_cursor}
    return body
