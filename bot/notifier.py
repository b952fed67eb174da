"""Post and update incident cards and their playbook threads, each message once.

Every message has a post key (`incident:<id>:card`, `incident:<id>:step:<step>`).
Before posting, the key is marked pending in Redis; after, the ts is stored.
If a process dies between the two, the next attempt finds the pending mark
and looks the message up in Slack by the key in its metadata instead of
posting it again. A lock per key keeps two replicas from posting at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.errors import SlackError
from bot.incident import Incident
from bot.playbooks import Playbook
from bot.slack.cards import incident_card, step_message
from bot.slack.gateway import Gateway
from bot.store import LockBusy, Store
from bot.telemetry import SLACK_POSTS

log = logging.getLogger(__name__)


class Notifier:
    """Keeps each incident's card and thread in Slack in step with its state."""

    def __init__(self, *, store: Store, gateway: Gateway, playbooks: Mapping[str, Playbook]) -> None:
        self.store = store
        self.gateway = gateway
        self.playbooks = playbooks

    def publish(self, incident: Incident, *, now: float, fields: Mapping[str, str] | None = None) -> Incident:
        """Post the card (or update it in place), then the automatic playbook steps.

        `fields` are the computed step numbers; without them no step is posted.
        Slack errors are logged with the incident id and left for the next poll.
        """
        playbook = self.playbooks[incident.playbook]
        card = incident_card(incident, now=now, budget=playbook.budget_for(incident.kind))
        try:
            incident = self._post_or_update_card(incident, card)
        except SlackError as error:
            log.error("incident %s: card not posted in %s: %s", incident.id, incident.channel, error)
            return incident

        if fields is None or incident.card_ts is None or incident.card_channel is None:
            return incident

        for step in playbook.steps_for(incident.kind):
            if not step.auto:
                continue
            message = step_message(step, body=step.render(fields), spent=now - incident.opened_at)
            try:
                self._post_once(
                    f"incident:{incident.id}:step:{step.id}", incident.card_channel, message,
                    thread_ts=incident.card_ts,
                )
            except SlackError as error:
                log.error("incident %s: step %s not posted: %s", incident.id, step.id, error)
                break
        return incident

    def _post_or_update_card(self, incident: Incident, card: dict[str, Any]) -> Incident:
        if incident.card_ts and incident.card_channel:
            self.gateway.update(incident.card_channel, incident.card_ts, card)
            SLACK_POSTS.labels("card_update").inc()
            return incident

        posted = self._post_once(f"incident:{incident.id}:card", incident.channel, card)
        if posted is None:
            return incident
        channel, ts = posted

        def attach(current: Incident) -> Incident:
            return current.model_copy(update={"card_channel": channel, "card_ts": ts})

        return self.store.update_incident(incident.id, attach) or incident

    def _post_once(
        self, post_key: str, channel: str, message: dict[str, Any], *, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        """Post `message` unless `post_key` was posted already; return (channel, ts).

        Returns None while another replica holds the key's lock.
        """
        posted = self.store.posted(post_key)
        if posted:
            return posted["channel"], posted["ts"]

        try:
            with self.store.lock(f"post:{post_key}", ttl=60):
                posted = self.store.posted(post_key)
                if posted:
                    return posted["channel"], posted["ts"]

                if self.store.mark_post_pending(post_key):
                    found = self.gateway.find_post(channel, post_key, thread_ts=thread_ts)
                    if found:
                        log.warning("%s was posted before a restart as %s; keeping it", post_key, found[1])
                        self.store.record_post(post_key, channel=found[0], ts=found[1])
                        return found

                try:
                    channel_id, ts = self.gateway.post(channel, message, thread_ts=thread_ts, post_key=post_key)
                except SlackError:
                    self.store.clear_post_pending(post_key)
                    raise
                self.store.record_post(post_key, channel=channel_id, ts=ts)
                SLACK_POSTS.labels("thread_reply" if thread_ts else "card").inc()
                return channel_id, ts
        except LockBusy:
            log.info("%s is being posted by another process", post_key)
            return None
