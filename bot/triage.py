"""`/anomaly triage`: run the detection now on any metric the source can query."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from bot.analysis import format_number, format_p
from bot.durations import format_duration
from bot.errors import SourceError
from bot.incident import Incident
from bot.monitors import Monitor
from bot.sources.base import Source
from detectors import DetectorSettings, evaluate

log = logging.getLogger(__name__)

MAX_SERIES_SHOWN = 10
TRIAGE_BASELINE = 7 * 86400.0
MAX_POINTS = 11_000


@dataclass(frozen=True)
class TriageResult:
    title: str
    lines: list[str]
    anomalous: int
    series: int


def triage(
    *, sources: Mapping[str, Source], query: str, source_name: str, window: float, now: float,
    settings: DetectorSettings | None = None,
) -> TriageResult:
    """Evaluate every series of `query` now; the alert window is `window` seconds."""
    source = sources.get(source_name)
    if source is None:
        raise SourceError(f"source {source_name!r} is not configured", source=source_name, url="", query=query)

    settings = settings or DetectorSettings(window=window, baseline=TRIAGE_BASELINE)
    span = settings.baseline + settings.baseline_offset + settings.window
    step = max(60.0, math.ceil(span / MAX_POINTS / 60.0) * 60.0)
    end = math.floor(now / step) * step
    fetched = source.fetch(query, start=end - span, end=end, step=step)

    lines = []
    anomalous = 0
    ranked = []
    for series in fetched:
        evaluation = evaluate(series.timestamps, series.values, now=end, settings=settings)
        ranked.append((abs(evaluation.deviation), series, evaluation))
    ranked.sort(key=lambda item: item[0], reverse=True)

    for _, series, evaluation in ranked[:MAX_SERIES_SHOWN]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(series.labels.items()) if k != "__name__") or "(no labels)"
        if evaluation.status == "skipped":
            lines.append(f"• `{labels}`: not evaluated, {evaluation.reason}")
            continue
        verdict = "no anomaly"
        if evaluation.status == "anomaly":
            anomalous += 1
            verdict = f"*{evaluation.anomaly.kind}*, {evaluation.tier} confidence"
        lines.append(
            f"• `{labels}`: {format_number(evaluation.current)} against {format_number(evaluation.expected)} "
            f"({evaluation.deviation:+.2f}σ, {format_p(evaluation.p_value)}): {verdict}"
        )
    if len(ranked) > MAX_SERIES_SHOWN:
        lines.append(f"… and {len(ranked) - MAX_SERIES_SHOWN} more series with smaller deviations")
    if not ranked:
        lines.append("• the query returned no series over the baseline window")

    title = (f"Triage of `{query}`: {anomalous} of {len(ranked)} series anomalous in the last "
             f"{format_duration(settings.window)} against a {format_duration(settings.baseline)} baseline")
    return TriageResult(title=title, lines=lines, anomalous=anomalous, series=len(ranked))


def triage_incident(
    *, sources: Mapping[str, Source], incident: Incident, monitor: Monitor, window: float | None, now: float
) -> TriageResult:
    """Re-run the incident's monitor detection now."""
    settings = monitor.detector.to_settings()
    if window:
        settings = settings.with_changes(window=window)
    result = triage(sources=sources, query=monitor.query, source_name=monitor.source, window=settings.window,
                    now=now, settings=settings)
    return TriageResult(title=f"Incident {incident.id}: {result.title}", lines=result.lines,
                        anomalous=result.anomalous, series=result.series)
