"""Block Kit builders: incident state in, message JSON out. No Slack I/O here.

Action ids of the card's buttons (handled in bot/slack/actions.py):

    incident_ack, incident_resolve, incident_snooze (a select of durations),
    incident_escalate, incident_war_room, incident_not_anomaly,
    hypothesis_confirm, hypothesis_reject (value "<incident id>:<hypothesis id>")
"""

from __future__ import annotations

from typing import Any

from bot.analysis import format_number, format_p, format_p_value, format_time
from bot.durations import format_duration
from bot.incident import Hypothesis, Incident
from bot.playbooks import Step
from bot.slack.limits import (
    MAX_BLOCKS_PER_MESSAGE,
    MAX_BUTTON_TEXT,
    MAX_CONTEXT_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    split_text,
    truncate,
)

Message = dict[str, Any]

TIER_EMOJI = {"high": ":red_circle:", "medium": ":large_orange_circle:", "low": ":white_circle:"}
STATUS_LABEL = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"}
SNOOZE_CHOICES = (("30 minutes", "1800"), ("1 hour", "3600"), ("4 hours", "14400"), ("24 hours", "86400"))


def _mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, MAX_BUTTON_TEXT)},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def incident_card(incident: Incident, *, now: float, budget: float) -> Message:
    """Build the parent message of an incident's thread.

    `budget` is the playbook's total time in seconds for this anomaly kind;
    the card shows the elapsed time against it.
    """
    kind = incident.kind if not incident.shape else f"{incident.kind} ({incident.shape})"
    elapsed = (incident.resolved_at or now) - incident.opened_at

    header = f"{incident.severity} · {incident.tier.capitalize()} confidence {incident.kind}: {incident.title}"
    fields = [
        f"*Current*\n{format_number(incident.current)} (baseline {format_number(incident.expected)})",
        f"*Deviation*\n{incident.deviation:+.2f}σ (peak {incident.peak_deviation:+.2f}σ)",
        f"*p-value (strongest)*\n{format_p_value(incident.p_value)} {TIER_EMOJI.get(incident.tier, '')} "
        f"{incident.tier}",
        f"*Type*\n{kind}, {incident.direction} baseline",
        f"*Severity*\n{incident.severity}",
        f"*Status*\n{_status(incident, now)}",
        f"*Elapsed*\n{format_duration(elapsed)} of {format_duration(budget)} playbook budget",
        f"*Playbook step*\n{incident.current_step}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(header, MAX_HEADER_TEXT)}},
        {"type": "section", "fields": [_mrkdwn(field, MAX_FIELD_TEXT) for field in fields]},
    ]

    context = (
        f"Incident {incident.id} · monitor `{incident.monitor}` · detector `{incident.detector}` · "
        f"anomalous since <!date^{int(incident.anomaly_start)}^{{date_short_pretty}} {{time}}|"
        f"{format_time(incident.anomaly_start)}>"
    )
    if incident.war_room:
        context += f" · war room <#{incident.war_room}>"
    blocks.append({"type": "context", "elements": [_mrkdwn(context, MAX_CONTEXT_TEXT)]})

    if incident.status != "resolved":
        blocks.append({"type": "actions", "block_id": f"incident:{incident.id}", "elements": _actions(incident)})

    # The deviation is the latest evaluation's, the p-value the strongest so far, as on the card.
    text = (
        f"{incident.severity} {incident.tier} confidence {incident.kind} on {incident.title}: "
        f"now {format_number(incident.current)} against {format_number(incident.expected)} "
        f"({incident.deviation:+.2f}σ), strongest {format_p(incident.p_value)}"
    )
    return _message(text, blocks)


def _status(incident: Incident, now: float) -> str:
    status = STATUS_LABEL[incident.status]
    if incident.status == "resolved" and incident.resolution == "not_anomaly":
        status += " (not an anomaly)"
    if incident.resolved_by:
        status += f" by <@{incident.resolved_by}>"
    elif incident.acknowledged_by:
        status += f" by <@{incident.acknowledged_by}>"
    if incident.status != "resolved" and incident.recovered_at:
        status += f", back within baseline since {format_time(incident.recovered_at)}"
    if incident.status != "resolved" and incident.snoozed_until and incident.snoozed_until > now:
        status += f", snoozed until {format_time(incident.snoozed_until)}"
    if incident.flapping:
        status += ", flapping (repeated openings are not posted again)"
    if incident.grouped:
        status += f", {len(incident.grouped)} more series grouped here"
    if incident.escalated_at:
        status += f", escalated at {format_time(incident.escalated_at)}"
    return status


def _actions(incident: Incident) -> list[dict[str, Any]]:
    value = incident.id
    elements = []
    if incident.status == "open":
        elements.append(_button("Acknowledge", "incident_ack", value, "primary"))
    elements += [
        _button("Resolve", "incident_resolve", value),
        {
            "type": "static_select",
            "action_id": "incident_snooze",
            "placeholder": {"type": "plain_text", "text": "Snooze"},
            "options": [
                {"text": {"type": "plain_text", "text": label}, "value": f"{value}:{seconds}"}
                for label, seconds in SNOOZE_CHOICES
            ],
        },
        _button("Escalate now", "incident_escalate", value, "danger"),
    ]
    if not incident.war_room:
        elements.append(_button("Open war room", "incident_war_room", value))
    elements.append(_button("Not an anomaly", "incident_not_anomaly", value))
    return elements


def step_message(step: Step, *, body: str, spent: float) -> Message:
    """Build one playbook step as a thread reply: title, budget, time spent and numbers."""
    title = f"*Step {step.id}. {step.title}* · budget {format_duration(step.budget)}"
    title += f" · {format_duration(spent)} since the incident opened"
    blocks = [{"type": "section", "text": _mrkdwn(title)}]
    for part in split_text(body, MAX_SECTION_TEXT)[: MAX_BLOCKS_PER_MESSAGE - 1]:
        blocks.append({"type": "section", "text": _mrkdwn(part)})
    return _message(f"Step {step.id}. {step.title}: {body}", blocks)


def hypotheses_message(incident: Incident) -> Message:
    """Build the hypotheses reply: proposed ones with Confirm and Reject buttons, decided ones marked."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn("*Root-cause hypotheses*, most likely first")}
    ]
    shown = 0
    for hypothesis in incident.hypotheses:
        if hypothesis.status == "proposed" and shown >= 3:
            continue
        blocks.extend(_hypothesis_blocks(incident, hypothesis))
        shown += hypothesis.status == "proposed"
    lines = "; ".join(h.title for h in incident.hypotheses[:3])
    return _message(f"Root-cause hypotheses for incident {incident.id}: {lines}", blocks)


def _hypothesis_blocks(incident: Incident, hypothesis: Hypothesis) -> list[dict[str, Any]]:
    text = f"*{hypothesis.title}*\n{hypothesis.evidence}"
    if hypothesis.query:
        text += f"\nValidate: `{hypothesis.query}`"
    if hypothesis.status != "proposed":
        text += f"\n_{hypothesis.status} by <@{hypothesis.decided_by}>_"
        return [{"type": "section", "text": _mrkdwn(text)}]
    value = f"{incident.id}:{hypothesis.id}"
    return [
        {"type": "section", "text": _mrkdwn(text)},
        {"type": "actions", "block_id": f"hypothesis:{value}", "elements": [
            _button("Confirm", "hypothesis_confirm", value, "primary"),
            _button("Reject", "hypothesis_reject", value),
        ]},
    ]


def note_message(text: str) -> Message:
    """Build a plain line for the thread, such as who acknowledged the incident."""
    return _message(text, [{"type": "context", "elements": [_mrkdwn(text, MAX_CONTEXT_TEXT)]}])


def _message(text: str, blocks: list[dict[str, Any]]) -> Message:
    return {
        "text": truncate(text, MAX_MESSAGE_TEXT),
        "blocks": blocks[:MAX_BLOCKS_PER_MESSAGE],
    }
