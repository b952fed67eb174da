"""Open, update and recover incidents from evaluations, deduplicated by fingerprint."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.incident import Incident
from bot.monitors import Monitor
from bot.severity import SEVERITY_RANK, SeverityPolicy, assess
from bot.store import Store
from detectors import Evaluation

log = logging.getLogger(__name__)

TIER_RANK = {"low": 0, "medium": 1, "high": 2}


def record_anomaly(
    store: Store,
    *,
    monitor: Monitor,
    labels: Mapping[str, str],
    fingerprint: str,
    evaluation: Evaluation,
    now: float,
    policy: SeverityPolicy | None = None,
) -> tuple[Incident, bool]:
    """Open the incident of `fingerprint`, or update the open one; return it and whether it is new.

    With a severity `policy`, the severity is assessed on every update and only ever rises.
    """
    anomaly = evaluation.anomaly
    if anomaly is None:
        raise ValueError("record_anomaly needs an evaluation with an anomaly")

    severity, reasons = "P2", []
    if policy is not None:
        severity, reasons = assess(policy, metric_type=monitor.metric_type, current=evaluation.current,
                                   expected=evaluation.expected, deviation=evaluation.deviation,
                                   tier=evaluation.tier)

    def build(incident_id: str) -> Incident:
        return Incident(
            id=incident_id, fingerprint=fingerprint, monitor=monitor.name, query=monitor.query,
            labels=dict(labels), channel=monitor.channel, playbook=monitor.playbook,
            opened_at=now, updated_at=now, anomaly_start=anomaly.start, last_anomalous_at=now,
            detector=evaluation.detector, kind=anomaly.kind, shape=anomaly.shape,
            direction=anomaly.direction, tier=evaluation.tier, p_value=evaluation.p_value,
            deviation=evaluation.deviation, peak_deviation=evaluation.deviation,
            current=evaluation.current, expected=evaluation.expected,
            baseline_mean=evaluation.baseline_mean, baseline_std=evaluation.baseline_std,
            severity=severity, severity_reasons=reasons,
        )

    existing_id = store.open_incident_id(fingerprint)
    if existing_id is None:
        incident, created = store.create_incident(build)
        if created:
            log.info("incident %s opened: monitor=%s fingerprint=%s %s %s p=%.2g",
                     incident.id, monitor.name, fingerprint, evaluation.tier, anomaly.kind,
                     evaluation.p_value)
            return incident, True
        existing_id = incident.id

    def change(current: Incident) -> Incident:
        peak = current.peak_deviation
        if abs(evaluation.deviation) > abs(peak):
            peak = evaluation.deviation
        tier = evaluation.tier
        if TIER_RANK[current.tier] > TIER_RANK[tier]:
            tier = current.tier
        raised = SEVERITY_RANK[severity] > SEVERITY_RANK[current.severity]
        return current.model_copy(update={
            "severity": severity if raised else current.severity,
            "severity_reasons": reasons if raised else current.severity_reasons,
            "updated_at": now, "last_anomalous_at": now, "recovered_at": None,
            "kind": anomaly.kind, "shape": anomaly.shape, "direction": anomaly.direction,
            "tier": tier, "p_value": min(current.p_value, evaluation.p_value),
            "deviation": evaluation.deviation, "peak_deviation": peak,
            "current": evaluation.current, "expected": evaluation.expected,
            "baseline_mean": evaluation.baseline_mean, "baseline_std": evaluation.baseline_std,
            "evaluations": current.evaluations + 1,
        })

    updated = store.update_incident(existing_id, change)
    if updated is None:
        # The open pointer named an incident that no longer exists; start afresh.
        log.warning("incident %s named by fingerprint %s is missing; opening a new one",
                    existing_id, fingerprint)
        store.redis.delete(store.key("incident", "open", fingerprint))
        return record_anomaly(store, monitor=monitor, labels=labels, fingerprint=fingerprint,
                              evaluation=evaluation, now=now, policy=policy)
    log.info("incident %s updated: deviation %.2f p=%.2g", updated.id, evaluation.deviation,
             evaluation.p_value)
    return updated, False


def record_normal(store: Store, *, fingerprint: str, evaluation: Evaluation, now: float) -> Incident | None:
    """Note that the series of an open incident is back within its baseline.

    Returns the incident when this call changed it (the card needs an
    update), else None. The incident stays open until a person resolves it.
    """
    incident_id = store.open_incident_id(fingerprint)
    if incident_id is None:
        return None

    changed = False

    def change(current: Incident) -> Incident | None:
        nonlocal changed
        changed = current.recovered_at is None
        if not changed:
            return None
        return current.model_copy(update={
            "recovered_at": now, "updated_at": now, "current": evaluation.current,
            "deviation": evaluation.deviation,
        })

    updated = store.update_incident(incident_id, change)
    if updated is None or not changed:
        return None
    log.info("incident %s back within baseline", updated.id)
    return updated
