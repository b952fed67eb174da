"""The digest: what happened over a period, from the incidents and counters in Redis."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from bot.durations import format_duration
from bot.incident import Incident
from bot.store import Store

DAY = 86400.0


@dataclass
class Digest:
    start: float
    end: float
    incidents: list[Incident] = field(default_factory=list)
    by_tier: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    by_severity: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    not_anomaly: int = 0
    confirmed: int = 0
    suppressed: Counter = field(default_factory=Counter)
    detection_latency: list[float] = field(default_factory=list)
    time_to_acknowledge: list[float] = field(default_factory=list)
    time_to_resolve: list[float] = field(default_factory=list)
    alerts_by_monitor: Counter = field(default_factory=Counter)
    not_anomaly_by_monitor: Counter = field(default_factory=Counter)

    @property
    def precision(self) -> float | None:
        """Share of judged incidents that were real: confirmed against marked not-an-anomaly."""
        judged = self.confirmed + self.not_anomaly
        return self.confirmed / judged if judged else None


def build_digest(store: Store, *, end: float, span: float = DAY) -> Digest:
    digest = Digest(start=end - span, end=end)
    for incident_id in store.incident_ids_opened_between(end - span, end):
        incident = store.get_incident(incident_id)
        if incident is None:
            continue
        digest.incidents.append(incident)
        digest.by_tier[incident.tier] += 1
        digest.by_kind[incident.kind] += 1
        digest.by_severity[incident.severity] += 1
        digest.by_status[incident.status] += 1
        digest.alerts_by_monitor[incident.monitor] += 1
        if incident.resolution == "not_anomaly":
            digest.not_anomaly += 1
            digest.not_anomaly_by_monitor[incident.monitor] += 1
        elif incident.resolution == "fixed" or any(h.status == "confirmed" for h in incident.hypotheses):
            digest.confirmed += 1
        if incident.card_posted_at is not None:
            digest.detection_latency.append(max(0.0, incident.card_posted_at - incident.anomaly_start))
        if incident.acknowledged_at is not None:
            digest.time_to_acknowledge.append(incident.acknowledged_at - incident.opened_at)
        if incident.resolved_at is not None:
            digest.time_to_resolve.append(incident.resolved_at - incident.opened_at)

    for day in range(int(digest.start // DAY), int(end // DAY) + 1):
        for key, count in store.redis.hgetall(store.key("suppressed", str(day))).items():
            monitor, _, _reason = key.decode().rpartition(":")
            digest.suppressed[monitor] += int(count)
    return digest


def digest_text(digest: Digest) -> str:
    """Render the digest as Slack mrkdwn."""
    def counts(counter: Counter, order: tuple[str, ...]) -> str:
        return ", ".join(f"{name} {counter.get(name, 0)}" for name in order)

    lines = [
        f"*Anomaly digest*: {len(digest.incidents)} incident(s) in the last "
        f"{int((digest.end - digest.start) // 3600)} hours",
        f"• by confidence: {counts(digest.by_tier, ('high', 'medium', 'low'))}",
        f"• by type: {counts(digest.by_kind, ('spike', 'trend', 'oscillation', 'drop'))}",
        f"• by severity: {counts(digest.by_severity, ('P0', 'P1', 'P2'))}",
        f"• status: {counts(digest.by_status, ('open', 'acknowledged', 'resolved'))}",
    ]
    precision = digest.precision
    judged = f"{digest.confirmed} confirmed, {digest.not_anomaly} marked not an anomaly"
    lines.append(f"• feedback: {judged}" + (f" (precision {precision:.0%})" if precision is not None else ""))
    total_suppressed = sum(digest.suppressed.values())
    noisiest = ", ".join(f"{monitor} {count}" for monitor, count in digest.suppressed.most_common(3))
    lines.append(f"• suppressed alerts: {total_suppressed}" + (f" (most: {noisiest})" if noisiest else ""))
    lines.append(f"• detection latency (sample time to card): {_percentiles(digest.detection_latency)}")
    lines.append(f"• time to acknowledge: {_percentiles(digest.time_to_acknowledge)}")
    mttr = format_duration(float(np.mean(digest.time_to_resolve))) if digest.time_to_resolve else "n/a"
    lines.append(f"• MTTR: {mttr} over {len(digest.time_to_resolve)} resolved incident(s)")
    for line in noisy_monitors(digest):
        lines.append(f"• noisy: {line}")
    return "\n".join(lines)


def _percentiles(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    p50, p95 = np.percentile(samples, [50, 95])
    return f"p50 {format_duration(float(p50))}, p95 {format_duration(float(p95))}"


def noisy_monitors(digest: Digest, *, limit: int = 3) -> list[str]:
    """Name the noisiest monitors with a setting that would quiet them."""
    noise = Counter(digest.suppressed)
    noise.update(digest.alerts_by_monitor)
    lines = []
    for monitor, count in noise.most_common(limit):
        dismissed = digest.not_anomaly_by_monitor.get(monitor, 0)
        alerts = digest.alerts_by_monitor.get(monitor, 0)
        if alerts and dismissed / alerts >= 0.5:
            suggestion = "most of its incidents were not anomalies: raise `detector.threshold` by 0.5σ"
        elif digest.suppressed.get(monitor, 0) > alerts:
            suggestion = "most of its alerts were suppressed: set `detector.min_tier: high`"
        else:
            continue
        lines.append(f"{monitor} ({count} alerts, {dismissed} not an anomaly): {suggestion}")
    return lines


def digest_chart(digest: Digest) -> bytes:
    """A small bar chart of incidents per hour over the digest's period, as PNG bytes."""
    from bot.charts import Figure  # matplotlib with the Agg backend already chosen

    hours = int(round((digest.end - digest.start) / 3600)) or 1
    counts = np.zeros(hours)
    for incident in digest.incidents:
        index = min(hours - 1, max(0, int((incident.opened_at - digest.start) // 3600)))
        counts[index] += 1
    figure = Figure(figsize=(6, 2), dpi=100)
    axes = figure.add_subplot()
    axes.bar(range(hours), counts, color="#de2d26")
    start = datetime.fromtimestamp(digest.start, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    axes.set_title(f"Incidents per hour since {start}", fontsize=9, loc="left")
    axes.set_xlabel("hours since the start")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
