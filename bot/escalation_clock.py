"""Escalation timers: due times in a Redis sorted set, fired once by whichever worker gets there.

    schedule(incident)  ZADD escalation:due <id> <opened_at + rule.after>
    fire_due(now)       for each id due by `now`: lease it (move its due time
                        `lease` seconds ahead in one transaction, so only one
                        worker wins), escalate, then remove it

A worker that dies mid-escalation leaves the lease to expire, and another
worker escalates; the thread line has a post key, so it is posted once. A
timer that fell due while every worker was down fires at the first
`fire_due` after the restart. Resolving removes the timer (see Store);
snoozing moves it to the end of the snooze.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from bot.escalation import EscalationRule, rule_for
from bot.incident import Incident
from bot.store import Store

log = logging.getLogger(__name__)

DEFAULT_LEASE = 60.0


class EscalationClock:
    """Schedules and fires escalations; `escalate` does the Slack side of one escalation."""

    def __init__(
        self,
        store: Store,
        matrix: list[EscalationRule],
        *,
        escalate: Callable[[Incident, EscalationRule, float], None],
        lease: float = DEFAULT_LEASE,
    ) -> None:
        self.store = store
        self.matrix = matrix
        self.escalate = escalate
        self.lease = lease
        self.key = store.key("escalation", "due")

    def schedule(self, incident: Incident) -> float | None:
        """Set the incident's escalation due time; an earlier existing time is kept.

        Returns the due time, or None when the incident is resolved or was already escalated.
        """
        if incident.status == "resolved" or incident.escalated_at is not None:
            return None
        rule = rule_for(self.matrix, incident.p_value)
        due = incident.opened_at + rule.after
        # LT adds a new member, and moves an existing one only to an earlier time,
        # so a rising confidence escalates sooner and nothing postpones a timer.
        self.store.redis.zadd(self.key, {incident.id: due}, lt=True)
        return float(self.store.redis.zscore(self.key, incident.id))

    def due_time(self, incident_id: str) -> float | None:
        score = self.store.redis.zscore(self.key, incident_id)
        return None if score is None else float(score)

    def fire_due(self, now: float) -> list[str]:
        """Escalate every incident due by `now`; return the ids escalated by this call."""
        now = float(now)
        fired = []
        for raw in self.store.redis.zrangebyscore(self.key, "-inf", now):
            incident_id = raw.decode()
            if not self._lease(incident_id, now):
                continue
            if self._fire(incident_id, now):
                fired.append(incident_id)
        return fired

    def _lease(self, incident_id: str, now: float) -> bool:
        with self.store.redis.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                score = pipe.zscore(self.key, incident_id)
                if score is None or score > now:
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.zadd(self.key, {incident_id: now + self.lease})
                pipe.execute()
                return True
            except redis.WatchError:
                return False

    def _fire(self, incident_id: str, now: float) -> bool:
        incident = self.store.get_incident(incident_id)
        if incident is None or incident.status == "resolved" or incident.escalated_at is not None:
            self.store.redis.zrem(self.key, incident_id)
            return False

        if incident.snoozed_until and incident.snoozed_until > now:
            self.store.redis.zadd(self.key, {incident_id: incident.snoozed_until})
            log.info("incident %s is snoozed; escalation moved to %.0f", incident_id, incident.snoozed_until)
            return False

        rule = rule_for(self.matrix, incident.p_value)
        if rule.pause_on_ack and incident.status == "acknowledged":
            self.store.redis.zrem(self.key, incident_id)
            log.info("incident %s is acknowledged and its rule pauses on acknowledge", incident_id)
            return False

        try:
            self.escalate(incident, rule, now)
        except Exception:
            # The lease expires and another worker tries again.
            log.exception("incident %s: escalation to %s failed; it is retried after the lease", incident_id,
                          rule.handle)
            return False

        self.store.update_incident(incident_id, lambda current: current.model_copy(update={
            "escalation_level": current.escalation_level + 1, "escalated_at": now, "updated_at": now,
        }))
        self.store.redis.zrem(self.key, incident_id)
        log.info("incident %s escalated to %s (%s)", incident_id, rule.target, rule.handle)
        return True
