"""Load debugging playbooks from YAML and check them before the bot starts.

A playbook is data: changing a step, a budget or a wording needs no code
change. A malformed file raises PlaybookError naming the file, the step and
the field.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.durations import parse_duration
from bot.errors import PlaybookError

ANOMALY_KINDS = ("spike", "trend", "oscillation", "drop")
CONDITIONS = {
    "kind": ANOMALY_KINDS,
    "tier": ("high", "medium", "low"),
    "severity": ("P0", "P1", "P2"),
}


@dataclass(frozen=True)
class Step:
    """One step of a playbook; `budget` in seconds."""

    id: str
    title: str
    budget: float
    text: str
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    auto: bool = False

    def applies_to(self, kind: str, *, tier: str = "high", severity: str = "P2") -> bool:
        """Whether every `when` condition holds for an anomaly of this kind, tier and severity."""
        facts = {"kind": kind, "tier": tier, "severity": severity}
        return all(facts[name] in allowed for name, allowed in self.when)

    def render(self, fields: Mapping[str, str]) -> str:
        return self.text.format_map(fields).strip()


@dataclass(frozen=True)
class Playbook:
    """A named flow of steps."""

    name: str
    title: str
    steps: tuple[Step, ...]
    path: str

    def steps_for(self, kind: str, *, tier: str = "high", severity: str = "P2") -> list[Step]:
        return [step for step in self.steps if step.applies_to(kind, tier=tier, severity=severity)]

    def budget_for(self, kind: str, *, tier: str = "high", severity: str = "P2") -> float:
        """Seconds the flow allows in all for an anomaly of this kind, tier and severity."""
        return sum(step.budget for step in self.steps_for(kind, tier=tier, severity=severity))


def load_playbooks(directory: Path, *, fields: frozenset[str]) -> dict[str, Playbook]:
    """Load every `*.yml` playbook in `directory`; `fields` are the template fields allowed."""
    playbooks: dict[str, Playbook] = {}
    for path in sorted(directory.glob("*.yml")):
        document = _read(path)
        if "steps" not in document:
            continue
        playbook = _parse(path, document, fields)
        playbooks[playbook.name] = playbook

    if not playbooks:
        raise PlaybookError(f"{directory}: no playbook found; add a YAML file with 'steps:'")
    return playbooks


def _read(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PlaybookError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise PlaybookError(f"{path}: expected a mapping with 'name' and 'steps' at the top")
    return document


def _parse(path: Path, document: dict, fields: frozenset[str]) -> Playbook:
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise PlaybookError(f"{path}: field 'name' is missing; add the playbook's name")

    raw_steps = document.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PlaybookError(f"{path}: field 'steps' must be a non-empty list of steps")

    steps = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_steps, start=1):
        step = _parse_step(path, index, raw, fields)
        if step.id in seen:
            raise PlaybookError(f"{path}: step {step.id!r}: field 'id' repeats; give each step its own id")
        seen.add(step.id)
        steps.append(step)

    return Playbook(name=name, title=str(document.get("title", name)), steps=tuple(steps), path=str(path))


def _parse_step(path: Path, index: int, raw: object, fields: frozenset[str]) -> Step:
    if not isinstance(raw, dict):
        raise PlaybookError(f"{path}: step {index} is not a mapping; write it as 'id: ..., title: ...'")

    label = f"step {raw.get('id', index)!r}"
    for required in ("id", "title", "budget", "text"):
        if raw.get(required) in (None, ""):
            raise PlaybookError(f"{path}: {label}: field {required!r} is missing; add it")

    try:
        budget = parse_duration(raw["budget"])
    except ValueError as error:
        raise PlaybookError(f"{path}: {label}: field 'budget': {error}") from None

    when = _parse_when(path, label, raw.get("when"))

    post = raw.get("post")
    if post not in (None, "auto"):
        raise PlaybookError(f"{path}: {label}: field 'post': {post!r} is not allowed; use 'auto' or leave it out")

    text = str(raw["text"])
    _check_template(path, label, text, fields)
    return Step(
        id=str(raw["id"]), title=str(raw["title"]), budget=budget, text=text,
        when=when, auto=post == "auto",
    )


def _parse_when(path: Path, label: str, raw: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Read `when: spike` (a kind) or `when: {kind: [spike, drop], tier: high, severity: P0}`."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, dict):
        raise PlaybookError(f"{path}: {label}: field 'when' must be a kind or a mapping such as {{tier: high}}")

    conditions = []
    for name, value in raw.items():
        if name not in CONDITIONS:
            raise PlaybookError(
                f"{path}: {label}: field 'when.{name}' is not a condition; use {', '.join(CONDITIONS)}"
            )
        values = tuple(value) if isinstance(value, list) else (value,)
        for item in values:
            if item not in CONDITIONS[name]:
                noun = "an anomaly kind" if name == "kind" else f"a {name}"
                raise PlaybookError(
                    f"{path}: {label}: field 'when': {item!r} is not {noun}; use one of {', '.join(CONDITIONS[name])}"
                )
        conditions.append((name, values))
    return tuple(conditions)


def _check_template(path: Path, label: str, text: str, fields: frozenset[str]) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise PlaybookError(f"{path}: {label}: field 'text' is not a valid template: {error}") from None

    for _, field_name, spec, _ in parsed:
        if field_name is None:
            continue
        if field_name not in fields:
            raise PlaybookError(
                f"{path}: {label}: field 'text' uses {{{field_name}}}, which the bot does not "
                f"compute; use one of {', '.join(sorted(fields))}"
            )
        if spec:
            raise PlaybookError(
                f"{path}: {label}: field 'text': {{{field_name}:{spec}}} has a format spec; "
                "the bot formats numbers itself, write {" + field_name + "}"
            )
