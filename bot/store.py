"""All durable state, on Redis: series windows, incidents and posted-message keys.

Nothing durable lives in process memory, so a restart or a second replica
loses and duplicates nothing. Key layout (all under the `prefix`):

    series:<monitor>:<fingerprint>    hash: labels, timestamps, values (float64 bytes)
    incident:<id>                     JSON of one Incident
    incident:open:<fingerprint>       id of the open incident of that series
    incident:next-id                  counter for incident ids
    incidents:open                    sorted set of open incident ids by opening time
    incidents:all                     sorted set of every incident id by opening time
    escalation:due                    sorted set of incident ids by the time their escalation falls due
    once:<name>                       first-claim markers (click and request dedupe)
    post:<key>                        JSON {channel, ts} of a message posted once
    post:<key>:pending                set while a post is in flight (crash recovery)
    lock:<name>                       short-lived locks between replicas
    excluded:<monitor>:<fingerprint>  JSON of the timestamps kept out of the series' baselines
    pending:<fingerprint>             time of the first alerting evaluation, while a `for` runs
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import redis

from bot.incident import Incident
from bot.sources.base import Series

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "anomalybot:"


class LockBusy(Exception):
    """Another process holds the lock."""


class Store:
    """Typed access to the bot's Redis keys."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = client
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def ping(self) -> bool:
        return bool(self.redis.ping())

    # --- series windows -------------------------------------------------

    def load_series(self, monitor: str, fingerprint: str) -> Series | None:
        """Return the stored window of one series, or None before its first poll."""
        stored = self.redis.hgetall(self.key("series", monitor, fingerprint))
        if not stored:
            return None
        labels = json.loads(stored[b"labels"])
        timestamps = np.frombuffer(stored[b"timestamps"], dtype=np.float64).copy()
        values = np.frombuffer(stored[b"values"], dtype=np.float64).copy()
        return Series(labels, timestamps, values)

    def save_series(self, monitor: str, fingerprint: str, series: Series) -> None:
        self.redis.hset(
            self.key("series", monitor, fingerprint),
            mapping={
                "labels": json.dumps(dict(series.labels)),
                "timestamps": series.timestamps.astype(np.float64).tobytes(),
                "values": series.values.astype(np.float64).tobytes(),
            },
        )
        self.redis.sadd(self.key("series-index", monitor), fingerprint)

    def series_fingerprints(self, monitor: str) -> list[str]:
        members = self.redis.smembers(self.key("series-index", monitor))
        return sorted(member.decode() for member in members)

    # --- incidents --------------------------------------------------------

    def get_incident(self, incident_id: str) -> Incident | None:
        raw = self.redis.get(self.key("incident", incident_id))
        return Incident.model_validate_json(raw) if raw else None

    def open_incident_id(self, fingerprint: str) -> str | None:
        raw = self.redis.get(self.key("incident", "open", fingerprint))
        return raw.decode() if raw else None

    def open_incident_ids(self) -> list[str]:
        return [member.decode() for member in self.redis.zrange(self.key("incidents", "open"), 0, -1)]

    def incident_ids_opened_between(self, start: float, end: float) -> list[str]:
        members = self.redis.zrangebyscore(self.key("incidents", "all"), start, end)
        return [member.decode() for member in members]

    def claim_once(self, name: str, *, ttl: float) -> bool:
        """Return True the first time `name` is claimed within `ttl` seconds, False after."""
        return bool(self.redis.set(self.key("once", name), "1", nx=True, px=int(ttl * 1000)))

    def create_incident(self, build: Callable[[str], Incident]) -> tuple[Incident, bool]:
        """Create the open incident of a fingerprint unless one exists.

        `build` receives the new id and returns the incident. Returns the
        incident and whether this call created it; when two replicas race,
        exactly one creates and the other gets the winner's incident.
        """
        new_id = str(self.redis.incr(self.key("incident", "next-id")))
        incident = build(new_id)
        open_key = self.key("incident", "open", incident.fingerprint)

        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(open_key)
                    existing = pipe.get(open_key)
                    if existing is not None:
                        pipe.unwatch()
                        found = self.get_incident(existing.decode())
                        if found is not None:
                            return found, False
                    pipe.multi()
                    pipe.set(open_key, incident.id)
                    pipe.set(self.key("incident", incident.id), incident.model_dump_json())
                    pipe.zadd(self.key("incidents", "open"), {incident.id: incident.opened_at})
                    pipe.zadd(self.key("incidents", "all"), {incident.id: incident.opened_at})
                    pipe.execute()
                    return incident, True
                except redis.WatchError:
                    continue

    def update_incident(
        self, incident_id: str, change: Callable[[Incident], Incident | None]
    ) -> Incident | None:
        """Apply `change` to the stored incident atomically (optimistic locking).

        `change` returns the new incident, or None to leave it as it is. It may
        run more than once when another replica writes at the same moment, so
        it must not have side effects.
        """
        key = self.key("incident", incident_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        pipe.unwatch()
                        return None
                    current = Incident.model_validate_json(raw)
                    updated = change(current)
                    if updated is None:
                        pipe.unwatch()
                        return current
                    pipe.multi()
                    pipe.set(key, updated.model_dump_json())
                    if updated.status == "resolved" and current.status != "resolved":
                        # Resolving stops the escalation clock in the same transaction.
                        pipe.delete(self.key("incident", "open", updated.fingerprint))
                        for member in updated.grouped:
                            pipe.delete(self.key("incident", "open", member))
                        pipe.zrem(self.key("incidents", "open"), updated.id)
                        pipe.zrem(self.key("escalation", "due"), updated.id)
                    pipe.execute()
                    return updated
                except redis.WatchError:
                    continue

    # --- messages posted once ----------------------------------------------

    def posted(self, post_key: str) -> dict[str, str] | None:
        raw = self.redis.get(self.key("post", post_key))
        return json.loads(raw) if raw else None

    def record_post(self, post_key: str, *, channel: str, ts: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.set(self.key("post", post_key), json.dumps({"channel": channel, "ts": ts}))
            pipe.delete(self.key("post", post_key, "pending"))
            pipe.execute()

    def mark_post_pending(self, post_key: str) -> bool:
        """Mark a post as in flight; return True when an earlier attempt was already pending."""
        previous = self.redis.set(self.key("post", post_key, "pending"), "1", get=True)
        return previous is not None

    def clear_post_pending(self, post_key: str) -> None:
        self.redis.delete(self.key("post", post_key, "pending"))

    # --- locks --------------------------------------------------------------

    @contextmanager
    def lock(self, name: str, *, ttl: float = 30.0) -> Iterator[None]:
        """Hold a lock between replicas for at most `ttl` seconds; raise LockBusy if taken."""
        key = self.key("lock", name)
        token = uuid.uuid4().hex
        if not self.redis.set(key, token, nx=True, px=int(ttl * 1000)):
            raise LockBusy(name)
        try:
            yield
        finally:
            self._release(key, token)

    def _release(self, key: str, token: str) -> None:
        # Delete the lock only if it is still ours: it may have expired and
        # been taken by another process meanwhile.
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(key)
                if pipe.get(key) == token.encode():
                    pipe.multi()
                    pipe.delete(key)
                    pipe.execute()
                else:
                    pipe.unwatch()
            except redis.WatchError:
                log.debug("lock %s changed while releasing it; left to its owner", key)
