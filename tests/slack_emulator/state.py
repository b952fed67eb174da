"""The emulated workspace: channels, users, user groups, messages, files and more.

`Workspace` stores everything the Web API methods read and change, and offers the
helpers tests use to seed and inspect it. Every public method takes `Workspace.lock`,
a re-entrant lock that the HTTP server also holds while a method handler runs, so a
test thread and the server threads never see a half-made change.

Slack's conventions kept here:

- IDs carry Slack's prefixes: `C` channels, `D` direct messages, `U` users, `S` user
  groups, `F` files, `V` views. The emulator numbers them in order (`C0001`, `C0002`).
- A message `ts` is a string of seconds and microseconds (`"1733333333.000100"`). It
  identifies the message in its channel. The emulator derives it from the clock and
  keeps it strictly increasing, so two messages never share a `ts`.
- A reply carries its parent's `ts` as `thread_ts`. The parent gets `thread_ts` (its
  own `ts`), `reply_count`, `reply_users` and `latest_reply` once it has replies.
"""

from __future__ import annotations

import copy
import mimetypes
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MICROSECONDS_PER_SECOND = 1_000_000


@dataclass
class User:
    """A workspace member, or the bot user of the app under test."""

    id: str
    name: str
    real_name: str
    is_bot: bool = False

    def to_api(self, *, team_id: str) -> dict[str, Any]:
        """Return the user object of users.info and users.list."""
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {"real_name": self.real_name, "display_name": self.name},
        }


@dataclass
class Channel:
    """A public or private channel, or a direct message (`is_im`)."""

    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    members: list[str] = field(default_factory=list)
    # Every message of the channel, replies included, in `ts` order.
    messages: list[dict[str, Any]] = field(default_factory=list)

    def to_api(self, *, viewer: str, include_num_members: bool = False) -> dict[str, Any]:
        """Return the conversation object that conversations.* methods return."""
        if self.is_im:
            other = next((member for member in self.members if member != viewer), viewer)
            return {"id": self.id, "created": self.created, "is_im": True, "user": other}

        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": self.creator,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        if include_num_members:
            body["num_members"] = len(self.members)
        return body


@dataclass
class UserGroup:
    """A user group, mentioned in messages as `<!subteam^S0001>`."""

    id: str
    handle: str
    name: str
    users: list[str]
    date_create: int

    def to_api(self, *, team_id: str, include_users: bool) -> dict[str, Any]:
        """Return the user group object of usergroups.list."""
        body: dict[str, Any] = {
            "id": self.id,
            "team_id": team_id,
            "is_usergroup": True,
            "name": self.name,
            "handle": self.handle,
            "description": "",
            "date_create": self.date_create,
            "date_delete": 0,
            "user_count": len(self.users),
        }
        if include_users:
            body["users"] = list(self.users)
        return body


@dataclass
class UploadedFile:
    """A file created by files.getUploadURLExternal and filled through its upload URL."""

    id: str
    filename: str
    declared_length: int
    created: int
    user: str
    download_url: str
    alt_txt: str | None = None
    snippet_type: str | None = None
    title: str | None = None
    # None until the client posts the bytes to the upload URL.
    content: bytes | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        """Return the file object of files.completeUploadExternal."""
        mimetype = mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        extension = self.filename.rsplit(".", 1)[-1] if "." in self.filename else ""
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": mimetype,
            "filetype": extension,
            "user": self.user,
            "size": len(self.content) if self.content is not None else self.declared_length,
            "mode": "hosted",
            "is_external": False,
            "is_public": bool(self.channels),
            "url_private": self.download_url,
            "url_private_download": self.download_url,
            "channels": list(self.channels),
            "alt_txt": self.alt_txt,
        }


@dataclass(frozen=True)
class ResponseUrlPost:
    """One JSON body that the app posted to a `response_url`."""

    url: str
    body: dict[str, Any]
    time: float
    # The problems `limits.validate_blocks` found in the posted `blocks`, if any.
    block_errors: tuple[str, ...]


@dataclass
class ResponseUrl:
    """A `response_url` handed out with a slash command or a block action."""

    id: str
    url: str
    channel_id: str | None
    # The message a block action came from, which `replace_original` changes.
    message_ts: str | None
    posts: list[ResponseUrlPost] = field(default_factory=list)


class Workspace:
    """All state of one emulated Slack workspace, safe to use from several threads."""

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        team_domain: str = "emulated-workspace",
        bot_name: str = "anomaly-bot",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_name = bot_name
        self.clock = clock
        self.lock = threading.RLock()
        # Set by the server once it has bound its port. File download URLs use it.
        self.root_url = "http://127.0.0.1/"
        self.reset()

    def reset(self) -> None:
        """Forget every channel, user, message and file, and create the bot user again."""
        with self.lock:
            self.channels: dict[str, Channel] = {}
            self.users: dict[str, User] = {}
            self.usergroups: dict[str, UserGroup] = {}
            self.files: dict[str, UploadedFile] = {}
            self.ephemeral_messages: list[dict[str, Any]] = []
            # views.open requests: {"trigger_id": ..., "view": <the view as returned>}.
            self.views: list[dict[str, Any]] = []
            self.response_urls: dict[str, ResponseUrl] = {}
            self._id_counters: dict[str, int] = {}
            self._last_ts_micros = 0

            self.bot_id = self.next_id("B")
            self.app_id = self.next_id("A")
            self.bot_user_id = self.add_user(self.bot_name, is_bot=True)

    # IDs and timestamps.

    def next_id(self, prefix: str) -> str:
        """Return the next ID with Slack's `prefix`, such as `C0001` for channels."""
        with self.lock:
            number = self._id_counters.get(prefix, 0) + 1
            self._id_counters[prefix] = number
            return f"{prefix}{number:04d}"

    def next_ts(self) -> str:
        """Return a message `ts` from the clock, later than every `ts` so far."""
        with self.lock:
            micros = int(self.clock() * MICROSECONDS_PER_SECOND)
            micros = max(micros, self._last_ts_micros + 1)
            self._last_ts_micros = micros
            return format_ts(micros)

    def now(self) -> int:
        """Return the clock in whole seconds, for `created` fields."""
        return int(self.clock())

    # Seeding helpers for tests.

    def add_user(self, name: str, *, real_name: str | None = None, is_bot: bool = False) -> str:
        """Create a user and return its ID."""
        with self.lock:
            user = User(id=self.next_id("U"), name=name, real_name=real_name or name, is_bot=is_bot)
            self.users[user.id] = user
            return user.id

    def add_channel(
        self,
        name: str,
        *,
        member: bool = True,
        archived: bool = False,
        private: bool = False,
        members: Iterable[str] = (),
    ) -> str:
        """Create a channel and return its ID.

        Args:
            name: the channel name, without `#`. It is stored as given, unchecked.
            member: whether the bot user is a member.
            archived: whether the channel starts archived.
            private: whether the channel is private. A private channel is invisible to
                the bot unless the bot is a member, as in Slack.
            members: IDs of other users in the channel.
        """
        with self.lock:
            channel = Channel(
                id=self.next_id("C"),
                name=name.lstrip("#"),
                created=self.now(),
                creator=self.bot_user_id,
                is_private=private,
                is_archived=archived,
            )
            if member:
                channel.members.append(self.bot_user_id)
            for user_id in members:
                self._require_user(user_id)
                if user_id not in channel.members:
                    channel.members.append(user_id)
            self.channels[channel.id] = channel
            return channel.id

    def add_usergroup(
        self, handle: str, user_ids: Iterable[str], *, name: str | None = None
    ) -> str:
        """Create a user group with the given members and return its ID."""
        with self.lock:
            users = list(user_ids)
            for user_id in users:
                self._require_user(user_id)
            group = UserGroup(
                id=self.next_id("S"),
                handle=handle,
                name=name or handle,
                users=users,
                date_create=self.now(),
            )
            self.usergroups[group.id] = group
            return group.id

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Post a message as `user`, as if a person wrote it, and return its `ts`."""
        with self.lock:
            self._require_user(user)
            message: dict[str, Any] = {"user": user, "text": text}
            if blocks is not None:
                message["blocks"] = blocks
            posted = self.append_message(self.channel(channel), message, thread_ts=thread_ts)
            return posted["ts"]

    # Lookups.

    def channel(self, reference: str) -> Channel:
        """Return the channel with this ID, `#name` or name, for tests.

        Unlike `find_channel`, this finds private channels the bot is not in, and it
        raises `KeyError` for an unknown channel.
        """
        with self.lock:
            found = self._lookup_channel(reference, allow_name=True)
            if found is None:
                known = ", ".join(f"{c.id} (#{c.name})" for c in self.channels.values())
                raise KeyError(
                    f"no channel {reference!r} in the emulator; known: {known or 'none'}"
                )
            return found

    def find_channel(self, reference: str, *, allow_name: bool = False) -> Channel | None:
        """Return the channel a Web API argument names, or None when the bot cannot see it.

        Slack accepts a channel name or a user ID only in the methods that post
        messages, so `allow_name` is off by default. A private channel is visible to its
        members only.
        """
        with self.lock:
            found = self._lookup_channel(reference, allow_name=allow_name)
            if found is None:
                return None
            if found.is_private and self.bot_user_id not in found.members:
                return None
            return found

    def _lookup_channel(self, reference: str, *, allow_name: bool) -> Channel | None:
        if reference in self.channels:
            return self.channels[reference]
        if not allow_name:
            return None
        # Posting to a user ID sends a direct message from the app.
        if reference in self.users:
            return self.open_im(reference)
        name = reference.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def channel_named(self, name: str) -> Channel | None:
        """Return the channel called `name`, archived or not, or None."""
        with self.lock:
            return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def open_im(self, user_id: str) -> Channel:
        """Return the direct message channel between the bot and `user_id`, creating it."""
        with self.lock:
            for channel in self.channels.values():
                if channel.is_im and user_id in channel.members:
                    return channel
            channel = Channel(
                id=self.next_id("D"),
                name=user_id,
                created=self.now(),
                creator=self.bot_user_id,
                is_private=True,
                is_im=True,
                members=[self.bot_user_id, user_id],
            )
            self.channels[channel.id] = channel
            return channel

    def _require_user(self, user_id: str) -> None:
        if user_id not in self.users:
            raise KeyError(f"no user {user_id!r} in the emulator; create it with add_user first")

    # Messages.

    def append_message(
        self,
        channel: Channel,
        message: dict[str, Any],
        *,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
    ) -> dict[str, Any]:
        """Store a new message with a fresh `ts` and return the stored object.

        A `thread_ts` that names a reply files the message under that reply's parent,
        which is where Slack shows it.
        """
        with self.lock:
            stored = {"type": "message", **message, "ts": self.next_ts(), "team": self.team_id}
            if thread_ts:
                parent = self.find_message(channel, thread_ts)
                if parent is not None and parent.get("thread_ts") not in (None, parent["ts"]):
                    thread_ts = parent["thread_ts"]
                    parent = self.find_message(channel, thread_ts)
                stored["thread_ts"] = thread_ts
                if parent is not None:
                    stored["parent_user_id"] = parent.get("user")
                    _count_reply(parent, stored)
                # NOTE: Slack documents no error for a `thread_ts` that names no
                # message; the emulator stores the reply without a parent.
                if reply_broadcast:
                    stored["subtype"] = "thread_broadcast"
            channel.messages.append(stored)
            return stored

    def find_message(self, channel: Channel, ts: str) -> dict[str, Any] | None:
        """Return the stored message (not a copy) with this `ts`, or None."""
        with self.lock:
            return next((m for m in channel.messages if m["ts"] == ts), None)

    def messages(self, channel: str, *, include_replies: bool = False) -> list[dict[str, Any]]:
        """Return copies of a channel's messages, oldest first.

        Without `include_replies`, only what the channel itself shows: top-level
        messages and replies broadcast to the channel.
        """
        with self.lock:
            stored = self.channel(channel).messages
            chosen = stored if include_replies else [m for m in stored if is_top_level(m)]
            return copy.deepcopy(chosen)

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Return copies of a thread, parent first, then the replies oldest first."""
        with self.lock:
            stored = self.channel(channel).messages
            thread = [m for m in stored if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]
            return copy.deepcopy(thread)

    def permalink(self, channel: Channel, message: dict[str, Any]) -> str:
        """Return a permalink in Slack's format, for chat.getPermalink."""
        link = (
            f"https://{self.team_domain}.slack.com/archives/{channel.id}/"
            f"p{message['ts'].replace('.', '')}"
        )
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return link


def is_top_level(message: dict[str, Any]) -> bool:
    """Tell whether a channel's history shows the message, not only its thread."""
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message["ts"]
        or message.get("subtype") == "thread_broadcast"
    )


def format_ts(micros: int) -> str:
    """Format microseconds since the epoch as a Slack `ts`: `"1733333333.000100"`."""
    seconds, fraction = divmod(micros, MICROSECONDS_PER_SECOND)
    return f"{seconds}.{fraction:06d}"


def parse_ts(value: str) -> float:
    """Parse a Slack `ts` such as `"1733333333.000100"`, raising ValueError when invalid."""
    seconds, _, fraction = value.partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"invalid Slack ts {value!r}; expected digits, a dot and digits")
    return float(value)


def _count_reply(parent: dict[str, Any], reply: dict[str, Any]) -> None:
    """Update the thread fields Slack keeps on a parent message."""
    parent["thread_ts"] = parent["ts"]
    parent["reply_count"] = parent.get("reply_count", 0) + 1
    reply_users = parent.setdefault("reply_users", [])
    if reply.get("user") and reply["user"] not in reply_users:
        reply_users.append(reply["user"])
    parent["reply_users_count"] = len(reply_users)
    parent["latest_reply"] = reply["ts"]
