"""Permission checks: resolving, escalating and rejecting can be limited to Slack user groups."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from bot.errors import SlackError

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0


class Permissions:
    """Checks actions against user groups; an action with no groups is open to everyone.

    Group members are cached for five minutes: a cache of Slack's data, not
    state of the bot's own.
    """

    def __init__(self, gateway, groups: Mapping[str, list[str]]) -> None:
        self.gateway = gateway
        self.groups = {action: [handle.lstrip("@") for handle in handles] for action, handles in groups.items()}
        self._members: dict[str, tuple[float, set[str]]] = {}

    def allowed(self, action: str, user: str) -> tuple[bool, str]:
        """Return whether `user` may do `action`, and the reason to show when not."""
        handles = self.groups.get(action) or []
        if not handles:
            return True, ""
        for handle in handles:
            if user in self._group_members(handle):
                return True, ""
        names = ", ".join(f"@{handle}" for handle in handles)
        return False, f"Only members of {names} may {action} incidents here. Ask one of them, or acknowledge instead."

    def _group_members(self, handle: str) -> set[str]:
        cached = self._members.get(handle)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            found = self.gateway.usergroup_members(handle)
        except SlackError as error:
            log.error("cannot read members of user group @%s: %s", handle, error)
            return set()
        if found is None:
            log.error("user group @%s was not found; every user fails that permission check until it exists", handle)
            members: set[str] = set()
        else:
            members = set(found[1])
        self._members[handle] = (time.monotonic(), members)
        return members
