"""The digest: what happened over a period, from the incidents and counters in Redis."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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
        if incident.resolution == "not_anomaly":
            digest.not_anomaly += 1
        elif incident.resolution == "fixed" or any(h.status == "confirmed" for h in incident.hypotheses):
            digest.confirmed += 1

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
    return "\n".join(lines)
