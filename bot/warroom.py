"""War-room channels: one per incident, with a valid, readable name.

Slack channel names are lowercase, at most 80 characters, and contain only
letters, digits, hyphens and underscores
(https://api.slack.com/methods/conversations.create).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from bot.errors import SlackError
from bot.incident import Incident
from bot.slack.gateway import WebGateway
from bot.store import LockBusy, Store

log = logging.getLogger(__name__)

MAX_CHANNEL_NAME = 80
_INVALID = re.compile(r"[^a-z0-9_-]+")


def channel_name(incident: Incident, *, attempt: int = 0) -> str:
    """Return `inc-<yyyymmdd>-<monitor>-<id>`, cut to Slack's 80 characters."""
    day = datetime.fromtimestamp(incident.opened_at, tz=UTC).strftime("%Y%m%d")
    suffix = f"-{incident.id}" + (f"-{attempt + 1}" if attempt else "")
    slug = _INVALID.sub("-", incident.monitor.lower()).strip("-") or "incident"
    room = MAX_CHANNEL_NAME - len(f"inc-{day}-") - len(suffix)
    return f"inc-{day}-{slug[:room].rstrip('-')}{suffix}"


def open_war_room(store: Store, gateway: WebGateway, incident: Incident, *, invite: list[str]) -> tuple[str, bool]:
    """Create the incident's war room once; return (channel id, whether this call created it).

    Two clicks or two replicas race for a lock; the loser finds the channel
    the winner stored. `name_taken` (also by an archived channel) moves on to
    the next name.
    """
    current = store.get_incident(incident.id) or incident
    if current.war_room:
        return current.war_room, False

    try:
        with store.lock(f"warroom:{incident.id}", ttl=30):
            current = store.get_incident(incident.id) or incident
            if current.war_room:
                return current.war_room, False
            channel = _create(gateway, current)
            store.update_incident(incident.id, lambda item: item.model_copy(update={"war_room": channel}))
    except LockBusy:
        current = store.get_incident(incident.id) or incident
        if current.war_room:
            return current.war_room, False
        raise SlackError(method="conversations.create", error="war_room_in_progress") from None

    members = sorted({user for user in invite if user})
    if members:
        try:
            gateway.invite(channel, members)
        except SlackError as error:
            log.error("incident %s: inviting %s to war room %s failed: %s", incident.id, members, channel, error)
    log.info("incident %s: war room %s created", incident.id, channel)
    return channel, True


def _create(gateway: WebGateway, incident: Incident) -> str:
    for attempt in range(5):
        name = channel_name(incident, attempt=attempt)
        try:
            return gateway.create_channel(name)
        except SlackError as error:
            if error.error != "name_taken":
                raise
            log.warning("incident %s: channel name %s is taken; trying the next", incident.id, name)
    raise SlackError(method="conversations.create", error="name_taken")
