"""Carry out parsed `/anomaly` commands: acknowledge at once, then do the slow work."""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond

from bot import lifecycle, silences
from bot.analysis import format_number, format_p, format_time
from bot.digest import build_digest, digest_text
from bot.errors import BotError, SlackError
from bot.slack.commands import Command
from bot.slack.services import Services
from bot.triage import triage, triage_incident

log = logging.getLogger(__name__)


def handle_command(services: Services, command: Command, *, ack: Ack, respond: Respond, user: str,
                   channel: str) -> None:
    if command.verb == "status":
        ack(status_text(services))
        return
    if command.verb in ("ack", "resolve"):
        ack(f"Working on incident {command.incident_id}…")
        _change(services, command, respond=respond, user=user)
        return
    if command.verb == "silence":
        _silence(services, command, ack=ack, respond=respond, user=user)
        return
    if command.verb == "unsilence":
        _unsilence(services, command, ack=ack, respond=respond)
        return
    if command.verb == "digest":
        ack()
        digest = build_digest(services.store, end=services.clock())
        respond(text=digest_text(digest), response_type="in_channel")
        return
    if command.verb == "triage":
        ack("Running the detection now; the analysis follows in a moment.")
        _triage(services, command, respond=respond)


def status_text(services: Services) -> str:
    """List open incidents, oldest first, one line each."""
    lines = []
    for incident_id in services.store.open_incident_ids():
        incident = services.store.get_incident(incident_id)
        if incident is None:
            continue
        lines.append(
            f"• *{incident.id}* {incident.severity} {incident.tier} {incident.kind} on `{incident.title}`: "
            f"{format_number(incident.current)} vs {format_number(incident.expected)} "
            f"({incident.deviation:+.2f}σ, {format_p(incident.p_value)}), {incident.status}"
        )
    active = silences.active_silences(services.store, now=services.clock())
    if not lines:
        text = "No open incidents."
    else:
        text = f"*{len(lines)} open incident(s)*\n" + "\n".join(lines)
    if active:
        text += "\n*Silences*\n" + "\n".join(
            f"• `{s.target}` until {format_time(s.until)} ({s.reason or 'no reason given'}), id {s.id}"
            for s in active
        )
    return text


def _change(services: Services, command: Command, *, respond: Respond, user: str) -> None:
    now = services.clock()
    if command.verb == "resolve":
        allowed, reason = services.permissions.allowed("resolve", user)
        if not allowed:
            respond(text=reason, response_type="ephemeral")
            return
        outcome = lifecycle.resolve(services.store, command.incident_id, user=user, now=now)
    else:
        outcome = lifecycle.acknowledge(services.store, command.incident_id, user=user, now=now)

    if outcome.incident is not None and outcome.changed:
        services.notifier.refresh_card(outcome.incident, deliver=False)
        services.notifier.note(outcome.incident, outcome.line)
        respond(text=f"Done: {outcome.line}", response_type="ephemeral")
    else:
        respond(text=outcome.line, response_type="ephemeral")


def _silence(services: Services, command: Command, *, ack: Ack, respond: Respond, user: str) -> None:
    target = command.target or ""
    monitor = None
    matchers: dict[str, str] = {}
    if silences.looks_like_selector(target):
        try:
            matchers = silences.parse_selector(target)
        except ValueError as error:
            ack(f"I understood `/anomaly {command.text}`, but {error}.\n"
                "For example: `/anomaly silence {service=\"api\"} 2h deploy in progress`.")
            return
    elif target in services.monitors:
        monitor = target
    else:
        known = ", ".join(sorted(services.monitors)) or "none configured"
        ack(f"I understood `/anomaly {command.text}`, but `{target}` is neither a monitor nor a selector. "
            f"Monitors: {known}. For example: `/anomaly silence api-cpu 2h deploy in progress`.")
        return

    now = services.clock()
    silence = silences.add_silence(services.store, target=target, monitor=monitor, matchers=matchers,
                                   until=now + command.duration, reason=command.reason, user=user, now=now)
    ack()
    respond(text=f"<@{user}> silenced `{target}` until {format_time(silence.until)}"
                 + (f": {command.reason}" if command.reason else "") + f" (silence id {silence.id}).",
            response_type="in_channel")


def _unsilence(services: Services, command: Command, *, ack: Ack, respond: Respond) -> None:
    removed = silences.remove_silences(services.store, target=command.target or "", now=services.clock())
    if not removed:
        ack(f"No active silence matches `{command.target}`. `/anomaly status` lists the active silences.")
        return
    ack()
    respond(text=f"Silence on `{command.target}` ended; alerts resume.", response_type="in_channel")


def _triage(services: Services, command: Command, *, respond: Respond) -> None:
    now = services.clock()
    try:
        if command.incident_id:
            incident = services.store.get_incident(command.incident_id)
            monitor = services.monitors.get(incident.monitor) if incident else None
            if incident is None or monitor is None:
                respond(text=f"Incident {command.incident_id} was not found; `/anomaly status` lists open incidents.",
                        response_type="ephemeral")
                return
            result = triage_incident(sources=services.sources, incident=incident, monitor=monitor,
                                     window=command.duration, now=now)
        else:
            result = triage(sources=services.sources, query=command.query or "",
                            source_name=services.default_source, window=command.duration or 300.0, now=now)
    except BotError as error:
        log.error("triage of %r failed: %s", command.query or command.incident_id, error)
        respond(text=f"Triage failed: {error}", response_type="ephemeral")
        return

    text = result.title + "\n" + "\n".join(result.lines)
    try:
        respond(text=text, response_type="in_channel",
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}])
    except SlackError as error:
        log.error("triage result not posted: %s", error)
