"""Button clicks on incident cards and hypotheses.

Every click is acknowledged at once; the work runs after the ack. A click
is handled once: Slack retries and repeated deliveries of one click are
dropped by its action_ts, and a second click finds the state already
changed. Each change updates the card and leaves a line in the thread.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import lifecycle
from bot.errors import SlackError
from bot.escalation import rule_for
from bot.slack.services import Services

log = logging.getLogger(__name__)

ACTION_PATTERN = re.compile(r"^(incident|hypothesis)_")
CLICK_DEDUPE_SECONDS = 86400.0

# The permission each action needs, as named in the RESOLVE_GROUPS,
# ESCALATE_GROUPS and REJECT_GROUPS settings.
PERMISSION = {
    "incident_resolve": "resolve",
    "incident_not_anomaly": "resolve",
    "incident_escalate": "escalate",
    "incident_war_room": "escalate",
    "hypothesis_reject": "reject",
}


def register_actions(app: App, services: Services) -> None:
    @app.action(ACTION_PATTERN)
    def on_action(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        handle_action(services, body=body, action=action, respond=respond)


def handle_action(services: Services, *, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
    user = body["user"]["id"]
    action_id = action["action_id"]
    value = action.get("value") or (action.get("selected_option") or {}).get("value", "")
    click = f"click:{user}:{action_id}:{action.get('action_ts', '')}:{value}"
    if not services.store.claim_once(click, ttl=CLICK_DEDUPE_SECONDS):
        log.info("click %s already handled; ignoring the repeat", click)
        return

    permission = PERMISSION.get(action_id)
    if permission:
        allowed, reason = services.permissions.allowed(permission, user)
        if not allowed:
            log.info("user %s may not %s (action %s on %s)", user, permission, action_id, value)
            respond(text=reason, response_type="ephemeral", replace_original=False)
            return

    incident_id, _, argument = value.partition(":")
    now = services.clock()
    handler = _HANDLERS.get(action_id)
    if handler is None:
        log.warning("unknown action %s from %s", action_id, user)
        return
    try:
        message = handler(services, incident_id=incident_id, argument=argument, user=user, now=now)
    except SlackError as error:
        log.error("action %s on incident %s by %s failed: %s", action_id, incident_id, user, error)
        message = f"That failed: Slack returned `{error.error}`. Try again in a minute."
    if message:
        respond(text=message, response_type="ephemeral", replace_original=False)


def _publish(services: Services, outcome: lifecycle.Outcome) -> str | None:
    """Update the card and add the thread line when the state changed; else return the reason."""
    if outcome.incident is None or not outcome.changed:
        return outcome.line
    services.notifier.refresh_card(outcome.incident, deliver=False)
    services.notifier.note(outcome.incident, outcome.line)
    return None


def _ack(services, *, incident_id, argument, user, now):
    return _publish(services, lifecycle.acknowledge(services.store, incident_id, user=user, now=now))


def _resolve(services, *, incident_id, argument, user, now):
    return _publish(services, lifecycle.resolve(services.store, incident_id, user=user, now=now))


def _not_anomaly(services, *, incident_id, argument, user, now):
    return _publish(services, lifecycle.resolve(services.store, incident_id, user=user, now=now, not_anomaly=True))


def _snooze(services, *, incident_id, argument, user, now):
    try:
        seconds = float(argument)
    except ValueError:
        return f"The snooze duration {argument!r} is not a number of seconds."
    return _publish(services, lifecycle.snooze(services.store, incident_id, user=user, now=now, seconds=seconds))


def _escalate(services, *, incident_id, argument, user, now):
    incident = services.store.get_incident(incident_id)
    if incident is None:
        return f"Incident {incident_id} was not found."
    if incident.status == "resolved":
        return f"Incident {incident_id} is resolved; there is nobody to escalate to."
    if not services.store.claim_once(f"escalate-now:{incident_id}", ttl=60):
        return "This incident was escalated less than a minute ago."

    rule = rule_for(services.matrix, incident.p_value)
    mention = services.responder.mention(rule.handle)
    incident = services.store.update_incident(
        incident_id, lambda current: current.model_copy(update={
            "escalation_level": current.escalation_level + 1, "updated_at": now}),
    )
    services.notifier.refresh_card(incident, deliver=False)
    services.notifier.note(incident, f"<@{user}> escalated the incident to the {rule.target}: {mention}.")
    return None


def _war_room(services, *, incident_id, argument, user, now):
    incident = services.store.get_incident(incident_id)
    if incident is None:
        return f"Incident {incident_id} was not found."
    opened = services.responder.open_war_room(incident, reason="opened from the card", opened_by=user)
    if opened is None:
        return "Slack did not create the war room; the error is in the bot's log. Try again in a minute."
    channel, created = opened
    if not created:
        return f"The war room for incident {incident_id} is <#{channel}>."
    return None


def _hypothesis(confirm: bool):
    def handler(services, *, incident_id, argument, user, now):
        outcome = lifecycle.decide_hypothesis(services.store, incident_id, argument, user=user, now=now,
                                              confirm=confirm)
        if outcome.changed and outcome.incident is not None:
            services.notifier.refresh_hypotheses(outcome.incident)
        return _publish(services, outcome)

    return handler


_HANDLERS = {
    "incident_ack": _ack,
    "incident_resolve": _resolve,
    "incident_not_anomaly": _not_anomaly,
    "incident_snooze": _snooze,
    "incident_escalate": _escalate,
    "incident_war_room": _war_room,
    "hypothesis_confirm": _hypothesis(True),
    "hypothesis_reject": _hypothesis(False),
}
