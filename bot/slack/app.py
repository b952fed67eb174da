"""The Bolt app: the `/anomaly` slash command and the card buttons.

Bolt verifies every request's signature and rejects a timestamp more than
five minutes off. On top of that, a request seen before (the same
signature) is rejected as a replay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import Ack, App, BoltResponse, Respond
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.slack.actions import register_actions
from bot.slack.command_handlers import handle_command
from bot.slack.commands import HELP, CommandError, parse_command
from bot.slack.services import Services

log = logging.getLogger(__name__)

# Bolt rejects requests older than five minutes, so a signature needs
# remembering only a little longer than that.
REPLAY_WINDOW_SECONDS = 10 * 60


def build_app(*, signing_secret: str, client: WebClient, services: Services) -> App:
    """Create the Bolt app. `client` carries the bot token and the Web API base URL."""
    app = App(
        signing_secret=signing_secret,
        client=client,
        token_verification_enabled=False,
        process_before_response=False,
    )
    app.use(_reject_replays(services))

    @app.command("/anomaly")
    def anomaly_command(ack: Ack, command: dict, respond: Respond) -> None:
        text = (command.get("text") or "").strip()
        user = command.get("user_id", "")
        log.info("/anomaly %r from user %s in %s", text, user, command.get("channel_id"))
        try:
            parsed = parse_command(text)
        except CommandError as error:
            ack(error.reply())
            return
        if parsed.verb == "help":
            ack(HELP)
            return
        handle_command(services, parsed, ack=ack, respond=respond, user=user,
                       channel=command.get("channel_id", ""))

    register_actions(app, services)
    return app


def _reject_replays(services: Services) -> Callable:
    def middleware(req: BoltRequest, resp: BoltResponse, next: Callable) -> BoltResponse | None:  # noqa: A002
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        if signature and not services.store.claim_once(f"request:{signature}", ttl=REPLAY_WINDOW_SECONDS):
            log.warning("rejected a replayed request (signature seen before)")
            return BoltResponse(status=401, body="replayed request")
        return next()

    return middleware
