"""APScheduler jobs: one interval job per monitor.

A failing monitor logs its error with the monitor's name and stays
scheduled; the other monitors keep polling.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.errors import BotError, SourceError
from bot.monitors import Monitor
from bot.notifier import Notifier
from bot.poller import Poller

log = logging.getLogger(__name__)


def poll_safely(poller: Poller, monitor: Monitor) -> None:
    """Run one poll; log every failure with the monitor's name instead of raising."""
    try:
        report = poller.poll(monitor)
    except SourceError as error:
        log.error("monitor %s: source %s failed: %s", monitor.name, error.source, error)
        return
    except BotError as error:
        log.error("monitor %s: poll failed: %s", monitor.name, error)
        return
    except Exception:
        log.exception("monitor %s: poll failed with an unexpected error", monitor.name)
        return

    if report.opened:
        log.info("monitor %s: opened incidents %s", monitor.name, ", ".join(report.opened))


def schedule_monitors(scheduler: BaseScheduler, poller: Poller, monitors: Sequence[Monitor]) -> None:
    """Add one job per monitor that polls at its interval, starting now."""
    for monitor in monitors:
        scheduler.add_job(
            poll_safely,
            IntervalTrigger(seconds=monitor.interval),
            args=(poller, monitor),
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
    """Send what the outbox still holds (after a rate limit or a Slack outage)."""
    try:
        notifier.deliver()
    except Exception:
        log.exception("outbox delivery failed with an unexpected error")


def schedule_delivery(scheduler: BaseScheduler, notifier: Notifier) -> None:
    scheduler.add_job(
        deliver_safely, IntervalTrigger(seconds=DELIVERY_INTERVAL_SECONDS), args=(notifier,),
        id="outbox", name="deliver queued Slack messages", max_instances=1, coalesce=True,
        replace_existing=True,
    )
