"""Root-cause hypotheses from the dimension patterns, related anomalies and change events.

Each rule scores its hypothesis in [0, 1]; the list is ranked by score. A label with one
value concentrates nothing, so the dimension rules need two values or more. The rules:

- infrastructure: one region accounts for at least CONCENTRATED of the change and most services
  in it are degraded (service and region together): data centre, network, load balancer.
  Score 0.9 x region share x (0.4 + 0.6 x share of the region's services degraded).
- capacity: one service accounts for at least CONCENTRATED of the change across most regions,
  worst for one user segment (segment and service together): resource exhaustion,
  autoscaling lag, connection pool limits. Score 0.85 x service share x (0.4 + 0.6 x share
  of the service's regions degraded), x 0.85 unless one segment accounts for half or more of the
  service's change.
- external dependency: another monitored series whose residuals correlate at least
  moderately and which moved first or at the same time (0.9 x |r|, x 0.8 when it did not
  lead, x 0.7 when it is not anomalous itself, x 0.4 when it followed); or several regions
  degraded within two steps of each other, with no region or service accounting for
  CONCENTRATED of the change (time and region together): 0.6 x share of regions degraded.
- change event: a deployment, config change or autoscaling action within
  CHANGE_WINDOW of the anomaly start. Score = base (deployment 1.0, config change 0.95,
  autoscaling 0.7) x relevance of the service (1.0 the service holding most of the change
  or named by the incident's labels, 0.8 another degraded service, 0.6 unknown, 0.3 a
  service that is not degraded) x time (1 - 0.5 x minutes before / 30 when it came first,
  0.4 x (1 - minutes after / 30) when it came after the start).
- generic: one low-scored hypothesis per category that no rule produced, so the ranking
  always has more than three and rejecting one brings up the next.

NOTE: the weights are judgement, set so that each pattern's scenario in
tests/rootcause ranks its cause first; they are not fitted to labelled incidents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.analysis import format_number, format_time
from bot.incident import Hypothesis, Incident
from bot.monitors import Monitor
from bot.rootcause.correlation import MODERATE, SIGNIFICANCE, RelatedAnomaly, spoken_duration, timing
from bot.rootcause.dimensions import (
    MARK_EMOJI,
    ROLE_LABELS,
    DimensionAnalysis,
    DimensionRow,
    shares_within,
)
from bot.rootcause.events import ChangeEvent

CONCENTRATED = 0.6
CHANGE_WINDOW = 30 * 60.0
MIN_HYPOTHESES = 4
MAX_ID_LENGTH = 48

EVENT_BASE = {"deployment": 1.0, "config_change": 0.95, "autoscaling": 0.7}
EVENT_NAMES = {"deployment": "Deployment", "config_change": "Config change", "autoscaling": "Autoscaling"}


@dataclass(frozen=True)
class _Candidate:
    id: str
    category: str
    title: str
    evidence: str
    query: str | None
    score: float


def rank_hypotheses(
    *,
    incident: Incident,
    monitor: Monitor | None,
    related: Sequence[RelatedAnomaly],
    dimensions: DimensionAnalysis,
    events: Sequence[ChangeEvent],
    direction: float,
    step: float,
) -> list[Hypothesis]:
    """Return every hypothesis the rules produce, most likely first, at least MIN_HYPOTHESES."""
    candidates: list[_Candidate] = []
    for rule in (_infrastructure, _capacity, _spread_across_regions):
        found = rule(dimensions, direction=direction, step=step)
        if found is not None:
            candidates.append(found)
    candidates.extend(_dependencies(related, incident=incident, step=step))
    candidates.extend(_changes(events, incident=incident, monitor=monitor, dimensions=dimensions))
    candidates.extend(_generic(incident, monitor, present={candidate.category for candidate in candidates}))

    candidates.sort(key=lambda candidate: (-candidate.score, candidate.id))
    ranked, seen = [], set()
    for candidate in candidates:
        identifier = _unique(candidate.id, seen)
        ranked.append(Hypothesis(id=identifier, title=candidate.title, evidence=candidate.evidence,
                                 query=candidate.query, score=round(candidate.score, 3)))
    return ranked


# --- dimension patterns ------------------------------------------------------------------


def _infrastructure(dimensions: DimensionAnalysis, *, direction: float, step: float) -> _Candidate | None:
    regions = dimensions.for_role("region")
    top = regions.top if regions else None
    if regions is None or top is None or len(regions.rows) < 2 or top.share < CONCENTRATED or not top.degraded:
        return None

    cross = dimensions.cross_for_roles("service", "region")
    breadth, detail = 0.5, "services within the region were not broken down"
    query = regions.query
    if cross is not None:
        inside = cross.within(second_value=top.value)
        degraded = [cell for cell in inside if cell.degraded]
        outside = [cell for cell in cross.cells if cell.values[1] != top.value]
        breadth = len(degraded) / len(inside) if inside else 0.5
        calm = sum(not cell.degraded for cell in outside)
        detail = (f"{len(degraded)} of {len(inside)} services there are degraded, while {calm} of "
                  f"{len(outside)} service and region pairs elsewhere stay within their baselines")
        query = cross.query

    score = 0.9 * top.share * (0.4 + 0.6 * breadth)
    return _Candidate(
        id=f"infra-{top.value}", category="infrastructure",
        title=f"Infrastructure issue in {top.label} {top.value}: data centre, network or load balancer",
        evidence=f"{_row_text(top)} accounts for {top.share:.0%} of the change; {detail}.",
        query=query, score=score,
    )


def _capacity(dimensions: DimensionAnalysis, *, direction: float, step: float) -> _Candidate | None:
    services = dimensions.for_role("service")
    top = services.top if services else None
    if services is None or top is None or len(services.rows) < 2 or top.share < CONCENTRATED or not top.degraded:
        return None

    parts = [f"{_row_text(top)} accounts for {top.share:.0%} of the change"]
    region_breadth = 0.5
    by_region = dimensions.cross_for_roles("service", "region")
    if by_region is not None:
        inside = by_region.within(first_value=top.value)
        degraded = [cell for cell in inside if cell.degraded]
        region_breadth = len(degraded) / len(inside) if inside else 0.5
        parts.append(f"it is degraded in {len(degraded)} of {len(inside)} {by_region.labels[1]} values")

    uneven = False
    query = services.query
    by_segment = dimensions.cross_for_roles("service", "segment")
    if by_segment is not None:
        ranked = shares_within(by_segment.within(first_value=top.value), direction=direction)
        query = by_segment.query
        if len(ranked) >= 2:
            cell, share = ranked[0]
            uneven = share >= 0.5
            parts.append(f"within it, {by_segment.labels[1]}={cell.values[1]} accounts for {share:.0%} of the change "
                         f"({MARK_EMOJI[cell.mark]} {cell.deviation:+.1f}σ)")

    score = 0.85 * top.share * (0.4 + 0.6 * region_breadth) * (1.0 if uneven else 0.85)
    return _Candidate(
        id=f"capacity-{top.value}", category="capacity",
        title=f"Capacity limit in {top.label} {top.value}: resource exhaustion, autoscaling lag "
              "or connection pool limits",
        evidence="; ".join(parts) + ".", query=query, score=score,
    )


def _spread_across_regions(dimensions: DimensionAnalysis, *, direction: float, step: float) -> _Candidate | None:
    regions = dimensions.for_role("region")
    if regions is None or len(regions.rows) < 2:
        return None
    top = regions.top
    degraded = [row for row in regions.rows if row.degraded and row.onset is not None]
    if top is None or top.share >= CONCENTRATED or len(degraded) < 2:
        return None
    services = dimensions.for_role("service")
    if services is not None and services.top is not None and services.top.share >= CONCENTRATED:
        return None

    onsets = sorted(row.onset for row in degraded if row.onset is not None)
    spread = onsets[-1] - onsets[0]
    if spread > 2 * step:
        return None
    names = ", ".join(row.value for row in degraded)
    score = 0.6 * len(degraded) / len(regions.rows)
    return _Candidate(
        id="external-regions", category="external",
        title=f"External dependency shared by {regions.label} {names}: third-party API, database or CDN",
        evidence=(f"{len(degraded)} of {len(regions.rows)} {regions.label} values degraded {_together(spread)} "
                  f"from {format_time(onsets[0])}, and no single "
                  f"{regions.label} or service accounts for {CONCENTRATED:.0%} of the change."),
        query=regions.query, score=score,
    )


def _together(spread: float) -> str:
    return "at the same time" if spread == 0 else f"within {spoken_duration(spread)} of each other"


# --- related anomalies --------------------------------------------------------------------


def _dependencies(related: Sequence[RelatedAnomaly], *, incident: Incident, step: float) -> list[_Candidate]:
    found = []
    for item in related:
        if item.strength < MODERATE or item.p_value >= SIGNIFICANCE:
            continue
        leads = item.lag >= step / 2
        follows = item.lag <= -step / 2
        score = 0.9 * item.strength
        if not leads:
            score *= 0.8
        if not item.anomalous:
            score *= 0.7
        if follows:
            score *= 0.4
        when = timing(item.lag, step)
        state = f"anomalous itself ({item.deviation:+.1f}σ)" if item.anomalous else "not anomalous itself"
        if item.incident_id:
            state += f", incident {item.incident_id}"
        title = (f"Dependency {item.title} {item.movement} {when} {incident.monitor}: "
                 "database, third-party API or CDN")
        if follows:
            title = f"{item.title} followed {incident.monitor}: more likely an effect than the cause"
        found.append(_Candidate(
            id=f"dependency-{item.monitor}-{item.fingerprint[:6]}", category="external",
            title=title,
            evidence=(f"Residuals correlate at r = {item.correlation:+.2f} ({item.strength_label}, "
                      f"p = {item.p_value:.2g}) when {item.title} is shifted {spoken_duration(item.lag)}; "
                      f"it is {state}."),
            query=item.query, score=score,
        ))
    return found


# --- change events ------------------------------------------------------------------------


def _changes(
    events: Sequence[ChangeEvent], *, incident: Incident, monitor: Monitor | None, dimensions: DimensionAnalysis
) -> list[_Candidate]:
    services = dimensions.for_role("service")
    named = _named_services(incident, monitor)
    query = incident.query
    if services is not None:
        query = services.query
    elif monitor is not None:
        query = monitor.query
    found = []
    for event in events:
        before = incident.anomaly_start - event.time
        if abs(before) > CHANGE_WINDOW:
            continue
        relevance, where = _relevance(event.service, services.rows if services else [], named)
        if before >= 0:
            timing_factor = 1.0 - 0.5 * before / CHANGE_WINDOW
            when = f"{spoken_duration(before)} before the anomaly started"
        else:
            timing_factor = 0.4 * (1.0 + before / CHANGE_WINDOW)
            when = f"{spoken_duration(before)} after the anomaly started"
        score = EVENT_BASE[event.type] * relevance * timing_factor

        name = EVENT_NAMES[event.type]
        version = f" {event.version}" if event.version else ""
        region = f" in {event.region}" if event.region else ""
        evidence = (f"{name} of {event.service}{version}{region} at {format_time(event.time)}, {when} "
                    f"({format_time(incident.anomaly_start)}); {where}.")
        if event.description:
            evidence += f" {event.description}."
        if event.link:
            evidence += f" <{event.link}|Details>"
        found.append(_Candidate(
            id=f"{event.type}-{event.service}-{event.version or int(event.time)}",
            category="change",
            title=f"{name} of {event.service}{version}, {when}",
            evidence=evidence,
            query=query,
            score=score,
        ))
    return found


def _named_services(incident: Incident, monitor: Monitor | None) -> set[str]:
    names = set()
    for labels in (incident.labels, monitor.labels if monitor else {}):
        for label in ROLE_LABELS["service"]:
            if labels.get(label):
                names.add(labels[label])
    return names


def _relevance(service: str, rows: Sequence[DimensionRow], named: set[str]) -> tuple[float, str]:
    """Weigh a change by whether its service is where the anomaly is."""
    row = next((row for row in rows if row.value == service), None)
    top = rows[0] if rows else None
    if service in named:
        return 1.0, f"the incident's series belongs to {service}"
    if row is not None and row is top and row.degraded and row.share >= 0.5:
        return 1.0, f"{_row_text(row)} accounts for {row.share:.0%} of the change"
    if row is not None and row.degraded:
        return 0.8, f"{_row_text(row)} is degraded and accounts for {row.share:.0%} of the change"
    if row is not None:
        return 0.3, f"{_row_text(row)} stays within its baseline"
    if rows or named:
        return 0.3, f"{service} is not among the degraded services"
    return 0.6, "the metric has no service breakdown to confirm the service is affected"


# --- generic hypotheses -------------------------------------------------------------------


_KIND_GENERIC = {
    "spike": ("load", "Traffic surge or retry storm",
              "A spike without a dimension pattern or change event often comes from more requests or client "
              "retries; compare request rates with the same time last week."),
    "drop": ("availability", "Availability or routing problem",
             "A drop points to availability and routing rather than load: check health checks, traffic "
             "routing and circuit breakers."),
    "trend": ("leak", "Resource leak or gradual saturation",
              "A steady trend points to a leak (memory, connections, disk) or growing load toward a limit."),
    "oscillation": ("periodic", "Periodic job, health-check flap or autoscaler loop",
                    "New periodic movement often comes from a scheduled job, a flapping health check or an "
                    "autoscaler scaling in and out."),
}
_CATEGORY_GENERIC = {
    "change": ("Change not posted as an event",
               "No deployment, config change or autoscaling event was received within 30 minutes of the start; "
               "check the deploy log and recent config changes by hand."),
    "infrastructure": ("Infrastructure issue: data centre, network or load balancer",
                       "No region accounts for most of the change in the breakdown; check network and load balancer "
                       "health if the breakdown is incomplete."),
    "capacity": ("Capacity limit: resource exhaustion, autoscaling lag or connection pool limits",
                 "No single service accounts for most of the change; check saturation (CPU, memory, pools) of the "
                 "services behind this metric."),
    "external": ("External dependency: database, third-party API or CDN",
                 "No other monitored series led this one; check dependencies that are not monitored here."),
}
GENERIC_SCORE = {"kind": 0.15, "change": 0.1, "infrastructure": 0.06, "capacity": 0.06, "external": 0.08}


def _generic(incident: Incident, monitor: Monitor | None, *, present: set[str]) -> list[_Candidate]:
    query = monitor.query if monitor else incident.query
    found = []
    if incident.kind in _KIND_GENERIC:
        category, title, evidence = _KIND_GENERIC[incident.kind]
        found.append(_Candidate(id=f"generic-{category}", category=category, title=title,
                                evidence=evidence, query=query, score=GENERIC_SCORE["kind"]))
    for category, (title, evidence) in _CATEGORY_GENERIC.items():
        if category in present:
            continue
        found.append(_Candidate(id=f"generic-{category}", category=category, title=title,
                                evidence=evidence, query=query, score=GENERIC_SCORE[category]))
    return found


# --- helpers ------------------------------------------------------------------------------


def _row_text(row: DimensionRow) -> str:
    return (f"{row.label}={row.value} ({MARK_EMOJI[row.mark]} {format_number(row.current)} against "
            f"{format_number(row.baseline)}, {row.deviation:+.1f}σ)")


def _unique(identifier: str, seen: set[str]) -> str:
    """Return a Slack-safe id of at most MAX_ID_LENGTH characters, unique among `seen`."""
    base = re.sub(r"[^a-z0-9._-]+", "-", identifier.lower()).strip("-")[:MAX_ID_LENGTH] or "hypothesis"
    candidate, counter = base, 2
    while candidate in seen:
        suffix = f"-{counter}"
        candidate = base[: MAX_ID_LENGTH - len(suffix)] + suffix
        counter += 1
    seen.add(candidate)
    return candidate


def merge_hypotheses(current: Sequence[Hypothesis], fresh: Sequence[Hypothesis]) -> list[Hypothesis]:
    """Combine a new ranking with the decisions people already made.

    Confirmed and rejected hypotheses keep their status and come first, in their order;
    the fresh proposed ones follow in rank order, without those already decided.
    """
    decided = [hypothesis for hypothesis in current if hypothesis.status != "proposed"]
    decided_ids = {hypothesis.id for hypothesis in decided}
    return decided + [hypothesis for hypothesis in fresh if hypothesis.id not in decided_ids]
