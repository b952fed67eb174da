"""Actions the bot takes by itself: route by severity, escalate on time, open war rooms.

    on_opened(incident)  P0: page the on-call handle at once and open the war room;
                         P1/P2: notify the owning team in the channel
    escalate(...)        called by the EscalationClock when a timer falls due

Handles are Slack user group handles (`@oncall-senior`), looked up once and
cached, and mentioned as user groups. An unknown handle is posted as plain
text and logged as a configuration error.
"""

from __future__ import annotations

import logging
import time

from bot.durations import format_duration
from bot.errors import SlackError
from bot.escalation import EscalationRule
from bot.incident import Incident
from bot.monitors import Monitor
from bot.notifier import Notifier
from bot.severity import SeverityPolicy
from bot.store import Store
from bot.warroom import open_war_room

log = logging.getLogger(__name__)

HANDLE_CACHE_SECONDS = 300.0


class Responder:
    def __init__(self, *, store: Store, notifier: Notifier, gateway, policy: SeverityPolicy | None,
                 monitors: dict[str, Monitor]) -> None:
        self.store = store
        self.notifier = notifier
        self.gateway = gateway
        self.policy = policy
        self.monitors = monitors
        self._handles: dict[str, tuple[float, str]] = {}

    def mention(self, handle: str) -> str:
        """Return `<!subteam^ID>` for a user group handle, or the handle as plain text if unknown."""
        cached = self._handles.get(handle)
        if cached and time.monotonic() - cached[0] < HANDLE_CACHE_SECONDS:
            return cached[1]
        try:
            found = self.gateway.usergroup_members(handle)
        except SlackError as error:
            log.error("cannot look up user group %s: %s", handle, error)
            return handle
        if found is None:
            log.error("configuration error: %s is not a Slack user group; it is posted as plain text", handle)
            text = handle
        else:
            text = f"<!subteam^{found[0]}>"
        self._handles[handle] = (time.monotonic(), text)
        return text

    def on_opened(self, incident: Incident, *, now: float) -> None:
        """Route a new incident by its severity."""
        route = self.policy.routing.get(incident.severity) if self.policy else None
        if route is None:
            return
        reasons = "; ".join(incident.severity_reasons)
        if route.page:
            self.notifier.note(
                incident, f"{incident.severity}: paging {self.mention(route.page)} now. {reasons}",
                post_key=f"incident:{incident.id}:route",
            )
        elif route.notify:
            monitor = self.monitors.get(incident.monitor)
            team = monitor.team if monitor and monitor.team else None
            who = self.mention(team) if team else "the owning team"
            self.notifier.note(incident, f"{incident.severity}: {who}, please take a look. {reasons}",
                               post_key=f"incident:{incident.id}:route")
        if route.war_room:
            self.open_war_room(incident, reason=f"{incident.severity} incident")

    def escalate(self, incident: Incident, rule: EscalationRule, now: float) -> None:
        """Mention the rule's handle in the thread once; open the war room when the rule requires it."""
        unresolved = format_duration(now - incident.opened_at)
        confidence = ">99.99%" if incident.p_value < 1e-4 else f"{1 - incident.p_value:.2%}"
        self.notifier.note(
            incident,
            f"Unresolved for {unresolved} at {confidence} confidence: escalating to the "
            f"{rule.target}, {self.mention(rule.handle)}.",
            post_key=f"incident:{incident.id}:escalation:{incident.escalation_level + 1}",
        )
        self.notifier.refresh_card(incident, deliver=False)
        if rule.war_room:
            self.open_war_room(incident, reason=f"escalation to the {rule.target}")

    def open_war_room(
        self, incident: Incident, *, reason: str, opened_by: str | None = None
    ) -> tuple[str, bool] | None:
        """Open the incident's war room once, post its summary with a link to the card's thread.

        Returns (channel id, whether this call created it), or None when Slack refused.
        """
        try:
            channel, created = open_war_room(self.store, self.gateway, incident,
                                             invite=[opened_by or "", incident.acknowledged_by or ""])
        except SlackError as error:
            log.error("incident %s: war room not opened: %s", incident.id, error)
            return None
        if not created:
            return channel, False

        current = self.store.get_incident(incident.id) or incident
        summary = (f"War room for incident {current.id} ({reason}): {current.severity} {current.tier} "
                   f"confidence {current.kind} on {current.title}.")
        link = self._card_link(current)
        if link:
            summary += f" The card and its playbook thread: {link}"
        self.gateway.post(channel, {"text": summary})
        self.notifier.refresh_card(current, deliver=False)
        who = f"<@{opened_by}> opened" if opened_by else "Opened"
        self.notifier.note(current, f"{who} the war room <#{channel}> ({reason}).",
                           post_key=f"incident:{incident.id}:war-room")
        return channel, True

    def _card_link(self, incident: Incident) -> str:
        if not (incident.card_channel and incident.card_ts):
            return ""
        try:
            return self.gateway.permalink(incident.card_channel, incident.card_ts)
        except SlackError as error:
            log.error("incident %s: no permalink for the card: %s", incident.id, error)
            return ""
