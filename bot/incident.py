"""The incident record: one per anomalous series until someone resolves it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["open", "acknowledged", "resolved"]
Severity = Literal["P0", "P1", "P2"]


class Hypothesis(BaseModel):
    """A root-cause hypothesis people confirm or reject from the thread."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    evidence: str
    query: str | None = None
    score: float = 0.0
    status: Literal["proposed", "confirmed", "rejected"] = "proposed"
    decided_by: str | None = None


class Incident(BaseModel):
    """State of one incident, stored as JSON in Redis.

    Times are unix seconds. `fingerprint` is the monitor plus the series'
    labels, so a later poll that detects the same anomaly finds this incident.
    """

    # NaN stays NaN through JSON: an incident from Alertmanager has no baseline numbers.
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="constants")

    id: str
    fingerprint: str
    monitor: str
    query: str
    labels: dict[str, str]
    channel: str
    playbook: str
    status: Status = "open"

    opened_at: float
    updated_at: float
    anomaly_start: float
    last_anomalous_at: float
    recovered_at: float | None = None
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None
    resolution: Literal["fixed", "not_anomaly"] | None = None
    snoozed_until: float | None = None
    snoozed_by: str | None = None
    severity: Severity = "P2"
    severity_reasons: list[str] = Field(default_factory=list)
    escalation_level: int = 0
    escalated_at: float | None = None
    card_posted_at: float | None = None
    flapping: bool = False
    grouped: list[str] = Field(default_factory=list)
    war_room: str | None = None
    current_step: str = "1"
    hypotheses: list[Hypothesis] = Field(default_factory=list)

    detector: str
    kind: str
    shape: str | None = None
    direction: str
    tier: str
    p_value: float
    deviation: float
    peak_deviation: float
    current: float
    expected: float
    baseline_mean: float
    baseline_std: float
    evaluations: int = 1

    card_channel: str | None = None
    card_ts: str | None = None
    history: list[str] = Field(default_factory=list)

    @property
    def title(self) -> str:
        """A one-line name for people: monitor and the labels that tell series apart."""
        labels = {name: value for name, value in self.labels.items() if name != "__name__"}
        if not labels:
            return self.monitor
        shown = ", ".join(f"{name}={value}" for name, value in sorted(labels.items()))
        return f"{self.monitor} {{{shown}}}"
