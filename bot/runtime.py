"""Build the bot's parts from settings: Redis store, sources, Slack gateway, poller."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from slack_sdk import WebClient

from bot.analysis import STEP_FIELDS
from bot.errors import ConfigError
from bot.escalation import EscalationRule, load_matrix
from bot.escalation_clock import EscalationClock
from bot.monitors import Monitor, load_monitors
from bot.notifier import Notifier
from bot.playbooks import Playbook, load_playbooks
from bot.poller import Poller
from bot.responder import Responder
from bot.rootcause import analyze
from bot.settings import Settings
from bot.severity import load_policy
from bot.slack.gateway import Gateway, WebGateway
from bot.sources.base import Source
from bot.sources.registry import build_sources, unconfigured_sources
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything one bot process runs with."""

    settings: Settings
    monitors: list[Monitor]
    playbooks: dict[str, Playbook]
    store: Store
    sources: dict[str, Source]
    gateway: Gateway
    notifier: Notifier
    poller: Poller
    matrix: list[EscalationRule]
    responder: Responder
    clock: EscalationClock


def build_runtime(settings: Settings, *, gateway: Gateway | None = None) -> Runtime:
    """Load monitors and playbooks and connect the store, sources and Slack."""
    playbooks = load_playbooks(settings.playbooks_dir, fields=STEP_FIELDS)
    matrix = load_matrix(settings.playbooks_dir / "escalation.yml")
    policy = load_policy(settings.playbooks_dir / "severity.yml")
    monitors_file = load_monitors(settings.monitors_file)
    monitors = monitors_file.monitors
    unknown = [m for m in monitors if m.playbook not in playbooks]
    if unknown:
        raise ConfigError(str(settings.monitors_file), [
            f"monitor {m.name!r}: field 'playbook': {m.playbook!r} is not a playbook; "
            f"use one of {', '.join(sorted(playbooks))}" for m in unknown
        ])

    store = Store(redis.Redis.from_url(settings.redis_url))
    try:
        store.ping()
    except redis.RedisError as error:
        options = store.redis.connection_pool.connection_kwargs
        log.error("Redis at %s:%s is unreachable at start (%s); the bot keeps trying and /healthz reports it",
                  options.get("host"), options.get("port"), type(error).__name__)
    sources = build_sources(settings, monitors_file.sources, redis_client=store.redis)

    if gateway is None:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        if token is None:
            raise ConfigError("environment", ["SLACK_BOT_TOKEN is missing; set it to the bot's xoxb- token"])
        gateway = WebGateway(WebClient(token=token, base_url=settings.slack_api_url))

    for problem in unconfigured_sources(monitors, sources):
        log.error("%s; its polls will fail until then", problem)

    notifier = Notifier(store=store, gateway=gateway, playbooks=playbooks,
                        monitors={monitor.name: monitor for monitor in monitors})
    responder = Responder(store=store, notifier=notifier, gateway=gateway, policy=policy,
                          monitors={monitor.name: monitor for monitor in monitors})
    clock = EscalationClock(store, matrix, escalate=responder.escalate)
    monitor_map = {monitor.name: monitor for monitor in monitors}

    def rootcause(incident, now):
        monitor = monitor_map.get(incident.monitor)
        return analyze(store=store, sources=sources, monitors=monitor_map, incident=incident, now=now,
                       dimension_labels=monitor.dimensions if monitor else None)

    poller = Poller(store=store, sources=sources, notifier=notifier, matrix=matrix, policy=policy,
                    responder=responder, clock=clock, rootcause=rootcause)
    log.info("runtime ready: %d monitors, %d playbooks, sources %s",
             len(monitors), len(playbooks), ", ".join(sorted(sources)) or "none")
    return Runtime(settings=settings, monitors=monitors, playbooks=playbooks, store=store,
                   sources=sources, gateway=gateway, notifier=notifier, poller=poller, matrix=matrix,
                   responder=responder, clock=clock)
