"""Changes people make to an incident: acknowledge, resolve, snooze, dismiss, decide hypotheses.

Buttons and slash commands both call these functions. Each applies its
change atomically in Redis and returns an `Outcome`: the incident after the
change, whether anything changed, and the line that goes into the thread.
Repeating an action (a double click, a Slack retry, a second replica) finds
the state already changed and reports `changed=False`, so the thread gets
one line and the card one update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.durations import format_duration
from bot.incident import Incident
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    incident: Incident | None
    changed: bool
    line: str


def _apply(store: Store, incident_id: str, change, line: str, unchanged: str) -> Outcome:
    changed = False

    def guarded(current: Incident) -> Incident | None:
        nonlocal changed
        updated = change(current)
        changed = updated is not None
        return updated

    incident = store.update_incident(incident_id, guarded)
    if incident is None:
        return Outcome(None, False, f"Incident {incident_id} was not found; `/anomaly status` lists open incidents.")
    if changed:
        log.info("incident %s: %s", incident_id, line)
    return Outcome(incident, changed, line if changed else unchanged.format(incident=incident))


def acknowledge(store: Store, incident_id: str, *, user: str, now: float) -> Outcome:
    def change(current: Incident) -> Incident | None:
        if current.status != "open":
            return None
        return current.model_copy(update={
            "status": "acknowledged", "acknowledged_by": user, "acknowledged_at": now, "updated_at": now,
        })

    return _apply(store, incident_id, change, f"<@{user}> acknowledged the incident.",
                  "Incident {incident.id} is already {incident.status}.")


def resolve(store: Store, incident_id: str, *, user: str, now: float, not_anomaly: bool = False) -> Outcome:
    resolution = "not_anomaly" if not_anomaly else "fixed"

    def change(current: Incident) -> Incident | None:
        if current.status == "resolved":
            return None
        return current.model_copy(update={
            "status": "resolved", "resolved_by": user, "resolved_at": now, "updated_at": now,
            "resolution": resolution,
        })

    outcome = _apply(
        store, incident_id, change,
        f"<@{user}> marked this as not an anomaly; the incident is closed and the feedback recorded."
        if not_anomaly else f"<@{user}> resolved the incident.",
        "Incident {incident.id} is already resolved.",
    )
    if outcome.changed:
        day = int(now // 86400)
        store.redis.hincrby(store.key("feedback", str(day)), resolution, 1)
    return outcome


def snooze(store: Store, incident_id: str, *, user: str, now: float, seconds: float) -> Outcome:
    until = now + seconds

    def change(current: Incident) -> Incident | None:
        if current.status == "resolved":
            return None
        # A second click with the same duration lands within a minute of the first.
        if current.snoozed_until is not None and abs(current.snoozed_until - until) < 60:
            return None
        return current.model_copy(update={"snoozed_until": until, "snoozed_by": user, "updated_at": now})

    return _apply(store, incident_id, change,
                  f"<@{user}> snoozed the incident for {format_duration(seconds)}.",
                  "Incident {incident.id} is resolved or already snoozed for that long.")


def decide_hypothesis(
    store: Store, incident_id: str, hypothesis_id: str, *, user: str, now: float, confirm: bool
) -> Outcome:
    decision = "confirmed" if confirm else "rejected"
    title = ""

    def change(current: Incident) -> Incident | None:
        nonlocal title
        hypotheses = list(current.hypotheses)
        for index, hypothesis in enumerate(hypotheses):
            if hypothesis.id != hypothesis_id:
                continue
            title = hypothesis.title
            if hypothesis.status != "proposed":
                return None
            hypotheses[index] = hypothesis.model_copy(update={"status": decision, "decided_by": user})
            update: dict = {"hypotheses": hypotheses, "updated_at": now}
            if confirm:
                update["current_step"] = "7"
            return current.model_copy(update=update)
        return None

    outcome = _apply(store, incident_id, change, "", "")
    if outcome.changed:
        store.redis.hincrby(store.key("feedback", str(int(now // 86400))), f"hypothesis_{decision}", 1)
        line = f"<@{user}> {decision} the hypothesis: {title}."
        if confirm:
            line += " Moving on to step 7, the action plan."
        return Outcome(outcome.incident, True, line)
    return Outcome(outcome.incident, False, f"Hypothesis {hypothesis_id} was already decided or is unknown.")
