"""HTTP endpoints: Slack requests, /healthz and /metrics (Flask, served by gunicorn)."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler

from bot import telemetry  # noqa: F401 - registers the bot's metrics for /metrics
from bot.store import Store

log = logging.getLogger(__name__)


def build_web(*, store: Store, slack_app: App | None) -> Flask:
    """Create the Flask app; Slack routes exist only when Slack is configured.

    Other endpoints (`/alertmanager`, `/events`) are added by their modules.
    """
    web = Flask("anomalybot")

    @web.get("/healthz")
    def healthz() -> tuple[dict, int]:
        try:
            store.ping()
        except redis.RedisError as error:
            log.error("health check: Redis is unreachable: %s", error)
            return {"status": "unhealthy", "redis": "unreachable"}, 503
        return {"status": "ok", "redis": "ok"}, 200

    @web.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    if slack_app is not None:
        handler = SlackRequestHandler(slack_app)

        @web.post("/slack/events")
        def slack_events():
            return handler.handle(request)

    return web
