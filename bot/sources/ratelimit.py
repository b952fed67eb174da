"""A rate-limit budget that every worker calling one backend shares, kept in Redis.

Datadog states its rate limit on each response, per organisation and
endpoint (https://docs.datadoghq.com/api/latest/rate-limits/):

    X-RateLimit-Limit      requests allowed in a period
    X-RateLimit-Period     length of the period in seconds (calendar aligned)
    X-RateLimit-Remaining  requests left in the current period
    X-RateLimit-Reset      seconds until the current period ends

The budget stores the remaining count and the reset time in Redis. Each
worker takes one request from it before sending, so several workers stop
together when the count reaches 0 and wait for the reset instead of each
drawing its own 429. Without Redis (the `check-config` command) the budget
lives in process memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import redis

from bot.sources.errors import SourceRateLimited

log = logging.getLogger(__name__)

# Two reports whose reset times differ by less than this describe the same
# period; latency makes "seconds until reset" drift by a little per response.
SAME_PERIOD_TOLERANCE = 2.0

# How long a stored budget outlives its reset when the backend does not state its period.
DEFAULT_PERIOD = 3600.0

# Take one request: go ahead when the budget is unknown or its period is
# over, else decrement a positive count, else return the seconds to wait.
_TAKE_SCRIPT = """
local remaining = tonumber(redis.call('HGET', KEYS[1], 'remaining'))
local reset_at = tonumber(redis.call('HGET', KEYS[1], 'reset_at'))
local now = tonumber(ARGV[1])
if remaining == nil or reset_at == nil or reset_at <= now then
  return {1, '0'}
end
if remaining > 0 then
  redis.call('HINCRBY', KEYS[1], 'remaining', -1)
  return {1, '0'}
end
return {0, tostring(reset_at - now)}
"""

# Record what a response stated. Within one period keep the lower count,
# because other workers may have sent requests the response did not count
# yet. A late response from an earlier period is ignored.
_RECORD_SCRIPT = """
local stored_remaining = tonumber(redis.call('HGET', KEYS[1], 'remaining'))
local stored_reset = tonumber(redis.call('HGET', KEYS[1], 'reset_at'))
local remaining = tonumber(ARGV[1])
local reset_at = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[4])
if stored_reset ~= nil and reset_at < stored_reset - tolerance then
  return 0
end
if stored_reset ~= nil and stored_remaining ~= nil and math.abs(stored_reset - reset_at) < tolerance then
  remaining = math.min(remaining, stored_remaining)
end
redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class RateLimitReport:
    """The rate-limit state one response reported."""

    remaining: int
    reset_after: float
    limit: int | None = None
    period: float | None = None


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitReport | None:
    """Read Datadog's X-RateLimit-* headers; None when Remaining or Reset is missing or not a number."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        remaining = int(lowered["x-ratelimit-remaining"])
        reset_after = float(lowered["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None
    limit = _optional_number(lowered.get("x-ratelimit-limit"), int)
    period = _optional_number(lowered.get("x-ratelimit-period"), float)
    return RateLimitReport(remaining=remaining, reset_after=reset_after, limit=limit, period=period)


def _optional_number(text: str | None, kind: Callable[[str], float]) -> float | None:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        return None


class _BudgetState(Protocol):
    def take(self, now: float) -> float | None: ...

    def record(self, remaining: int, reset_at: float, ttl: float) -> None: ...

    def read(self) -> tuple[int, float] | None: ...


class RateBudget:
    """Requests left until the backend's rate limit resets, shared through Redis.

    `acquire` before each request takes one from the budget. When the budget
    is spent it waits for the reset, up to `max_wait` seconds, and a longer
    wait raises SourceRateLimited at once. `record` after each response stores what the
    backend stated; `spend` after a 429 empties the budget until the reset.
    """

    def __init__(
        self,
        *,
        key: str,
        redis_client: redis.Redis | None = None,
        max_wait: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._state: _BudgetState = _RedisState(redis_client, key) if redis_client is not None else _LocalState()

    def acquire(self, *, source: str, url: str, query: str | None) -> None:
        """Take one request from the budget; wait for the reset or raise SourceRateLimited when it is spent."""
        while True:
            wait = self._take()
            if wait is None:
                return
            if wait > self.max_wait:
                raise SourceRateLimited(
                    f"the rate limit of {url} is spent for this period (shared by every worker); "
                    f"it resets in {wait:.0f}s",
                    source=source, url=url, query=query, retry_after=wait,
                )
            log.info("source %s: rate-limit budget spent; waiting %.1fs for the period to reset", source, wait)
            self._sleep(wait)

    def record(self, headers: Mapping[str, str]) -> RateLimitReport | None:
        """Store the rate-limit state a response stated; return it, or None without the headers."""
        report = parse_rate_limit_headers(headers)
        if report is None:
            return None
        reset_at = self._clock() + report.reset_after
        ttl = report.reset_after + (report.period or DEFAULT_PERIOD)
        self._write(report.remaining, reset_at, ttl)
        return report

    def spend(self, reset_after: float) -> None:
        """Mark the budget empty until `reset_after` seconds from now, after an HTTP 429."""
        self._write(0, self._clock() + reset_after, reset_after + DEFAULT_PERIOD)

    def remaining(self) -> tuple[int, float] | None:
        """Return (requests left, reset time as unix seconds), or None while the budget is unknown."""
        return self._state.read()

    def _take(self) -> float | None:
        try:
            return self._state.take(self._clock())
        except redis.RedisError as error:
            log.warning("rate-limit budget %s unavailable (%s); sending without it", self.key, error)
            return None

    def _write(self, remaining: int, reset_at: float, ttl: float) -> None:
        try:
            self._state.record(remaining, reset_at, ttl)
        except redis.RedisError as error:
            log.warning("rate-limit budget %s not stored (%s)", self.key, error)


class _RedisState:
    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self._key = key
        self._take_script = client.register_script(_TAKE_SCRIPT)
        self._record_script = client.register_script(_RECORD_SCRIPT)

    def take(self, now: float) -> float | None:
        allowed, wait = self._take_script(keys=[self._key], args=[repr(now)])
        return None if int(allowed) else float(wait)

    def record(self, remaining: int, reset_at: float, ttl: float) -> None:
        self._record_script(keys=[self._key],
                            args=[remaining, repr(reset_at), int(ttl * 1000), SAME_PERIOD_TOLERANCE])

    def read(self) -> tuple[int, float] | None:
        stored = self._client.hgetall(self._key)
        if b"remaining" not in stored or b"reset_at" not in stored:
            return None
        return int(stored[b"remaining"]), float(stored[b"reset_at"])


class _LocalState:
    """The same rules as the Redis scripts, for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at: float | None = None

    def take(self, now: float) -> float | None:
        with self._lock:
            if self._remaining is None or self._reset_at is None or self._reset_at <= now:
                return None
            if self._remaining > 0:
                self._remaining -= 1
                return None
            return self._reset_at - now

    def record(self, remaining: int, reset_at: float, ttl: float) -> None:
        with self._lock:
            if self._reset_at is not None and reset_at < self._reset_at - SAME_PERIOD_TOLERANCE:
                return
            same_period = self._reset_at is not None and abs(self._reset_at - reset_at) < SAME_PERIOD_TOLERANCE
            if same_period and self._remaining is not None:
                remaining = min(remaining, self._remaining)
            self._remaining, self._reset_at = remaining, reset_at

    def read(self) -> tuple[int, float] | None:
        with self._lock:
            if self._remaining is None or self._reset_at is None:
                return None
            return self._remaining, self._reset_at
