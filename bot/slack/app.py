"""The Bolt app: the `/anomaly` slash command and, later, the card buttons."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.analysis import format_number, format_p
from bot.store import Store

log = logging.getLogger(__name__)

HELP = """\
*`/anomaly` commands*
• `/anomaly status`: list the open incidents
• `/anomaly help`: show this message
Example: `/anomaly status`"""


def build_app(*, signing_secret: str, client: WebClient, store: Store) -> App:
    """Create the Bolt app; Bolt verifies every request's signature and timestamp.

    `client` carries the bot token and the Web API base URL.
    """
    app = App(
        signing_secret=signing_secret,
        client=client,
        token_verification_enabled=False,
        process_before_response=False,
    )

    @app.command("/anomaly")
    def anomaly_command(ack: Ack, command: dict, respond: Respond) -> None:
        text = (command.get("text") or "").strip()
        verb = text.split()[0].lower() if text else "help"
        log.info("/anomaly %s from user %s in %s", verb, command.get("user_id"), command.get("channel_id"))

        if verb == "help":
            ack(HELP)
        elif verb == "status":
            ack(status_text(store))
        else:
            ack(
                f"I understood `/anomaly {text}`, but `{verb}` is not a command I know.\n\n{HELP}"
            )

    return app


def status_text(store: Store) -> str:
    """List open incidents, newest last, one line each."""
    lines = []
    for incident_id in store.open_incident_ids():
        incident = store.get_incident(incident_id)
        if incident is None:
            continue
        lines.append(
            f"• *{incident.id}* {incident.tier} {incident.kind} on `{incident.title}`: "
            f"{format_number(incident.current)} vs {format_number(incident.expected)} "
            f"({incident.deviation:+.2f}σ, {format_p(incident.p_value)}), {incident.status}"
        )
    if not lines:
        return "No open incidents."
    return f"*{len(lines)} open incident(s)*\n" + "\n".join(lines)
