"""Slack I/O: post, update and find messages, with retries on rate limits.

This is the one layer that talks to Slack's Web API. It translates
slack_sdk's errors into SlackError and SlackRateLimited, honours Retry-After,
and joins a public channel once when Slack returns `not_in_channel`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import SlackError, SlackRateLimited, SlackUnavailable

log = logging.getLogger(__name__)

METADATA_EVENT = "anomaly_bot_post"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")

# Give up rather than hold a poll for long: Slack's Retry-After for chat
# methods is usually a few seconds.
MAX_RETRIES = 3
MAX_RETRY_AFTER = 30.0


class Gateway(Protocol):
    """The Slack operations the rest of the bot uses."""

    def post(
        self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None,
        post_key: str | None = None,
    ) -> tuple[str, str]:
        """Post a message; return (channel id, ts)."""
        ...

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        ...

    def find_post(
        self, channel: str, post_key: str, *, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        """Return (channel id, ts) of a message posted earlier with `post_key`, or None."""
        ...


class WebGateway:
    """Gateway over slack_sdk's WebClient."""

    def __init__(self, client: WebClient, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._sleep = sleep
        # A cache of channel names to ids, not durable state: it is rebuilt from Slack.
        self._channel_ids: dict[str, str] = {}

    def post(
        self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None,
        post_key: str | None = None,
    ) -> tuple[str, str]:
        arguments: dict[str, Any] = {"channel": channel, **message}
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        if post_key:
            arguments["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"post_key": post_key}}

        try:
            response = self._call("chat.postMessage", channel, arguments)
        except SlackError as error:
            if error.error != "not_in_channel":
                raise
            log.warning("not in channel %s; joining it and posting again", channel)
            self._call("conversations.join", channel, {"channel": self.channel_id(channel)})
            response = self._call("chat.postMessage", channel, arguments)
        return response["channel"], response["ts"]

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        self._call("chat.update", channel, {"channel": channel, "ts": ts, **message})

    def post_ephemeral(self, channel: str, user: str, message: dict[str, Any]) -> None:
        self._call("chat.postEphemeral", channel, {"channel": channel, "user": user, **message})

    def upload_file(
        self, channel: str, *, thread_ts: str | None, filename: str, content: bytes, title: str,
        alt_text: str, comment: str | None = None,
    ) -> str:
        """Upload a file through Slack's external upload flow; return the file id."""
        channel = self.channel_id(channel)
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self.client.files_upload_v2(
                    channel=channel, thread_ts=thread_ts, filename=filename, content=content,
                    title=title, alt_txt=alt_text, initial_comment=comment,
                )
                log.info("slack files_upload_v2 channel=%s ok %.0fms", channel,
                         (time.monotonic() - started) * 1000)
                return response["file"]["id"]
            except SlackApiError as error:
                translated = _translate("files.upload", channel, error)
            except (OSError, SlackClientError) as error:
                raise SlackUnavailable(method="files.upload", detail=type(error).__name__,
                                       channel=channel) from None
            attempt += 1
            if not isinstance(translated, SlackRateLimited) or attempt > MAX_RETRIES:
                log.error("slack files.upload channel=%s failed: %s", channel, translated.error)
                raise translated
            self._sleep(translated.retry_after)

    def permalink(self, channel: str, ts: str) -> str:
        return self._call("chat.getPermalink", channel, {"channel": channel, "message_ts": ts})["permalink"]

    def usergroup_members(self, handle: str) -> tuple[str, list[str]] | None:
        """Return (user group id, member ids) of the group with `handle`, or None if none has it."""
        groups = self._call("usergroups.list", None, {"include_users": True}).get("usergroups", [])
        for group in groups:
            if group.get("handle") == handle.lstrip("@"):
                return group["id"], list(group.get("users") or [])
        return None

    def create_channel(self, name: str) -> str:
        return self._call("conversations.create", None, {"name": name})["channel"]["id"]

    def invite(self, channel: str, users: list[str]) -> None:
        self._call("conversations.invite", channel, {"channel": channel, "users": ",".join(users)})

    def find_post(
        self, channel: str, post_key: str, *, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        channel = self.channel_id(channel)
        if thread_ts:
            method, arguments = "conversations.replies", {"channel": channel, "ts": thread_ts}
        else:
            method, arguments = "conversations.history", {"channel": channel}
        arguments.update({"limit": 200, "include_all_metadata": True})

        response = self._call(method, channel, arguments)
        for message in response.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and payload.get("post_key") == post_key:
                return channel, message["ts"]
        return None

    def channel_id(self, channel: str) -> str:
        """Return the id of a channel given as `#name`, `name` or an id."""
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        if name in self._channel_ids:
            return self._channel_ids[name]

        cursor = None
        while True:
            arguments: dict[str, Any] = {"limit": 1000, "types": "public_channel,private_channel"}
            if cursor:
                arguments["cursor"] = cursor
            response = self._call("conversations.list", None, arguments)
            for entry in response.get("channels", []):
                self._channel_ids[entry["name"]] = entry["id"]
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if name in self._channel_ids or not cursor:
                break

        if name not in self._channel_ids:
            raise SlackError(method="conversations.list", error="channel_not_found", channel=channel)
        return self._channel_ids[name]

    def _call(self, method: str, channel: str | None, arguments: dict[str, Any]) -> dict[str, Any]:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self.client.api_call(method, json=arguments)
                log.info("slack %s channel=%s ok %.0fms", method, channel,
                         (time.monotonic() - started) * 1000)
                return response.data  # type: ignore[return-value]
            except SlackApiError as error:
                translated = _translate(method, channel, error)
            except (OSError, SlackClientError) as error:
                # URLError, connection refused, time-outs: Slack is unreachable.
                log.error("slack %s channel=%s unreachable: %s", method, channel, error)
                raise SlackUnavailable(method=method, detail=type(error).__name__, channel=channel) from None

            if isinstance(translated, SlackUnavailable):
                log.error("slack %s channel=%s failed: %s", method, channel, translated.error)
                raise translated
            if not isinstance(translated, SlackRateLimited):
                log.error("slack %s channel=%s failed: %s", method, channel, translated.error)
                raise translated

            attempt += 1
            if attempt > MAX_RETRIES or translated.retry_after > MAX_RETRY_AFTER:
                log.error("slack %s channel=%s rate limited; giving up after %d attempts",
                          method, channel, attempt)
                raise translated
            log.warning("slack %s channel=%s rate limited; retry %d/%d in %.1fs",
                        method, channel, attempt, MAX_RETRIES, translated.retry_after)
            self._sleep(translated.retry_after)


def _translate(method: str, channel: str | None, error: SlackApiError) -> SlackError:
    response = error.response
    if response.status_code >= 500:
        return SlackUnavailable(method=method, detail=f"HTTP {response.status_code}", channel=channel)
    if response.status_code == 429:
        retry_after = float(response.headers.get("Retry-After", response.headers.get("retry-after", 1)))
        return SlackRateLimited(method=method, retry_after=retry_after, channel=channel)
    code = response.get("error", "unknown_error") if response.data else f"http_{response.status_code}"
    detail = response.get("errors") if response.data else None
    translated = SlackError(method=method, error=str(code), channel=channel)
    if detail:
        log.debug("slack %s details: %s", method, detail)
    return translated
