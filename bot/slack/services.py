"""The dependencies of the Slack listeners: the store, notifier, sources and configuration."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.escalation import EscalationRule
from bot.monitors import Monitor
from bot.notifier import Notifier
from bot.responder import Responder
from bot.slack.gateway import WebGateway
from bot.slack.permissions import Permissions
from bot.sources.base import Source
from bot.store import Store


@dataclass
class Services:
    store: Store
    notifier: Notifier
    gateway: WebGateway
    sources: dict[str, Source]
    monitors: dict[str, Monitor]
    matrix: list[EscalationRule]
    permissions: Permissions
    default_source: str = "prometheus"
    clock: Callable[[], float] = field(default=time.time)
    responder: Responder | None = None

    def __post_init__(self) -> None:
        # Buttons mention handles and open war rooms the way the bot does by itself.
        if self.responder is None:
            self.responder = Responder(store=self.store, notifier=self.notifier, gateway=self.gateway,
                                       policy=None, monitors=self.monitors)
