"""Silences: stop alerting for a monitor or a label selector until a time.

A silence target is a monitor name (`api-cpu`) or a label selector in the
PromQL style, optionally with a metric name: `{service="api",region="eu"}`
or `http_requests_total{job="api"}`. Only `=` matchers are supported.
Silences live in Redis and expire on time.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from bot.store import Store

log = logging.getLogger(__name__)

_SELECTOR = re.compile(r"^(?P<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)?(?:\{(?P<body>[^{}]*)\})?$")
_MATCHER = re.compile(r'^\s*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"(?P<value>[^"]*)"\s*$')
SELECTOR_EXAMPLE = '{service="api",region="eu-west-1"}'


@dataclass(frozen=True)
class Silence:
    id: str
    target: str
    monitor: str | None
    matchers: dict[str, str]
    until: float
    reason: str
    created_by: str
    created_at: float

    def matches(self, monitor: str, labels: Mapping[str, str]) -> bool:
        if self.monitor is not None:
            return self.monitor == monitor
        return all(labels.get(name) == value for name, value in self.matchers.items())


def parse_selector(text: str) -> dict[str, str]:
    """Parse `metric{label="value",...}` into matchers; raise ValueError naming the bad part."""
    match = _SELECTOR.match(text.strip())
    if not match or not (match.group("metric") or match.group("body") is not None):
        raise ValueError(f"{text!r} is not a label selector; write it as {SELECTOR_EXAMPLE}")

    matchers: dict[str, str] = {}
    if match.group("metric"):
        matchers["__name__"] = match.group("metric")
    body = match.group("body") or ""
    for part in filter(None, (piece.strip() for piece in body.split(","))):
        matcher = _MATCHER.match(part)
        if not matcher:
            raise ValueError(
                f"{part!r} in {text!r} is not a label matcher; write it as name=\"value\", "
                f"such as {SELECTOR_EXAMPLE}"
            )
        matchers[matcher.group("name")] = matcher.group("value")
    if not matchers:
        raise ValueError(f"{text!r} matches every series; name at least one label, such as {SELECTOR_EXAMPLE}")
    return matchers


def looks_like_selector(text: str) -> bool:
    return "{" in text or "}" in text


def add_silence(
    store: Store, *, target: str, monitor: str | None, matchers: dict[str, str], until: float,
    reason: str, user: str, now: float,
) -> Silence:
    silence = Silence(id=uuid.uuid4().hex[:8], target=target, monitor=monitor, matchers=matchers,
                      until=until, reason=reason, created_by=user, created_at=now)
    store.redis.hset(store.key("silences"), silence.id, json.dumps(asdict(silence)))
    log.info("silence %s on %s until %.0f by %s: %s", silence.id, target, until, user, reason)
    return silence


def active_silences(store: Store, *, now: float) -> list[Silence]:
    """Return the silences in force at `now`; expired ones are deleted."""
    silences = []
    for silence_id, raw in store.redis.hgetall(store.key("silences")).items():
        silence = Silence(**json.loads(raw))
        if silence.until <= now:
            store.redis.hdel(store.key("silences"), silence_id)
            log.info("silence %s on %s expired", silence.id, silence.target)
            continue
        silences.append(silence)
    return sorted(silences, key=lambda item: item.until)


def remove_silences(store: Store, *, target: str, now: float) -> list[Silence]:
    """Remove the silences with this target or id; return them."""
    removed = []
    for silence in active_silences(store, now=now):
        if silence.target == target or silence.id == target:
            store.redis.hdel(store.key("silences"), silence.id)
            removed.append(silence)
    return removed


def silenced_by(store: Store, *, monitor: str, labels: Mapping[str, str], now: float) -> Silence | None:
    for silence in active_silences(store, now=now):
        if silence.matches(monitor, labels):
            return silence
    return None


def count_suppressed(store: Store, *, monitor: str, now: float, reason: str) -> None:
    """Count an alert that was not sent, for the digest."""
    day = str(int(now // 86400))
    store.redis.hincrby(store.key("suppressed", day), f"{monitor}:{reason}", 1)
