"""Severity assessment: static thresholds, dynamic thresholds and seasonal deviation.

Thresholds and routing are data in `playbooks/severity.yml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.errors import PlaybookError

METRIC_TYPES = ("cpu", "memory", "disk", "latency", "error_rate", "request_rate", "business", "other")
SEVERITY_RANK = {"P2": 0, "P1": 1, "P0": 2}


@dataclass(frozen=True)
class Route:
    page: str | None = None
    notify: str | None = None
    war_room: bool = False


@dataclass(frozen=True)
class SeverityPolicy:
    static: dict[str, float]
    latency_ratio: float
    error_rate_ratio: float
    request_rate_sigma: float
    routing: dict[str, Route] = field(default_factory=dict)


def load_policy(path: Path) -> SeverityPolicy:
    """Read the severity policy; raise PlaybookError naming the field and the fix."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PlaybookError(f"{path}: cannot be read as YAML: {error}") from None
    if not isinstance(document, dict):
        raise PlaybookError(f"{path}: expected a mapping with 'static', 'dynamic' and 'routing'")

    static = document.get("static") or {}
    for name, limit in static.items():
        if name not in ("cpu", "memory", "disk") or not isinstance(limit, int | float):
            raise PlaybookError(f"{path}: field 'static.{name}': use cpu, memory or disk with a percentage")
    dynamic = document.get("dynamic") or {}
    values = {}
    for name, default in (("latency_ratio", 1.5), ("error_rate_ratio", 2.0), ("request_rate_sigma", 3.0)):
        value = dynamic.get(name, default)
        if not isinstance(value, int | float) or value <= 0:
            raise PlaybookError(f"{path}: field 'dynamic.{name}': {value!r} is not a positive number")
        values[name] = float(value)

    routing = {}
    for severity, route in (document.get("routing") or {}).items():
        if severity not in SEVERITY_RANK or not isinstance(route, dict):
            raise PlaybookError(f"{path}: field 'routing.{severity}': use P0, P1 or P2 with page, notify, war_room")
        routing[severity] = Route(page=route.get("page"), notify=route.get("notify"),
                                  war_room=bool(route.get("war_room", False)))
    return SeverityPolicy(static={k: float(v) for k, v in static.items()}, routing=routing, **values)


def assess(
    policy: SeverityPolicy, *, metric_type: str, current: float, expected: float, deviation: float, tier: str
) -> tuple[str, list[str]]:
    """Return the severity (P0, P1, P2) and the reasons for it."""
    reasons = []
    limit = policy.static.get(metric_type)
    if limit is not None and current > limit:
        reasons.append(f"static: {metric_type} {current:.1f}% above {limit:g}%")

    if metric_type == "latency" and expected > 0 and current > policy.latency_ratio * expected:
        reasons.append(f"dynamic: latency {current / expected:.1f}× the baseline (limit {policy.latency_ratio:g}×)")
    if metric_type == "error_rate" and expected > 0 and current > policy.error_rate_ratio * expected:
        reasons.append(f"dynamic: error rate {current / expected:.1f}× normal (limit {policy.error_rate_ratio:g}×)")
    if metric_type == "request_rate" and abs(deviation) > policy.request_rate_sigma:
        reasons.append(f"dynamic: request rate {deviation:+.1f}σ (limit ±{policy.request_rate_sigma:g}σ)")

    breached = bool(reasons)
    reasons.append(f"seasonal: {deviation:+.1f}σ from the baseline, {tier} confidence")
    if breached and tier == "high":
        return "P0", reasons
    if breached or tier == "high":
        return "P1", reasons
    return "P2", reasons
