"""Long-running processes: the web process, the worker and both in one (`run`)."""

from __future__ import annotations

import logging
import signal
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from slack_sdk import WebClient
from werkzeug.serving import make_server

from bot.alertmanager import AlertmanagerReceiver, register_alertmanager
from bot.events_api import register_events
from bot.runtime import Runtime, build_runtime
from bot.scheduler import schedule_delivery, schedule_digest, schedule_escalations, schedule_monitors
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.permissions import Permissions
from bot.slack.services import Services
from bot.web import build_web

log = logging.getLogger(__name__)


def create_web(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app; gunicorn calls this as `bot.service:create_web()`."""
    settings = settings or Settings()
    runtime = runtime or build_runtime(settings)
    slack_app = None
    if settings.slack_bot_token and settings.slack_signing_secret:
        client = WebClient(token=settings.slack_bot_token.get_secret_value(),
                           base_url=settings.slack_api_url)
        slack_app = build_app(
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            client=client, services=build_services(runtime),
        )
        if settings.slack_app_token:
            start_socket_mode(slack_app, settings.slack_app_token.get_secret_value())
    else:
        log.warning("SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is not set; Slack requests are not served")
    web = build_web(store=runtime.store, slack_app=slack_app)
    receiver = AlertmanagerReceiver(store=runtime.store, notifier=runtime.notifier,
                                    channel=settings.alertmanager_channel, on_opened=runtime.responder.on_opened,
                                    clock=runtime.clock)
    token = settings.alertmanager_token.get_secret_value() if settings.alertmanager_token else None
    register_alertmanager(web, receiver, token=token, clock=time.time)
    secret = settings.events_secret.get_secret_value() if settings.events_secret else None
    register_events(web, store=runtime.store, secret=secret)
    return web


def build_services(runtime: Runtime) -> Services:
    """Build the Slack listeners' services from the runtime."""
    gateway = runtime.gateway
    return Services(
        store=runtime.store, notifier=runtime.notifier, gateway=gateway, sources=runtime.sources,
        monitors={monitor.name: monitor for monitor in runtime.monitors}, matrix=runtime.matrix,
        permissions=Permissions(gateway, runtime.settings.permission_groups()),
        default_source="prometheus" if "prometheus" in runtime.sources else next(iter(runtime.sources), "prometheus"),
        responder=runtime.responder,
    )


def start_socket_mode(slack_app, app_token: str):
    """Connect the Bolt app to Slack over Socket Mode; return the handler (call `close()` to stop)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(slack_app, app_token)
    handler.connect()
    log.info("connected to Slack in Socket Mode")
    return handler


def start_worker(runtime: Runtime) -> BackgroundScheduler:
    """Start the scheduler that polls every monitor at its interval."""
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_monitors(scheduler, runtime.poller, runtime.monitors)
    schedule_delivery(scheduler, runtime.notifier)
    schedule_escalations(scheduler, runtime.clock)
    settings = runtime.settings
    if settings.digest_channel:
        schedule_digest(scheduler, store=runtime.store, gateway=runtime.gateway, channel=settings.digest_channel,
                        at=settings.digest_time, timezone=settings.digest_timezone)
    scheduler.start()
    log.info("worker started: %d monitors", len(runtime.monitors))
    return scheduler


def run_worker(settings: Settings) -> int:
    """Run the scheduler until SIGTERM or SIGINT."""
    runtime = build_runtime(settings)
    scheduler = start_worker(runtime)
    _wait_for_stop()
    scheduler.shutdown(wait=True)
    log.info("worker stopped")
    return 0


def run_all(settings: Settings) -> int:
    """Run the web endpoints and the scheduler in one process."""
    runtime = build_runtime(settings)
    web = create_web(settings, runtime)
    server = make_server(settings.host, settings.port, web, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    thread.start()
    log.info("web listening on %s:%d", settings.host, settings.port)

    scheduler = start_worker(runtime)
    _wait_for_stop()
    scheduler.shutdown(wait=True)
    server.shutdown()
    log.info("bot stopped")
    return 0


def _wait_for_stop() -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
