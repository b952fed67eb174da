"""`POST /alertmanager`: Alertmanager's webhook (payload version 4) as incidents.

Reference: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config

One incident per alert group (the payload's `groupKey`): its card and
playbook thread are the same as for a detected anomaly. Each alert in the
group is deduplicated by its own `fingerprint`, so Alertmanager's repeated
notifications update the card instead of posting again. When every alert of
the group is resolved, the incident is resolved.

Alerts carry no series, so the numbers come from the alert: a `deviation`
annotation (in sigma) when the rule provides one, else the `severity`
label. The p-value is the two-sided normal tail of the deviation, an
approximation, because the rule's own statistics are not in the payload.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from flask import Flask, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.stats import norm

from bot import lifecycle
from bot.incident import Incident
from bot.notifier import Notifier
from bot.store import Store
from detectors import tier_for

log = logging.getLogger(__name__)

# Used when an alert has no `deviation` annotation: critical alerts count as
# high confidence, others as medium.
SEVERITY_P_VALUES = {"critical": 0.001, "page": 0.001, "warning": 0.02}
DEFAULT_P_VALUE = 0.02


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - Alertmanager's field name
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = Field(min_length=1)


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    groupKey: str = Field(min_length=1)  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    alerts: list[Alert] = Field(min_length=1)


class AlertmanagerReceiver:
    """Turns webhook payloads into incidents and cards."""

    def __init__(self, *, store: Store, notifier: Notifier, channel: str, playbook: str = "metric_anomaly",
                 on_opened=None, clock=None) -> None:
        self.store = store
        self.notifier = notifier
        self.channel = channel
        self.playbook = playbook
        self.on_opened = on_opened
        self.escalation_clock = clock

    def receive(self, payload: WebhookPayload, *, now: float) -> dict[str, object]:
        """Apply one payload; return the incident id and the action taken, for the HTTP response and the logs."""
        group = "am-" + hashlib.sha1(payload.groupKey.encode()).hexdigest()[:16]
        firing = [alert for alert in payload.alerts if alert.status == "firing"]
        resolved_fingerprints = {alert.fingerprint for alert in payload.alerts if alert.status == "resolved"}

        incident_id = self.store.open_incident_id(group)
        if not firing:
            if incident_id is None:
                return {"incident": None, "action": "nothing open"}
            outcome = lifecycle.resolve(self.store, incident_id, user="alertmanager", now=now)
            if outcome.changed and outcome.incident is not None:
                self.notifier.refresh_card(outcome.incident, deliver=False)
                self.notifier.note(outcome.incident, "Alertmanager reports every alert of this group resolved.",
                                   post_key=f"incident:{incident_id}:alertmanager-resolved")
            return {"incident": incident_id, "action": "resolved"}

        lead = max(firing, key=_strength)
        incident, created = self._open_or_update(group, payload, lead, firing, now=now)
        fields = _fields(payload, lead, incident)
        self.notifier.publish(incident, now=now, fields=fields)
        if created and self.on_opened is not None:
            self.on_opened(self.store.get_incident(incident.id) or incident, now=now)
        if self.escalation_clock is not None:
            self.escalation_clock.schedule(incident)
        if resolved_fingerprints:
            log.info("incident %s: alerts %s resolved, %d still firing", incident.id,
                     sorted(resolved_fingerprints), len(firing))
        return {"incident": incident.id, "action": "opened" if created else "updated"}

    def _open_or_update(self, group: str, payload: WebhookPayload, lead: Alert, firing: list[Alert], *,
                        now: float) -> tuple[Incident, bool]:
        deviation = _deviation(lead)
        p_value = _p_value(lead, deviation)
        tier = tier_for(p_value)
        started = min(alert.startsAt.timestamp() for alert in firing)
        members = sorted(alert.fingerprint for alert in firing)
        labels = dict(payload.commonLabels or lead.labels)
        channel = lead.labels.get("slack_channel") or payload.commonAnnotations.get("slack_channel") or self.channel

        def build(new_id: str) -> Incident:
            return Incident(
                id=new_id, fingerprint=group, monitor=labels.get("alertname", "alertmanager"),
                query=_expression(lead.generatorURL), labels=labels, channel=channel, playbook=self.playbook,
                opened_at=now, updated_at=now, anomaly_start=started, last_anomalous_at=now,
                detector="alertmanager", kind=lead.labels.get("anomaly_type", "spike"),
                direction="above" if deviation >= 0 else "below", tier=tier, p_value=p_value,
                deviation=deviation, peak_deviation=deviation, current=math.nan, expected=math.nan,
                baseline_mean=math.nan, baseline_std=math.nan, grouped=members,
                severity="P1" if tier == "high" else "P2",
            )

        incident_id = self.store.open_incident_id(group)
        if incident_id is None:
            incident, created = self.store.create_incident(build)
            if created:
                log.info("incident %s opened from Alertmanager group %s (%d alerts)", incident.id,
                         payload.groupKey, len(firing))
                return incident, True
            incident_id = incident.id

        def change(current: Incident) -> Incident:
            peak = deviation if abs(deviation) > abs(current.peak_deviation) else current.peak_deviation
            return current.model_copy(update={
                "updated_at": now, "last_anomalous_at": now, "deviation": deviation, "peak_deviation": peak,
                "p_value": min(current.p_value, p_value), "grouped": members, "evaluations": current.evaluations + 1,
            })

        updated = self.store.update_incident(incident_id, change)
        return updated, False


def _strength(alert: Alert) -> float:
    return abs(_deviation(alert))


def _deviation(alert: Alert) -> float:
    for key in ("deviation", "value"):
        text = alert.annotations.get(key)
        if text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    return math.nan


def _p_value(alert: Alert, deviation: float) -> float:
    if math.isfinite(deviation):
        return float(2 * norm.sf(abs(deviation)))
    return SEVERITY_P_VALUES.get(alert.labels.get("severity", ""), DEFAULT_P_VALUE)


def _expression(generator_url: str) -> str:
    """Return the rule's PromQL from a Prometheus generatorURL (`/graph?g0.expr=...`)."""
    query = parse_qs(urlsplit(generator_url).query)
    return query.get("g0.expr", [""])[0] or "(the alert's rule; its expression was not in the payload)"


def _fields(payload: WebhookPayload, lead: Alert, incident: Incident) -> dict[str, str]:
    """Fill the playbook fields an alert can provide; the others read "n/a (from Alertmanager)"."""
    from bot.analysis import STEP_FIELDS, format_p_value, format_time

    unknown = "n/a (from Alertmanager)"
    fields = dict.fromkeys(STEP_FIELDS, unknown)
    summary = lead.annotations.get("summary") or lead.annotations.get("description") or ""
    fields.update({
        "monitor": incident.monitor, "query": incident.query, "detector": "alertmanager", "tier": incident.tier,
        "deviation": f"{incident.deviation:+.2f}" if math.isfinite(incident.deviation) else unknown,
        "peak_deviation": f"{incident.peak_deviation:+.2f}" if math.isfinite(incident.peak_deviation) else unknown,
        "p_value": format_p_value(incident.p_value), "anomaly_start": format_time(incident.anomaly_start),
        "related_anomalies": f"{len(payload.alerts)} alert(s) in this Alertmanager group. {summary}".strip(),
        "validation_queries": f"• the rule's expression: `{incident.query}`",
        "escalation_plan": "The escalation matrix applies as for detected anomalies.",
        "suggested_rule": "The alert already comes from a rule; tune its threshold if this was noise.",
    })
    return fields


def register_alertmanager(web: Flask, receiver: AlertmanagerReceiver, *, token: str | None, clock) -> None:
    """Add `POST /alertmanager`, checked by a bearer token (or `?token=` for senders that cannot set headers)."""

    @web.post("/alertmanager")
    def alertmanager():
        if not token:
            log.error("rejected an Alertmanager webhook: ALERTMANAGER_TOKEN is not set")
            return {"error": "the receiver has no ALERTMANAGER_TOKEN set; set it and configure the same "
                             "bearer token in Alertmanager's webhook_config"}, 503
        sent = _bearer(request.headers.get("Authorization", "")) or request.args.get("token", "")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            log.warning("rejected an Alertmanager webhook with a missing or wrong token")
            return {"error": "missing or wrong bearer token"}, 401

        body = request.get_json(silent=True)
        if body is None:
            return {"error": "the body is not JSON; send Alertmanager's webhook payload (version 4)"}, 400
        try:
            payload = WebhookPayload.model_validate(body)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            return {"error": f"field {where!r}: {first['msg']}; send Alertmanager's webhook payload (version 4)"}, 400

        result = receiver.receive(payload, now=clock())
        log.info("Alertmanager group %s (%s): incident %s %s", payload.groupKey, payload.status,
                 result["incident"], result["action"])
        return result, 200


def _bearer(header: str) -> str:
    match = re.match(r"^Bearer\s+(\S+)$", header.strip())
    return match.group(1) if match else ""
