"""Numbers and text for the later playbook steps: related anomalies, queries, escalation, rules.

These need more than one series: the other open incidents, the monitor's
query language and the escalation matrix.
"""

from __future__ import annotations

from bot.analysis import format_time
from bot.durations import format_duration
from bot.escalation import EscalationRule, rule_for
from bot.incident import Incident
from bot.monitors import Monitor
from bot.store import Store

RELATED_WINDOW = 30 * 60.0
MAX_RELATED = 5

CONTEXT_FIELDS = frozenset({
    "related_anomalies", "validation_queries", "escalation_plan", "suggested_rule", "dimension_table",
})


def context_fields(
    *, store: Store, incident: Incident, monitor: Monitor, matrix: list[EscalationRule] | None
) -> dict[str, str]:
    return {
        "related_anomalies": related_anomalies(store, incident),
        "validation_queries": validation_queries(monitor),
        "escalation_plan": escalation_plan(incident, matrix),
        "suggested_rule": suggested_rule(monitor),
        "dimension_table": "The breakdown by label comes with the root-cause analysis when the incident opens.",
    }


def related_anomalies(store: Store, incident: Incident) -> str:
    """Other open incidents that started within 30 minutes of this one, earliest first."""
    related = []
    for other_id in store.open_incident_ids():
        if other_id == incident.id:
            continue
        other = store.get_incident(other_id)
        if other is None or abs(other.anomaly_start - incident.anomaly_start) > RELATED_WINDOW:
            continue
        related.append(other)
    if not related:
        return "No other monitored series is anomalous within 30 minutes of this one."

    related.sort(key=lambda other: other.anomaly_start)
    lines = []
    for other in related[:MAX_RELATED]:
        lead = incident.anomaly_start - other.anomaly_start
        if abs(lead) < 60:
            when = "at the same time"
        elif lead > 0:
            when = f"{format_duration(lead)} before this one"
        else:
            when = f"{format_duration(-lead)} after this one"
        lines.append(f"• {other.title}: {other.kind}, {other.deviation:+.1f}σ, started {when} (incident {other.id})")
    return "\n".join(lines)


def validation_queries(monitor: Monitor) -> str:
    """Queries that check the anomaly from other angles, in the monitor's query language."""
    query = monitor.query
    if monitor.source not in ("prometheus",) and not monitor.source.startswith("prom"):
        return f"• the monitored query: `{query}`"
    window = format_duration(monitor.detector.window)
    baseline = format_duration(monitor.detector.baseline)
    return "\n".join([
        f"• same time last week: `({query}) offset 7d`",
        f"• deviation in sigma, as the detector sees it: `(avg_over_time(({query})[{window}:]) - "
        f"avg_over_time(({query})[{baseline}:] offset {window})) / "
        f"stddev_over_time(({query})[{baseline}:] offset {window})`",
        f"• the five largest series: `topk(5, {query})`",
    ])


def escalation_plan(incident: Incident, matrix: list[EscalationRule] | None) -> str:
    if not matrix:
        return "No escalation matrix is loaded."
    rule = rule_for(matrix, incident.p_value)
    deadline = incident.opened_at + rule.after
    return (f"If the cause is not confirmed by {format_time(deadline)} ({format_duration(rule.after)} after "
            f"opening), the bot escalates to the {rule.target} ({rule.handle}).")


def suggested_rule(monitor: Monitor) -> str:
    """Return a Prometheus alerting rule equivalent to the monitor, to keep beside the bot."""
    settings = monitor.detector.to_settings()
    window = format_duration(settings.window)
    baseline = format_duration(settings.baseline)
    name = "".join(part.capitalize() for part in monitor.name.replace(".", "-").replace("_", "-").split("-"))
    query = monitor.query
    expression = (
        f"(avg_over_time(({query})[{window}:]) - avg_over_time(({query})[{baseline}:] offset {window})) "
        f"/ stddev_over_time(({query})[{baseline}:] offset {window}) > {settings.threshold:g}"
    )
    return f"```\n- alert: {name}Anomaly\n  expr: {expression}\n  for: {window}\n```"
