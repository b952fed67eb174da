"""Block Kit builders: incident state in, message JSON out. No Slack I/O here."""

from __future__ import annotations

from typing import Any

from bot.analysis import format_number, format_p, format_p_value, format_time
from bot.durations import format_duration
from bot.incident import Incident
from bot.playbooks import Step
from bot.slack.limits import (
    MAX_BLOCKS_PER_MESSAGE,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    truncate,
)

Message = dict[str, Any]

TIER_EMOJI = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":white_circle:"}
STATUS_LABEL = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"}


def incident_card(incident: Incident, *, now: float, budget: float) -> Message:
    """Build the parent message of an incident's thread.

    `budget` is the playbook's total time in seconds for this anomaly kind;
    the card shows the elapsed time against it.
    """
    kind = incident.kind if not incident.shape else f"{incident.kind} ({incident.shape})"
    elapsed = (incident.resolved_at or now) - incident.opened_at
    status = STATUS_LABEL[incident.status]
    if incident.status == "open" and incident.recovered_at:
        status = f"Open, back within baseline since {format_time(incident.recovered_at)}"
    if incident.acknowledged_by:
        status += f" · acknowledged by <@{incident.acknowledged_by}>"

    header = f"{incident.tier.capitalize()} confidence {incident.kind}: {incident.title}"
    fields = [
        f"*Current*\n{format_number(incident.current)} (expected {format_number(incident.expected)})",
        f"*Deviation*\n{incident.deviation:+.2f}σ (peak {incident.peak_deviation:+.2f}σ)",
        f"*p-value*\n{format_p_value(incident.p_value)} {TIER_EMOJI.get(incident.tier, '')} {incident.tier}",
        f"*Type*\n{kind}, {incident.direction} baseline",
        f"*Status*\n{status}",
        f"*Elapsed*\n{format_duration(elapsed)} of {format_duration(budget)} playbook budget",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(header, MAX_HEADER_TEXT)}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": truncate(field, MAX_FIELD_TEXT)} for field in fields],
        },
        {
            "type": "context",
            "elements": [{
                "type": "mrkdwn",
                "text": (
                    f"Incident {incident.id} · monitor `{incident.monitor}` · detector "
                    f"`{incident.detector}` · anomalous since <!date^{int(incident.anomaly_start)}"
                    f"^{{date_short_pretty}} {{time}}|{incident.anomaly_start:.0f}>"
                ),
            }],
        },
    ]
    text = (
        f"{incident.tier} confidence {incident.kind} on {incident.title}: "
        f"{format_number(incident.current)} against {format_number(incident.expected)} "
        f"({incident.deviation:+.2f}σ, {format_p(incident.p_value)})"
    )
    return _message(text, blocks)


def step_message(step: Step, *, body: str, spent: float) -> Message:
    """Build one playbook step as a thread reply: title, budget, time spent and numbers."""
    title = f"*Step {step.id}. {step.title}* · budget {format_duration(step.budget)}"
    title += f" · {format_duration(spent)} since the incident opened"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(title, MAX_SECTION_TEXT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(body, MAX_SECTION_TEXT)}},
    ]
    return _message(f"Step {step.id}. {step.title}: {body}", blocks)


def _message(text: str, blocks: list[dict[str, Any]]) -> Message:
    return {
        "text": truncate(text, MAX_MESSAGE_TEXT),
        "blocks": blocks[:MAX_BLOCKS_PER_MESSAGE],
    }
