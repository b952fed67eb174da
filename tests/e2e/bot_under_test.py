"""The whole bot wired as the service wires it, serving HTTP on loopback.

Real Redis, a real Prometheus, the Slack emulator, and the Flask + Bolt web
app in a thread, with a poller and notifier built from the same parts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import redis
from slack_sdk import WebClient
from werkzeug.serving import make_server

from bot.alertmanager import AlertmanagerReceiver, register_alertmanager
from bot.analysis import STEP_FIELDS
from bot.escalation import load_matrix
from bot.events_api import register_events
from bot.monitors import Monitor, parse_monitors
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.poller import Poller
from bot.rootcause import analyze
from bot.settings import PLAYBOOKS_DIR
from bot.slack.app import build_app
from bot.slack.gateway import WebGateway
from bot.slack.permissions import Permissions
from bot.slack.services import Services
from bot.sources.prometheus import PrometheusSource
from bot.store import Store
from bot.web import build_web
from tests.harness.processes import LOOPBACK

SIGNING_SECRET = "e2e-signing-secret"
ALERTMANAGER_TOKEN = "e2e-alertmanager-token"
EVENTS_SECRET = "e2e-events-secret"


@dataclass
class BotUnderTest:
    url: str
    store: Store
    notifier: Notifier
    poller: Poller
    services: Services
    monitors: dict[str, Monitor]
    _server: object

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_bot(*, redis_url: str, prometheus_url: str, slack, monitors_yaml: str,
              groups: dict[str, list[str]] | None = None, alertmanager_channel: str = "#alerts-api") -> BotUnderTest:
    store = Store(redis.Redis.from_url(redis_url))
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=lambda _: None)
    monitors = {m.name: m for m in parse_monitors(monitors_yaml).monitors}
    playbooks = load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS)
    notifier = Notifier(store=store, gateway=gateway, playbooks=playbooks, monitors=monitors)
    sources = {"prometheus": PrometheusSource(prometheus_url)}
    poller = Poller(store=store, sources=sources, notifier=notifier,
                    matrix=load_matrix(PLAYBOOKS_DIR / "escalation.yml"),
                    rootcause=lambda incident, now: analyze(store=store, sources=sources, monitors=monitors,
                                                            incident=incident, now=now))
    services = Services(
        store=store, notifier=notifier, gateway=gateway, sources=sources, monitors=monitors,
        matrix=load_matrix(PLAYBOOKS_DIR / "escalation.yml"), permissions=Permissions(gateway, groups or {}),
    )
    app = build_app(signing_secret=SIGNING_SECRET,
                    client=WebClient(token=slack.token, base_url=slack.base_url), services=services)
    web = build_web(store=store, slack_app=app)
    receiver = AlertmanagerReceiver(store=store, notifier=notifier, channel=alertmanager_channel)
    register_alertmanager(web, receiver, token=ALERTMANAGER_TOKEN, clock=time.time)
    register_events(web, store=store, secret=EVENTS_SECRET)
    server = make_server(LOOPBACK, 0, web, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return BotUnderTest(url=f"http://{LOOPBACK}:{server.server_port}", store=store, notifier=notifier,
                        poller=poller, services=services, monitors=monitors, _server=server)
