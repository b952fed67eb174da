"""APScheduler jobs: one interval job per monitor.

A failing monitor logs its error with the monitor's name and stays
scheduled; the other monitors keep polling.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import redis
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.daily_digest import post_daily_digest
from bot.errors import BotError, SourceError
from bot.escalation_clock import EscalationClock
from bot.monitors import Monitor
from bot.notifier import Notifier
from bot.poller import Poller
from bot.source_health import SourceHealth
from bot.sources.settings import SourceSettings

log = logging.getLogger(__name__)


def poll_safely(poller: Poller, monitor: Monitor, *, source_health: SourceHealth | None = None) -> None:
    """Run one poll; log every failure with the monitor's name instead of raising.

    With `source_health`, a SourceError counts as a failure of the monitor's
    source (and may post an unhealthy notice in its channel), and a poll
    that reached the source counts as a success.
    """
    try:
        report = poller.poll(monitor)
    except SourceError as error:
        log.error("monitor %s: source %s failed: %s (url %s, query %r)", monitor.name, error.source, error,
                  error.url or "not configured", error.query)
        _record_health(source_health, monitor, error)
        return
    except BotError as error:
        log.error("monitor %s: poll failed: %s", monitor.name, error)
        return
    except redis.RedisError as error:
        _log_redis_down(poller.store, error)
        return
    except Exception:
        log.exception("monitor %s: poll failed with an unexpected error", monitor.name)
        return

    if report.skipped is None:
        _record_health(source_health, monitor, None)
    if report.opened:
        log.info("monitor %s: opened incidents %s", monitor.name, ", ".join(report.opened))


REDIS_DOWN_LOG_INTERVAL = 60.0
_redis_down_logged_at = 0.0


def _log_redis_down(store, error: Exception) -> None:
    """Log an unreachable Redis once a minute, naming host and port (never the password)."""
    global _redis_down_logged_at
    if time.monotonic() - _redis_down_logged_at < REDIS_DOWN_LOG_INTERVAL:
        return
    _redis_down_logged_at = time.monotonic()
    options = store.redis.connection_pool.connection_kwargs
    log.error("Redis at %s:%s is unreachable (%s); every poll waits for it, next report in %.0fs",
              options.get("host"), options.get("port"), type(error).__name__, REDIS_DOWN_LOG_INTERVAL)


def _record_health(source_health: SourceHealth | None, monitor: Monitor, error: SourceError | None) -> None:
    """Record a poll's outcome in source health; a Redis or Slack failure here never stops the poll loop."""
    if source_health is None:
        return
    try:
        if error is None:
            source_health.record_success(monitor)
        else:
            source_health.record_failure(monitor, error)
    except Exception:
        log.exception("monitor %s: source health of %s not recorded", monitor.name, monitor.source)


def schedule_monitors(
    scheduler: BaseScheduler, poller: Poller, monitors: Sequence[Monitor], *,
    source_health: SourceHealth | None = None,
) -> None:
    """Add one job per monitor that polls at its interval, starting now.

    Without `source_health`, one is built on the poller's store and its
    notifier's Slack gateway, with the notice interval SOURCE_NOTICE_INTERVAL
    sets (default 30 minutes).
    """
    if source_health is None:
        source_health = SourceHealth(store=poller.store, gateway=poller.notifier.gateway,
                                     notice_interval=SourceSettings().source_notice_interval)
    for monitor in monitors:
        scheduler.add_job(
            poll_safely,
            IntervalTrigger(seconds=monitor.interval),
            args=(poller, monitor),
            kwargs={"source_health": source_health},
            id=f"poll:{monitor.name}",
            name=f"poll {monitor.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(monitor.interval)),
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
        log.info("scheduled monitor %s every %.0fs", monitor.name, monitor.interval)


DELIVERY_INTERVAL_SECONDS = 2.0


def deliver_safely(notifier: Notifier) -> None:
    """Send the messages still queued in the outbox, after a rate limit or a Slack outage."""
    try:
        notifier.deliver()
    except redis.RedisError as error:
        _log_redis_down(notifier.store, error)
    except Exception:
        log.exception("outbox delivery failed with an unexpected error")


def schedule_delivery(scheduler: BaseScheduler, notifier: Notifier) -> None:
    scheduler.add_job(
        deliver_safely, IntervalTrigger(seconds=DELIVERY_INTERVAL_SECONDS), args=(notifier,),
        id="outbox", name="deliver queued Slack messages", max_instances=1, coalesce=True,
        replace_existing=True,
    )


ESCALATION_INTERVAL_SECONDS = 5.0


def fire_escalations_safely(clock: EscalationClock) -> None:
    try:
        clock.fire_due(time.time())
    except redis.RedisError as error:
        _log_redis_down(clock.store, error)
    except Exception:
        log.exception("escalation timers failed with an unexpected error")


def schedule_escalations(scheduler: BaseScheduler, clock: EscalationClock) -> None:
    scheduler.add_job(
        fire_escalations_safely, IntervalTrigger(seconds=ESCALATION_INTERVAL_SECONDS), args=(clock,),
        id="escalations", name="fire due escalations", max_instances=1, coalesce=True, replace_existing=True,
    )


def schedule_digest(scheduler: BaseScheduler, *, store, gateway, channel: str, at: str, timezone: str) -> None:
    """Post the daily digest at `at` (HH:MM) in `timezone`; once per day across workers."""
    hour, minute = (int(part) for part in at.split(":"))

    def run() -> None:
        try:
            post_daily_digest(store, gateway, channel=channel, timezone=timezone, now=time.time())
        except Exception:
            log.exception("daily digest failed with an unexpected error")

    scheduler.add_job(run, CronTrigger(hour=hour, minute=minute, timezone=timezone), id="digest",
                      name="daily digest", max_instances=1, coalesce=True, replace_existing=True)
    log.info("daily digest scheduled at %s %s in %s", at, timezone, channel)
