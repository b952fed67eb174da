"""Build the bot's parts from settings: Redis store, sources, Slack gateway, poller."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import httpx
import redis
from slack_sdk import WebClient

from bot.analysis import STEP_FIELDS
from bot.errors import ConfigError
from bot.escalation import EscalationRule, load_matrix
from bot.monitors import Monitor, SourceConfig, load_monitors
from bot.notifier import Notifier
from bot.playbooks import Playbook, load_playbooks
from bot.poller import Poller
from bot.settings import Settings
from bot.slack.gateway import Gateway, WebGateway
from bot.sources.base import Source
from bot.sources.prometheus import PrometheusSource
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


def build_sources(settings: Settings, declared: dict[str, SourceConfig] | None = None) -> dict[str, Source]:
    """Create the environment's sources and the ones the monitors file declares."""
    sources: dict[str, Source] = {}
    for name, config in (declared or {}).items():
        sources[name] = _declared_source(name, config, settings)

    if settings.prometheus_url:
        headers = {}
        auth = None
        if settings.prometheus_bearer_token:
            headers["Authorization"] = f"Bearer {settings.prometheus_bearer_token.get_secret_value()}"
        elif settings.prometheus_username and settings.prometheus_password:
            auth = httpx.BasicAuth(settings.prometheus_username,
                                   settings.prometheus_password.get_secret_value())
        sources["prometheus"] = PrometheusSource(
            settings.prometheus_url, timeout=settings.http_timeout, headers=headers, auth=auth
        )
    # TODO: Datadog and Atlas sources.
    return sources


def _declared_source(name: str, config: SourceConfig, settings: Settings) -> Source:
    headers = dict(config.headers)
    if config.bearer_token_env:
        token = os.environ.get(config.bearer_token_env)
        if not token:
            raise ConfigError(str(settings.monitors_file), [
                f"source {name!r}: field 'bearer_token_env': the variable "
                f"{config.bearer_token_env} is not set; export it with the token"
            ])
        headers["Authorization"] = f"Bearer {token}"

    if config.type != "prometheus":
        # TODO: Datadog and Atlas sources.
        raise ConfigError(str(settings.monitors_file), [
            f"source {name!r}: field 'type': {config.type!r} is not supported yet; use prometheus"
        ])
    source = PrometheusSource(config.url, timeout=config.timeout or settings.http_timeout, headers=headers)
    source.name = name
    return source


def unconfigured_sources(monitors: list[Monitor], sources: dict[str, Source]) -> list[str]:
    """Describe each monitor whose source has no URL or credentials in the environment."""
    return [
        f"monitor {monitor.name!r}: source {monitor.source!r} is not configured; "
        f"set {monitor.source.upper()}_URL (or its credentials) in the environment, "
        "or declare it under 'sources:' in the monitors file"
        for monitor in monitors
        if monitor.source not in sources
    ]


def build_runtime(settings: Settings, *, gateway: Gateway | None = None) -> Runtime:
    """Load monitors and playbooks and connect the store, sources and Slack."""
    playbooks = load_playbooks(settings.playbooks_dir, fields=STEP_FIELDS)
    matrix = load_matrix(settings.playbooks_dir / "escalation.yml")
    monitors_file = load_monitors(settings.monitors_file)
    monitors = monitors_file.monitors
    unknown = [m for m in monitors if m.playbook not in playbooks]
    if unknown:
        raise ConfigError(str(settings.monitors_file), [
            f"monitor {m.name!r}: field 'playbook': {m.playbook!r} is not a playbook; "
            f"use one of {', '.join(sorted(playbooks))}" for m in unknown
        ])

    store = Store(redis.Redis.from_url(settings.redis_url))
    sources = build_sources(settings, monitors_file.sources)

    if gateway is None:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        if token is None:
            raise ConfigError("environment", ["SLACK_BOT_TOKEN is missing; set it to the bot's xoxb- token"])
        gateway = WebGateway(WebClient(token=token, base_url=settings.slack_api_url))

    for problem in unconfigured_sources(monitors, sources):
        log.error("%s; its polls will fail until then", problem)

    notifier = Notifier(store=store, gateway=gateway, playbooks=playbooks,
                        monitors={monitor.name: monitor for monitor in monitors})
    poller = Poller(store=store, sources=sources, notifier=notifier)
    log.info("runtime ready: %d monitors, %d playbooks, sources %s",
             len(monitors), len(playbooks), ", ".join(sorted(sources)) or "none")
    return Runtime(settings=settings, monitors=monitors, playbooks=playbooks, store=store,
                   sources=sources, gateway=gateway, notifier=notifier, poller=poller, matrix=matrix)
