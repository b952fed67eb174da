"""Assemble the bot's poll pipeline against real servers, as the service does."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from slack_sdk import WebClient

from bot.analysis import STEP_FIELDS
from bot.escalation import load_matrix
from bot.monitors import Monitor, parse_monitors
from bot.notifier import Notifier
from bot.playbooks import load_playbooks
from bot.poller import Poller
from bot.settings import PLAYBOOKS_DIR
from bot.slack.gateway import WebGateway
from bot.sources.base import Source
from bot.store import Store


@dataclass
class Pipeline:
    store: Store
    poller: Poller
    monitors: dict[str, Monitor]
    gateway: WebGateway
    notifier: Notifier


def build_pipeline(
    *, redis_url: str, sources: dict[str, Source], slack, monitors_yaml: str
) -> Pipeline:
    """Build a fresh pipeline: a new process would build exactly this from its settings."""
    store = Store(redis.Redis.from_url(redis_url))
    gateway = WebGateway(WebClient(token=slack.token, base_url=slack.base_url), sleep=lambda _: None)
    playbooks = load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS)
    monitors = {monitor.name: monitor for monitor in parse_monitors(monitors_yaml).monitors}
    notifier = Notifier(store=store, gateway=gateway, playbooks=playbooks, monitors=monitors)
    poller = Poller(store=store, sources=sources, notifier=notifier,
                    matrix=load_matrix(PLAYBOOKS_DIR / "escalation.yml"))
    return Pipeline(store=store, poller=poller, monitors=monitors, gateway=gateway, notifier=notifier)
