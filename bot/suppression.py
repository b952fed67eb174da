"""Keep quiet on noise: repeat windows, an hourly cap, flapping and grouping.

Checked before a new incident opens for a monitor's series:

- grouping: an open incident on the same service (the `group_by` label),
  opened within `group_window`, takes the new series instead of a new card;
- flapping: a series that opened `flapping_opens` incidents within the last
  hour is marked flapping on its latest card instead of posting again;
- repeat window: after an alert, the monitor's next alert within
  `repeat_window` is suppressed;
- hourly cap: at most `max_alerts_per_hour` alerts per monitor.

Every suppressed alert is counted for the digest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bot.incident import Incident
from bot.monitors import Monitor
from bot.silences import count_suppressed
from bot.store import Store

log = logging.getLogger(__name__)

HOUR = 3600.0


@dataclass(frozen=True)
class Decision:
    """`alert` True: open an incident. Else `reason`, and `incident` when grouped or flapping."""

    alert: bool
    reason: str | None = None
    incident: Incident | None = None


def decide(store: Store, *, monitor: Monitor, labels: Mapping[str, str], fingerprint: str, now: float) -> Decision:
    config = monitor.suppression

    group = _group_incident(store, monitor=monitor, labels=labels, now=now)
    if group is not None:
        return Decision(False, "grouped", group)

    opens = _recent(store, store.key("suppress", "opens", fingerprint), now)
    if opens >= config.flapping_opens - 1:
        latest = _latest_incident(store, fingerprint)
        if latest is not None:
            count_suppressed(store, monitor=monitor.name, now=now, reason="flapping")
            return Decision(False, "flapping", latest)

    last = store.redis.get(store.key("suppress", "last-alert", monitor.name))
    if last is not None and now - float(last) < config.repeat_window:
        count_suppressed(store, monitor=monitor.name, now=now, reason="repeat")
        return Decision(False, "repeat")

    if _recent(store, store.key("suppress", "alerts", monitor.name), now) >= config.max_alerts_per_hour:
        count_suppressed(store, monitor=monitor.name, now=now, reason="rate")
        return Decision(False, "rate")
    return Decision(True)


def record_alert(store: Store, *, monitor: Monitor, incident: Incident, now: float) -> None:
    """Remember an opened incident for the repeat window, the cap, flapping and grouping."""
    redis = store.redis
    with redis.pipeline() as pipe:
        pipe.set(store.key("suppress", "last-alert", monitor.name), repr(now), ex=int(HOUR))
        for key in (store.key("suppress", "alerts", monitor.name),
                    store.key("suppress", "opens", incident.fingerprint)):
            pipe.zadd(key, {f"{incident.id}:{now}": now})
            pipe.zremrangebyscore(key, "-inf", now - HOUR)
            pipe.expire(key, int(2 * HOUR))
        pipe.set(store.key("suppress", "latest", incident.fingerprint), incident.id, ex=int(2 * HOUR))
        group = _group_value(monitor, incident.labels)
        if group:
            pipe.set(store.key("suppress", "group", group), incident.id, ex=int(monitor.suppression.group_window))
        pipe.execute()


def attach_to_group(store: Store, *, incident: Incident, fingerprint: str, title: str, now: float) -> Incident | None:
    """Point the series at the group's incident so later polls update it; return the incident when changed."""
    store.redis.set(store.key("incident", "open", fingerprint), incident.id)

    def change(current: Incident) -> Incident | None:
        if fingerprint in current.grouped:
            return None
        return current.model_copy(update={"grouped": [*current.grouped, fingerprint], "updated_at": now})

    before = len(incident.grouped)
    updated = store.update_incident(incident.id, change)
    if updated is None or len(updated.grouped) == before:
        return None
    log.info("series %s (%s) grouped into incident %s", fingerprint, title, incident.id)
    return updated


def mark_flapping(store: Store, incident: Incident, *, now: float) -> Incident | None:
    def change(current: Incident) -> Incident | None:
        if current.flapping:
            return None
        return current.model_copy(update={"flapping": True, "updated_at": now})

    updated = store.update_incident(incident.id, change)
    return updated if updated is not None and not incident.flapping and updated.flapping else None


def _group_value(monitor: Monitor, labels: Mapping[str, str]) -> str | None:
    name = monitor.suppression.group_by
    if not name:
        return None
    value = labels.get(name) or monitor.labels.get(name)
    return f"{name}={value}" if value else None


def _group_incident(store: Store, *, monitor: Monitor, labels: Mapping[str, str], now: float) -> Incident | None:
    group = _group_value(monitor, labels)
    if group is None:
        return None
    incident_id = store.redis.get(store.key("suppress", "group", group))
    if incident_id is None:
        return None
    incident = store.get_incident(incident_id.decode())
    if incident is None or incident.status == "resolved" or now - incident.opened_at > monitor.suppression.group_window:
        return None
    return incident


def _latest_incident(store: Store, fingerprint: str) -> Incident | None:
    incident_id = store.redis.get(store.key("suppress", "latest", fingerprint))
    return store.get_incident(incident_id.decode()) if incident_id else None


def _recent(store: Store, key: str, now: float) -> int:
    return int(store.redis.zcount(key, now - HOUR, "+inf"))
