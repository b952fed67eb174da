"""Failures a test requests: injected errors, injected 429s, and per-method rate limits.

Slack rate limits per method, per workspace and per app, in tiers of calls per minute,
and chat.postMessage "generally allows posting one message per second per channel"
with short bursts (https://api.slack.com/docs/rate-limits). A rate-limited
call gets HTTP 429 with a `Retry-After` header in seconds and the body
`{"ok": false, "error": "ratelimited"}`.

The emulator does not rate limit on its own. A test either queues failures for the
next calls of a method (`rate_limit_next`, `fail_next`) or sets a sliding-window limit
(`set_rate_limit`).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError


@dataclass
class RateLimited:
    """A decision to respond with HTTP 429, and the `Retry-After` value in seconds."""

    retry_after: int


@dataclass
class _QueuedFault:
    """Failures queued for the next `remaining` calls of one method."""

    remaining: int
    retry_after: int | None = None
    error: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RateLimit:
    """At most `calls` successful calls in any window of `per_seconds`."""

    calls: int
    per_seconds: float
    per_channel: bool
    # Call times per key (the channel, or "" for the whole method), oldest first.
    history: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))


class FaultPlan:
    """The failures the emulator owes its next calls, safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: dict[str, deque[_QueuedFault]] = defaultdict(deque)
        self._limits: dict[str, _RateLimit] = {}

    def reset(self) -> None:
        """Drop every queued failure and rate limit."""
        with self._lock:
            self._queued.clear()
            self._limits.clear()

    def rate_limit_next(self, method: str, *, retry_after: int, count: int) -> None:
        """Fail the next `count` calls of `method` with HTTP 429 and `Retry-After`."""
        _require_positive(count=count)
        if retry_after < 0:
            raise ValueError(f"retry_after must be 0 or more seconds, got {retry_after}")
        with self._lock:
            self._queued[method].append(_QueuedFault(remaining=count, retry_after=retry_after))

    def fail_next(self, method: str, *, error: str, count: int, fields: dict[str, Any]) -> None:
        """Fail the next `count` calls of `method` with `{"ok": false, "error": error}`."""
        _require_positive(count=count)
        with self._lock:
            self._queued[method].append(
                _QueuedFault(remaining=count, error=error, fields=dict(fields))
            )

    def set_rate_limit(
        self, method: str, *, calls: int, per_seconds: float, per_channel: bool
    ) -> None:
        """Allow at most `calls` calls of `method` per `per_seconds`, per channel if set."""
        _require_positive(calls=calls)
        if per_seconds <= 0:
            raise ValueError(f"per_seconds must be positive, got {per_seconds}")
        with self._lock:
            self._limits[method] = _RateLimit(calls, per_seconds, per_channel)

    def take(self, method: str, channel: str | None, now: float) -> RateLimited | ApiError | None:
        """Return the failure owed to this call, or None to let it through.

        Queued failures come first, in the order the test queued them. A call that
        passes counts against the method's rate limit.
        """
        with self._lock:
            queue = self._queued.get(method)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.popleft()
                if fault.retry_after is not None:
                    return RateLimited(retry_after=fault.retry_after)
                return ApiError(fault.error or "internal_error", **fault.fields)

            limit = self._limits.get(method)
            if limit is None:
                return None
            key = (channel or "") if limit.per_channel else ""
            window = limit.history[key]
            while window and window[0] <= now - limit.per_seconds:
                window.popleft()
            if len(window) >= limit.calls:
                wait = window[0] + limit.per_seconds - now
                return RateLimited(retry_after=max(1, math.ceil(wait)))
            window.append(now)
            return None


def _require_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be 1 or more, got {value}")
