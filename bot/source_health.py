"""Source health: tell a monitor's channel when its backend fails, and when it responds again.

When a poll fails with a SourceError, `SourceHealth.record_failure` counts
the failure and posts a "source unhealthy" notice in the monitor's channel,
at most once per source per `notice_interval` seconds (default 30 minutes),
however many monitors and replicas see the failure. When a poll of that
source succeeds again, `record_success` posts one recovery notice in the
channel that got the unhealthy notice. A query the backend rejects
(QueryRejected) is the monitor's fault, not the backend's: it is counted
but changes no health state and posts nothing.

State lives in Redis (all keys under the store prefix):

    source:<name>:health     hash: consecutive_failures, failures_total,
                             queries_rejected, failing_since, last_failure_at,
                             last_error, last_success_at
    source:<name>:notice     set while a notice was posted within the interval (expires)
    source:<name>:unhealthy  JSON {channel, ts, since} of the unhealthy notice
                             awaiting its recovery notice
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from bot.errors import SlackError, SourceError
from bot.monitors import Monitor
from bot.slack.gateway import Gateway
from bot.slack.limits import MAX_MESSAGE_TEXT, MAX_SECTION_TEXT, truncate
from bot.sources.errors import QueryRejected
from bot.store import Store

log = logging.getLogger(__name__)

DEFAULT_NOTICE_INTERVAL = 1800.0

# After a notice fails to post, the next failure may try again this much later.
NOTICE_RETRY_SECONDS = 60.0

SOURCE_FAILURES = Counter(
    "anomalybot_source_failures_total", "Failed polls by source and kind of failure", ["source", "kind"]
)


@dataclass(frozen=True)
class SourceStatus:
    """The health of one source as stored in Redis."""

    source: str
    consecutive_failures: int
    failures_total: int
    queries_rejected: int
    failing_since: float | None
    last_error: str | None
    notice_pending_recovery: bool

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


class SourceHealth:
    """Counts source failures and posts unhealthy and recovery notices at a bounded rate."""

    def __init__(
        self,
        *,
        store: Store,
        gateway: Gateway,
        notice_interval: float = DEFAULT_NOTICE_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if notice_interval <= 0:
            raise ValueError(f"notice_interval must be positive seconds, got {notice_interval!r}")
        self.store = store
        self.gateway = gateway
        self.notice_interval = notice_interval
        self._clock = clock

    def record_failure(self, monitor: Monitor, error: SourceError) -> None:
        """Count a failed poll of `monitor`; post an unhealthy notice unless one went out within the interval."""
        source = monitor.source
        if isinstance(error, QueryRejected):
            SOURCE_FAILURES.labels(source, "query_rejected").inc()
            self.store.redis.hincrby(self._key(source, "health"), "queries_rejected", 1)
            return

        SOURCE_FAILURES.labels(source, type(error).__name__).inc()
        now = self._clock()
        health = self._key(source, "health")
        with self.store.redis.pipeline() as pipe:
            pipe.hincrby(health, "consecutive_failures", 1)
            pipe.hincrby(health, "failures_total", 1)
            pipe.hsetnx(health, "failing_since", repr(now))
            pipe.hset(health, mapping={"last_failure_at": repr(now), "last_error": str(error)})
            consecutive, *_ = pipe.execute()

        notice_key = self._key(source, "notice")
        if not self.store.redis.set(notice_key, repr(now), nx=True, px=int(self.notice_interval * 1000)):
            log.debug("source %s: failure %d; an unhealthy notice went out within the last %.0fs",
                      source, consecutive, self.notice_interval)
            return

        since = float(self.store.redis.hget(health, "failing_since") or now)
        message = _unhealthy_message(source, monitor, error, since=since, failures=int(consecutive),
                                     interval=self.notice_interval)
        try:
            channel, ts = self.gateway.post(monitor.channel, message)
        except SlackError as slack_error:
            log.error("source %s: unhealthy notice not posted in %s: %s; trying again in %.0fs",
                      source, monitor.channel, slack_error, NOTICE_RETRY_SECONDS)
            self.store.redis.pexpire(notice_key, int(NOTICE_RETRY_SECONDS * 1000))
            return

        self.store.redis.set(self._key(source, "unhealthy"),
                             json.dumps({"channel": channel, "ts": ts, "since": since}))
        log.warning("source %s: posted an unhealthy notice in %s (monitor %s, %d consecutive failures)",
                    source, monitor.channel, monitor.name, consecutive)

    def record_success(self, monitor: Monitor) -> None:
        """Reset the failure streak of the monitor's source; post a recovery notice if one is owed."""
        source = monitor.source
        health = self._key(source, "health")
        pending_key = self._key(source, "unhealthy")
        now = self._clock()
        with self.store.redis.pipeline() as pipe:
            pipe.hset(health, mapping={"consecutive_failures": 0, "last_success_at": repr(now)})
            pipe.hdel(health, "failing_since")
            # Read and delete in one transaction, so only one replica posts the recovery.
            pipe.get(pending_key)
            pipe.delete(pending_key)
            *_, pending, _ = pipe.execute()
        if pending is None:
            return

        unhealthy = json.loads(pending)
        message = _recovery_message(source, monitor, since=float(unhealthy.get("since", now)), now=now)
        try:
            self.gateway.post(unhealthy["channel"], message)
        except SlackError as slack_error:
            log.error("source %s: recovery notice not posted in %s: %s; trying again on the next poll",
                      source, unhealthy["channel"], slack_error)
            self.store.redis.set(pending_key, pending, nx=True)
            return
        log.info("source %s: responds again; posted a recovery notice in %s", source, unhealthy["channel"])

    def status(self, source: str) -> SourceStatus:
        """Return the stored health of `source`."""
        stored = {key.decode(): value.decode() for key, value in
                  self.store.redis.hgetall(self._key(source, "health")).items()}
        return SourceStatus(
            source=source,
            consecutive_failures=int(stored.get("consecutive_failures", 0)),
            failures_total=int(stored.get("failures_total", 0)),
            queries_rejected=int(stored.get("queries_rejected", 0)),
            failing_since=float(stored["failing_since"]) if "failing_since" in stored else None,
            last_error=stored.get("last_error"),
            notice_pending_recovery=bool(self.store.redis.exists(self._key(source, "unhealthy"))),
        )

    def _key(self, source: str, part: str) -> str:
        return self.store.key("source", source, part)


def _unhealthy_message(
    source: str, monitor: Monitor, error: SourceError, *, since: float, failures: int, interval: float
) -> dict[str, Any]:
    text = (
        f":warning: Source *{source}* is unhealthy: {error}\n"
        f"Monitors on {source} are not evaluated until it responds, and its missing data reports no anomaly."
    )
    context = (
        f"monitor `{monitor.name}` · query `{error.query or monitor.query}` · {failures} failed poll(s) since "
        f"{_clock_time(since)} · next notice at most every {interval / 60:.0f} min"
    )
    return {
        "text": truncate(f"Source {source} is unhealthy: {error}", MAX_MESSAGE_TEXT),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(context, MAX_SECTION_TEXT)}]},
        ],
    }


def _recovery_message(source: str, monitor: Monitor, *, since: float, now: float) -> dict[str, Any]:
    minutes = max(now - since, 0.0) / 60
    text = f":white_check_mark: Source *{source}* responds again, after {minutes:.0f} min; polling resumed."
    return {
        "text": f"Source {source} responds again; polling resumed.",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"first successful poll: monitor `{monitor.name}` at {_clock_time(now)}"},
            ]},
        ],
    }


def _clock_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
