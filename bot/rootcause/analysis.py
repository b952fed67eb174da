"""The root-cause analysis of one incident: related anomalies, dimension breakdown, hypotheses."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import redis

from bot.incident import Hypothesis, Incident
from bot.monitors import Monitor
from bot.rootcause.correlation import CorrelationWindow, RelatedAnomaly, find_related, related_text
from bot.rootcause.dimensions import (
    DEFAULT_DIMENSIONS,
    DimensionAnalysis,
    DimensionRow,
    break_down,
    direction_sign,
)
from bot.rootcause.events import ChangeEvent, events_between
from bot.rootcause.heatmap import render_heatmap, table_text
from bot.rootcause.hypotheses import CHANGE_WINDOW, merge_hypotheses, rank_hypotheses
from bot.sources.base import Series, Source
from bot.store import Store

log = logging.getLogger(__name__)

DEFAULT_STEP = 60.0


@dataclass
class RootCause:
    """Result of `analyze` for one incident, with the texts for the playbook thread.

    `related`: other monitored series, strongest residual correlation first.
    `dimensions`: one row per label value, grouped by label, largest share first.
    `hypotheses`: every hypothesis, most likely first (always more than three).
    `related_text`: the step-4 text. `dimensions_text`: the table with 🔴/🟡/🟢 marks.
    `hypotheses_text`: the ranking as plain lines, for logs and the terminal demo.
    `heatmap_png`: the breakdown as an image when it has more than a few rows, else None.
    `missing`: one line per part that could not be computed, and why.
    `breakdown`: the dimension breakdown in full, with the two-label breakdowns.
    `window`: the span and step the residuals were correlated on.
    """

    related: list[RelatedAnomaly] = field(default_factory=list)
    dimensions: list[DimensionRow] = field(default_factory=list)
    hypotheses: list[Hypothesis] = field(default_factory=list)
    events: list[ChangeEvent] = field(default_factory=list)
    related_text: str = ""
    dimensions_text: str = ""
    hypotheses_text: str = ""
    heatmap_png: bytes | None = None
    missing: list[str] = field(default_factory=list)
    breakdown: DimensionAnalysis = field(default_factory=DimensionAnalysis)
    window: CorrelationWindow | None = None

    @property
    def top(self) -> list[Hypothesis]:
        """The three most likely hypotheses."""
        return self.hypotheses[:3]


def analyze(
    *,
    store: Store,
    sources: Mapping[str, Source],
    monitors: Mapping[str, Monitor],
    incident: Incident,
    now: float,
    dimension_labels: Sequence[str] | None = None,
) -> RootCause:
    """Find what moved with `incident`, where its change is concentrated, and the likely causes.

    Reads the stored windows of every monitor in `monitors`, queries the incident's
    source for the dimension breakdown (by `dimension_labels`, default service, region
    and segment) and reads change events within 30 minutes of the anomaly start.
    Never raises on a Redis or backend error: the parts it could not compute are
    listed in `missing` and in the texts, and the hypotheses fall back to generic ones.
    """
    result = RootCause()
    try:
        _analyze(result, store=store, sources=sources, monitors=monitors, incident=incident, now=now,
                 labels=list(dimension_labels) if dimension_labels else list(DEFAULT_DIMENSIONS))
    except Exception as error:  # noqa: BLE001 - the analysis is advisory and must not stop a poll
        log.exception("incident %s: root-cause analysis failed: %s", incident.id, error)
        result.missing.append(f"the analysis stopped early after an internal error ({type(error).__name__})")
        if not result.hypotheses:
            result.hypotheses = rank_hypotheses(
                incident=incident, monitor=monitors.get(incident.monitor), related=[],
                dimensions=DimensionAnalysis(), events=[], direction=1.0, step=DEFAULT_STEP,
            )
    _fill_texts(result, incident)
    log.info("incident %s: root cause analysed: %d related, %d dimension rows, top hypothesis %s, %d missing",
             incident.id, len(result.related), len(result.dimensions),
             result.hypotheses[0].id if result.hypotheses else "none", len(result.missing))
    return result


def _analyze(
    result: RootCause, *, store: Store, sources: Mapping[str, Source], monitors: Mapping[str, Monitor],
    incident: Incident, now: float, labels: list[str],
) -> None:
    monitor = monitors.get(incident.monitor)
    direction = direction_sign(incident.direction, incident.deviation)
    if monitor is None:
        result.missing.append(f"monitor {incident.monitor!r} is not configured, so its source and settings "
                              "are unknown")

    own = None
    own_problem = "the incident's own window is not stored yet"
    try:
        own = store.load_series(incident.monitor, incident.fingerprint)
    except redis.RedisError as error:
        log.error("incident %s: own window not read, Redis failed: %s", incident.id, error)
        own_problem = f"the incident's own window could not be read from Redis ({error})"
    step = _step(monitor, own)
    window = CorrelationWindow.around(anomaly_start=incident.anomaly_start, now=now, step=step)
    result.window = window

    related_missing: list[str] = []
    if own is None:
        related_missing.append(own_problem)
    else:
        result.related, related_missing = find_related(store=store, monitors=monitors, incident=incident,
                                                       own=own, window=window)
    result.missing.extend(related_missing)
    result.related_text = related_text(result.related, incident=incident, window=window, missing=related_missing)

    source = sources.get(monitor.source) if monitor is not None else None
    if monitor is not None and source is None:
        result.missing.append(f"source {monitor.source!r} is not configured, so the metric was not broken down")
    if monitor is not None and source is not None:
        result.breakdown = break_down(source=source, monitor=monitor, labels=labels,
                                      anomaly_start=incident.anomaly_start, now=now, direction=direction,
                                      incident_id=incident.id, scope=incident.labels)
        result.missing.extend(result.breakdown.missing)
    result.dimensions = result.breakdown.rows

    try:
        result.events = events_between(store, incident.anomaly_start - CHANGE_WINDOW,
                                       min(now, incident.anomaly_start + CHANGE_WINDOW))
    except redis.RedisError as error:
        log.error("incident %s: change events not read, Redis failed: %s", incident.id, error)
        result.missing.append(f"change events could not be read from Redis ({error})")

    result.hypotheses = rank_hypotheses(incident=incident, monitor=monitor, related=result.related,
                                        dimensions=result.breakdown, events=result.events,
                                        direction=direction, step=step)


def _step(monitor: Monitor | None, own: Series | None) -> float:
    if monitor is not None:
        return monitor.resolution
    if own is not None and own.timestamps.size >= 2:
        spacing = float(np.median(np.diff(own.timestamps)))
        if spacing > 0:
            return spacing
    return DEFAULT_STEP


def _fill_texts(result: RootCause, incident: Incident) -> None:
    if not result.related_text:
        notes = [f"• {note}" for note in result.missing]
        result.related_text = "\n".join(["Related anomalies were not computed:", *notes])
    result.dimensions_text = table_text(result.breakdown, anomaly_start=incident.anomaly_start)
    result.hypotheses_text = "\n".join(
        f"{rank}. {hypothesis.title} (score {hypothesis.score:.2f}): {hypothesis.evidence}"
        for rank, hypothesis in enumerate(result.hypotheses, start=1)
    )
    try:
        result.heatmap_png = render_heatmap(result.breakdown, title=f"Incident {incident.id}: {incident.monitor}")
    except (ValueError, RuntimeError) as error:
        log.error("incident %s: heatmap not rendered: %s", incident.id, error)
        result.missing.append(f"the heatmap image could not be rendered ({error})")


def attach_hypotheses(store: Store, incident_id: str, hypotheses: Sequence[Hypothesis]) -> Incident | None:
    """Store a new ranking on the incident, keeping the decisions already made; return the incident.

    Returns None when the incident does not exist. Raises redis.RedisError when Redis fails.
    """
    def change(current: Incident) -> Incident | None:
        merged = merge_hypotheses(current.hypotheses, hypotheses)
        if merged == list(current.hypotheses):
            return None
        return current.model_copy(update={"hypotheses": merged})

    return store.update_incident(incident_id, change)
