"""The escalation matrix: who to pull in, and after how long, by confidence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.durations import parse_duration
from bot.errors import PlaybookError


@dataclass(frozen=True)
class EscalationRule:
    """One row of the matrix; `after` in seconds of the incident being unresolved."""

    min_confidence: float
    after: float
    target: str
    handle: str
    war_room: bool = False
    pause_on_ack: bool = False


def load_matrix(path: Path) -> list[EscalationRule]:
    """Read the matrix, highest confidence first; raise PlaybookError naming the bad row and field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PlaybookError(f"{path}: cannot be read as YAML: {error}") from None

    rows = document.get("escalation") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows:
        raise PlaybookError(f"{path}: field 'escalation' must be a non-empty list of rules")

    rules = []
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise PlaybookError(f"{path}: rule {index} is not a mapping")
        for field in ("min_confidence", "after", "target", "handle"):
            if field not in row:
                raise PlaybookError(f"{path}: rule {index}: field {field!r} is missing; add it")
        confidence = row["min_confidence"]
        if not isinstance(confidence, int | float) or not 0 <= confidence < 1:
            raise PlaybookError(
                f"{path}: rule {index}: field 'min_confidence': {confidence!r} is not a fraction "
                "from 0 to below 1, such as 0.99"
            )
        try:
            after = parse_duration(row["after"])
        except ValueError as error:
            raise PlaybookError(f"{path}: rule {index}: field 'after': {error}") from None
        handle = str(row["handle"])
        if not handle.startswith("@"):
            raise PlaybookError(
                f"{path}: rule {index}: field 'handle': {handle!r} must start with @, such as @oncall-senior"
            )
        rules.append(EscalationRule(float(confidence), after, str(row["target"]), handle,
                                    bool(row.get("war_room", False)), bool(row.get("pause_on_ack", False))))
    return sorted(rules, key=lambda rule: rule.min_confidence, reverse=True)


def rule_for(matrix: list[EscalationRule], p_value: float) -> EscalationRule:
    """Return the rule for an anomaly of this p-value (confidence = 1 - p)."""
    confidence = 1.0 - p_value
    for rule in matrix:
        # Strictly above: p < 0.01 is "> 99%", and p = 0.01 falls to the next rule.
        if confidence > rule.min_confidence or rule.min_confidence == 0.0:
            return rule
    return matrix[-1]
