"""Result objects of one evaluation, and the mapping from p-value to confidence tier."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# A p-value below HIGH_TIER_P is "high" confidence, below MEDIUM_TIER_P "medium", else "low".
HIGH_TIER_P = 0.01
MEDIUM_TIER_P = 0.05

KINDS = ("spike", "trend", "oscillation", "drop")
SKIP_REASONS = ("insufficient history", "no variance", "no data")

# Spike shapes by the duration of the current run, in seconds.
BURST_MAX_DURATION = 300.0
SUSTAINED_MIN_DURATION = 900.0


def tier_for(p_value: float) -> str:
    """Return the confidence tier of `p_value`: "high", "medium" or "low" (also for NaN)."""
    if not math.isfinite(p_value):
        return "low"
    if p_value < HIGH_TIER_P:
        return "high"
    if p_value < MEDIUM_TIER_P:
        return "medium"
    return "low"


def spike_shape(duration: float) -> str | None:
    """Return "burst" for a run shorter than 5 minutes, "sustained" beyond 15, else None."""
    if duration < BURST_MAX_DURATION:
        return "burst"
    if duration > SUSTAINED_MIN_DURATION:
        return "sustained"
    return None


@dataclass(frozen=True)
class Anomaly:
    """Kind, size and duration of the anomaly that an evaluation found.

    `start` is the unix time of the first anomalous point of the current run and `duration`
    the run's length in seconds. `amplitude` is the window mean minus the baseline
    expectation in the metric's units, and `deviation` the same difference in baseline
    sigma, signed. `details` contains detector-specific numbers (floats or strings only).
    """

    kind: str
    shape: str | None
    direction: str
    start: float
    duration: float
    amplitude: float
    deviation: float
    details: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """Outcome of evaluating one series at time `evaluated_at`.

    `status` is "anomaly", "normal" or "skipped". A skipped evaluation carries its `reason`
    ("insufficient history", "no variance" or "no data"), `current` = NaN, `deviation` = 0.0,
    `p_value` = 1.0 and tier "low". `expected` is the baseline expectation for the window: the
    baseline mean, median or seasonal profile value, depending on the detector.
    """

    status: str
    reason: str | None
    detector: str
    evaluated_at: float
    current: float
    expected: float
    baseline_mean: float
    baseline_std: float
    deviation: float
    p_value: float
    tier: str
    anomaly: Anomaly | None = None

    @property
    def is_anomaly(self) -> bool:
        return self.status == "anomaly"


def skipped(
    *,
    reason: str,
    detector: str,
    now: float,
    baseline_mean: float = math.nan,
    baseline_std: float = math.nan,
) -> Evaluation:
    """Build the evaluation of a series that could not be tested, for `reason`."""
    return Evaluation(
        status="skipped",
        reason=reason,
        detector=detector,
        evaluated_at=now,
        current=math.nan,
        expected=math.nan,
        baseline_mean=baseline_mean,
        baseline_std=baseline_std,
        deviation=0.0,
        p_value=1.0,
        tier="low",
        anomaly=None,
    )
