"""Deliver Slack messages from a queue in Redis, in order, each once.

Every message the bot sends about an incident goes through the incident's
queue (`outbox:queue:<stream>`). Delivery takes the head of a queue, sends
it, and pops it only after Slack accepted it, so a crash, a rate limit or a
Slack outage leaves it at the head to be sent later, in order.

    enqueue(...) -> RPUSH to the stream's list; mark the stream pending
    deliver()   -> for each pending stream (locked), send the head until empty

Failures:
- `ratelimited`: the stream pauses until Retry-After has passed.
- another process holds the message's post lock (it may have died mid-post):
  the stream pauses briefly and the message stays at the head.
- Slack unreachable or 5xx: every stream pauses, with a growing back-off.
- Any other Slack error (channel_not_found, invalid_blocks, ...) cannot be
  fixed by waiting: the message moves to the dead-letter list and is logged
  with its ids, so one bad message never blocks the ones behind it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import SlackError, SlackRateLimited, SlackUnavailable
from bot.store import LockBusy, Store

log = logging.getLogger(__name__)

# A worker that dies while draining a stream blocks it until its lock
# expires, so the lock is short and a drain yields well before it.
STREAM_LOCK_SECONDS = 15.0
DRAIN_BUDGET_SECONDS = 10.0
OUTAGE_BACKOFF_START = 2.0
OUTAGE_BACKOFF_MAX = 60.0
DEAD_LETTERS_KEPT = 1000


class DeliveryDeferred(Exception):
    """The operation cannot be sent yet because another process has its post lock; retry after `retry_after` s."""

    def __init__(self, reason: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(reason)


@dataclass(frozen=True)
class Operation:
    """One queued Slack operation; `kind` selects the handler that performs it."""

    kind: str
    stream: str
    post_key: str | None
    data: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "stream": self.stream, "post_key": self.post_key,
                           "data": self.data})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Operation:
        fields = json.loads(raw)
        return cls(kind=fields["kind"], stream=fields["stream"], post_key=fields["post_key"],
                   data=fields["data"])


Handler = Callable[[Operation], None]


class Outbox:
    """The queue of Slack operations and its delivery loop."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.handlers: dict[str, Handler] = {}
        self._clock = clock

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    # --- enqueue ----------------------------------------------------------------

    def enqueue(self, operation: Operation, *, dedupe_key: str | None = None) -> bool:
        """Queue `operation`; with `dedupe_key`, skip it while an equal one is queued.

        Returns whether the operation was queued.
        """
        if operation.kind not in self.handlers:
            raise ValueError(f"no handler registered for outbox operation {operation.kind!r}")

        redis = self.store.redis
        if dedupe_key is not None:
            queued = redis.set(self._key("queued", dedupe_key), "1", nx=True, ex=7 * 86400)
            if not queued:
                return False
            operation = Operation(operation.kind, operation.stream, operation.post_key,
                                  {**operation.data, "_dedupe_key": dedupe_key})

        with redis.pipeline() as pipe:
            pipe.rpush(self._key("queue", operation.stream), operation.to_json())
            pipe.zadd(self._key("streams"), {operation.stream: self._clock()}, nx=True)
            pipe.execute()
        return True

    def pending(self, stream: str) -> int:
        return int(self.store.redis.llen(self._key("queue", stream)))

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.store.redis.lrange(self._key("dead"), 0, -1)]

    # --- deliver ----------------------------------------------------------------

    def deliver(self, stream: str | None = None) -> int:
        """Send queued operations (of one stream, or of all); return how many were sent."""
        if self._paused(self._key("paused-until")):
            return 0
        streams = [stream] if stream else [
            member.decode() for member in self.store.redis.zrange(self._key("streams"), 0, -1)
        ]
        sent = 0
        for name in streams:
            try:
                with self.store.lock(f"outbox:{name}", ttl=STREAM_LOCK_SECONDS):
                    sent += self._drain(name)
            except LockBusy:
                continue
            except SlackUnavailable:
                break
        return sent

    def _drain(self, stream: str) -> int:
        redis = self.store.redis
        queue = self._key("queue", stream)
        if self._paused(self._key("stream-paused-until", stream)):
            return 0

        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < DRAIN_BUDGET_SECONDS:
            raw = redis.lindex(queue, 0)
            if raw is None:
                redis.zrem(self._key("streams"), stream)
                # A producer may have pushed between LINDEX and ZREM; keep the stream listed then.
                if redis.llen(queue):
                    redis.zadd(self._key("streams"), {stream: self._clock()}, nx=True)
                return sent
            operation = Operation.from_json(raw)

            try:
                self.handlers[operation.kind](operation)
            except DeliveryDeferred as deferred:
                until = self._clock() + deferred.retry_after
                redis.set(self._key("stream-paused-until", stream), repr(until), ex=3600)
                log.info("outbox %s: %s %s deferred %.0fs: %s", stream, operation.kind, operation.post_key or "",
                         deferred.retry_after, deferred)
                return sent
            except SlackRateLimited as error:
                until = self._clock() + error.retry_after
                redis.set(self._key("stream-paused-until", stream), repr(until), ex=3600)
                log.warning("outbox %s: rate limited on %s; paused %.1fs", stream, error.method,
                            error.retry_after)
                return sent
            except SlackUnavailable as error:
                self._pause_all(error)
                raise
            except SlackError as error:
                self._dead_letter(operation, error)
            else:
                sent += 1
                self.store.redis.delete(self._key("outage-backoff"))

            redis.lpop(queue)
            dedupe_key = operation.data.get("_dedupe_key")
            if dedupe_key:
                redis.delete(self._key("queued", dedupe_key))
        return sent

    def _pause_all(self, error: SlackUnavailable) -> None:
        redis = self.store.redis
        backoff = float(redis.get(self._key("outage-backoff")) or OUTAGE_BACKOFF_START / 2) * 2
        backoff = min(backoff, OUTAGE_BACKOFF_MAX)
        redis.set(self._key("outage-backoff"), repr(backoff), ex=3600)
        redis.set(self._key("paused-until"), repr(self._clock() + backoff), ex=3600)
        log.error("Slack is unavailable (%s); delivery paused for %.0fs, messages stay queued",
                  error.detail, backoff)

    def _dead_letter(self, operation: Operation, error: SlackError) -> None:
        log.error("outbox stream %s: %s %s not delivered, Slack error %s in %s; moved to the dead-letter list",
                  operation.stream, operation.kind, operation.post_key or "", error.error, error.channel or "-")
        entry = json.dumps({"operation": json.loads(operation.to_json()), "error": error.error,
                            "method": error.method, "at": self._clock()})
        with self.store.redis.pipeline() as pipe:
            pipe.lpush(self._key("dead"), entry)
            pipe.ltrim(self._key("dead"), 0, DEAD_LETTERS_KEPT - 1)
            pipe.execute()

    def _paused(self, key: str) -> bool:
        raw = self.store.redis.get(key)
        return raw is not None and float(raw) > self._clock()

    def _key(self, *parts: str) -> str:
        return self.store.key("outbox", *parts)
