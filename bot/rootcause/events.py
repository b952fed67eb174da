"""Change events (deployments, autoscaling, config changes), kept in Redis by time.

Key layout, under the store's prefix::

    events    sorted set: member = event JSON (with its id), score = event time (unix seconds)

The id is a hash of the event's content, so a sender that retries the same event
stores it once. Events older than EVENT_RETENTION are dropped whenever one is recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.store import Store

log = logging.getLogger(__name__)

EVENT_TYPES = ("deployment", "autoscaling", "config_change")
EVENT_RETENTION = 30 * 86400.0
# Unix seconds beyond this (the year 2286) are almost surely milliseconds.
MAX_UNIX_SECONDS = 1e10

EventType = Literal["deployment", "autoscaling", "config_change"]

_TEXT_FIELD = re.compile(r"^[^\x00-\x1f]*$")


class ChangeEvent(BaseModel):
    """One change to a service: a deployment, an autoscaling action or a config change.

    `time` is unix seconds; an ISO 8601 text with a time zone is accepted too. A
    deployment needs its `version`. `link` points to the pipeline run, change request or
    scaling activity.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: EventType
    service: str = Field(min_length=1, max_length=200)
    time: float
    version: str | None = Field(default=None, min_length=1, max_length=200)
    link: str | None = Field(default=None, max_length=2000)
    region: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=500)

    @field_validator("time", mode="before")
    @classmethod
    def _unix_seconds(cls, value: object) -> float:
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a time; send unix seconds such as 1717243200 "
                             "or ISO 8601 such as 2024-06-01T12:00:00Z")
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            seconds = _parse_iso_time(value)
        else:
            raise ValueError(f"{value!r} is not a time; send unix seconds such as 1717243200 "
                             "or ISO 8601 such as 2024-06-01T12:00:00Z")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{value!r} is not a time; send unix seconds such as 1717243200")
        if seconds > MAX_UNIX_SECONDS:
            raise ValueError(f"{value!r} looks like milliseconds; send unix seconds, such as {seconds / 1000:.0f}")
        return seconds

    @field_validator("service", "version", "region", "description")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        if value is not None and not _TEXT_FIELD.match(value):
            raise ValueError("contains control characters such as a newline; send one line of text")
        return value.strip() if value is not None else None

    @field_validator("link")
    @classmethod
    def _http_link(cls, link: str | None) -> str | None:
        if link is None:
            return None
        parsed = urlsplit(link)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"{link!r} is not an http(s) URL; send a link such as https://ci.example.com/runs/42")
        return link

    @model_validator(mode="after")
    def _deployment_version(self) -> ChangeEvent:
        if self.type == "deployment" and self.version is None:
            raise ValueError("a deployment needs field 'version': the version it rolled out, such as \"v2.3.1\"")
        return self

    @property
    def id(self) -> str:
        """Stable id of the event: a hash of its content."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(canonical.encode()).hexdigest()[:16]


def _parse_iso_time(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time; send one such as 2024-06-01T12:00:00Z "
                         "or unix seconds") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add one, such as {text.strip()}Z for UTC")
    return parsed.timestamp()


def record_event(store: Store, event: ChangeEvent, *, now: float) -> bool:
    """Store `event`; return False when the same event was stored already.

    Raises redis.RedisError when Redis fails.
    """
    member = json.dumps({"id": event.id, **event.model_dump()}, sort_keys=True, separators=(",", ":"))
    key = store.key("events")
    with store.redis.pipeline() as pipe:
        pipe.zadd(key, {member: event.time}, nx=True)
        pipe.zremrangebyscore(key, "-inf", f"({now - EVENT_RETENTION!r}")
        added, _ = pipe.execute()
    if added:
        log.info("change event %s stored: %s of %s %s at %.0f", event.id, event.type, event.service,
                 event.version or "", event.time)
    else:
        log.info("change event %s received again; it was stored before", event.id)
    return bool(added)


def events_between(store: Store, start: float, end: float) -> list[ChangeEvent]:
    """Return the stored events with start <= time <= end, oldest first.

    A member that no longer parses (written by another version) is skipped and logged.
    Raises redis.RedisError when Redis fails.
    """
    members = store.redis.zrangebyscore(store.key("events"), repr(float(start)), repr(float(end)))
    events = []
    for member in members:
        try:
            fields = json.loads(member)
            fields.pop("id", None)
            events.append(ChangeEvent.model_validate(fields))
        except ValueError as error:  # json.JSONDecodeError and ValidationError are ValueErrors
            log.warning("change event skipped, it does not parse: %s", error)
    return events
