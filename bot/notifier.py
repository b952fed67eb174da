"""Keep each incident's card and thread in Slack in step with its state.

Everything goes through the outbox, in order per incident:

    card     the parent message, rendered from the incident's current state at
             delivery, posted once and then updated in place (`chat.update`)
    post     a thread reply (a playbook step, or a line saying who did what)
    chart    the metric's chart image, rendered at delivery and uploaded into the thread
    hypotheses  the ranked hypotheses with their buttons, posted once and then updated
    image    another PNG for the thread, such as the dimension heatmap

Each message has a post key (`incident:<id>:card`, `incident:<id>:step:<id>`,
...). Before posting, the key is marked pending in Redis; after, its ts is
stored. If a process dies between the two, the next attempt finds the
pending mark and looks the message up in Slack by the key in its metadata
instead of posting it again.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from bot.charts import ChartInput, render_chart
from bot.errors import SlackError
from bot.incident import Incident
from bot.monitors import Monitor
from bot.playbooks import Playbook
from bot.slack.cards import hypotheses_message, incident_card, note_message, step_message
from bot.slack.gateway import Gateway
from bot.slack.outbox import DeliveryDeferred, Operation, Outbox
from bot.store import LockBusy, Store
from bot.telemetry import SLACK_POSTS

log = logging.getLogger(__name__)

# A process that dies while posting holds the post's lock this long; the
# message is then looked up by its key instead of posted again.
POST_LOCK_SECONDS = 15.0


class ParentNotPosted(SlackError):
    """A thread reply's parent card is not in Slack yet."""

    def __init__(self, post_key: str) -> None:
        super().__init__(method="chat.postMessage", error=f"parent {post_key} not posted yet")


class Notifier:
    """Queues and delivers each incident's Slack messages."""

    def __init__(
        self,
        *,
        store: Store,
        gateway: Gateway,
        playbooks: Mapping[str, Playbook],
        monitors: Mapping[str, Monitor] | None = None,
        charts: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.playbooks = playbooks
        self.monitors = dict(monitors or {})
        self.charts = charts
        self._clock = clock
        self.outbox = Outbox(store, clock=clock)
        self.outbox.register("card", self._deliver_card)
        self.outbox.register("post", self._deliver_post)
        self.outbox.register("chart", self._deliver_chart)
        self.outbox.register("hypotheses", self._deliver_hypotheses)
        self.outbox.register("image", self._deliver_image)

    # --- what callers use -----------------------------------------------------------

    def publish(self, incident: Incident, *, now: float, fields: Mapping[str, str] | None = None) -> Incident:
        """Queue the card (post or update), the automatic playbook steps and the chart; deliver them.

        `fields` are the computed step numbers; without them no step is queued.
        The outbox logs Slack errors with the incident id. A message that could
        not be sent stays queued, or the next poll queues it again.
        """
        self.refresh_card(incident, deliver=False)

        if fields is not None:
            playbook = self.playbooks[incident.playbook]
            for step in playbook.steps_for(incident.kind, tier=incident.tier, severity=incident.severity):
                if not step.auto:
                    continue
                message = step_message(step, body=step.render(fields), spent=now - incident.opened_at)
                self._queue_post(incident.id, f"incident:{incident.id}:step:{step.id}", message)

            if self.charts and incident.monitor in self.monitors:
                self._queue_chart(incident, now=now)

        self.deliver(incident.id)
        return self.store.get_incident(incident.id) or incident

    def refresh_card(self, incident: Incident, *, deliver: bool = True) -> None:
        """Queue a card update; while one is queued, a second is not needed."""
        self.outbox.enqueue(
            Operation("card", incident.id, f"incident:{incident.id}:card", {"incident": incident.id}),
            dedupe_key=f"card:{incident.id}",
        )
        if deliver:
            self.deliver(incident.id)

    def refresh_hypotheses(self, incident: Incident, *, deliver: bool = True) -> None:
        """Post the hypotheses reply with its buttons, or update it after a decision."""
        self.outbox.enqueue(
            Operation("hypotheses", incident.id, f"incident:{incident.id}:hypotheses", {"incident": incident.id}),
            dedupe_key=f"hypotheses:{incident.id}",
        )
        if deliver:
            self.deliver(incident.id)

    def image(self, incident: Incident, *, name: str, png: bytes, title: str, alt_text: str) -> None:
        """Upload a PNG into the incident's thread once (by `name`), after what is queued before it."""
        post_key = f"incident:{incident.id}:image:{name}"
        if self.store.posted(post_key):
            return
        self.outbox.enqueue(
            Operation("image", incident.id, post_key, {
                "incident": incident.id, "name": name, "title": title, "alt_text": alt_text,
                "png": base64.b64encode(png).decode(),
            }),
            dedupe_key=post_key,
        )
        self.deliver(incident.id)

    def note(self, incident: Incident, text: str, *, post_key: str | None = None) -> None:
        """Post a line in the incident's thread (who did what), after what is queued before it.

        With `post_key`, the line is posted once however often this is called with that key.
        """
        post_key = post_key or f"incident:{incident.id}:note:{uuid.uuid4().hex}"
        self._queue_post(incident.id, post_key, note_message(text))
        self.deliver(incident.id)

    def deliver(self, stream: str | None = None) -> int:
        try:
            return self.outbox.deliver(stream)
        except SlackError as error:
            log.error("delivery of %s paused: %s", stream or "all incidents", error)
            return 0

    # --- queueing -------------------------------------------------------------------

    def _queue_post(self, incident_id: str, post_key: str, message: dict[str, Any]) -> None:
        if self.store.posted(post_key):
            return
        self.outbox.enqueue(
            Operation("post", incident_id, post_key, {"incident": incident_id, "message": message}),
            dedupe_key=post_key,
        )

    def _queue_chart(self, incident: Incident, *, now: float) -> None:
        post_key = f"incident:{incident.id}:chart"
        if self.store.posted(post_key):
            return
        self.outbox.enqueue(
            Operation("chart", incident.id, post_key, {"incident": incident.id, "now": now}),
            dedupe_key=post_key,
        )

    # --- delivery handlers ----------------------------------------------------------

    def _deliver_card(self, operation: Operation) -> None:
        incident = self.store.get_incident(operation.data["incident"])
        if incident is None:
            return
        playbook = self.playbooks[incident.playbook]
        budget = playbook.budget_for(incident.kind, tier=incident.tier, severity=incident.severity)
        card = incident_card(incident, now=self._clock(), budget=budget)

        if incident.card_ts and incident.card_channel:
            self.gateway.update(incident.card_channel, incident.card_ts, card)
            SLACK_POSTS.labels("card_update").inc()
            return

        channel, ts = self._post_once(operation.post_key, incident.channel, card)
        posted_at = self._clock()
        self.store.update_incident(incident.id, lambda current: current.model_copy(
            update={"card_channel": channel, "card_ts": ts, "card_posted_at": posted_at}))

    def _deliver_post(self, operation: Operation) -> None:
        channel, thread_ts = self._thread_of(operation.data["incident"])
        self._post_once(operation.post_key, channel, operation.data["message"], thread_ts=thread_ts)

    def _deliver_chart(self, operation: Operation) -> None:
        incident = self.store.get_incident(operation.data["incident"])
        monitor = self.monitors.get(incident.monitor) if incident else None
        if incident is None or monitor is None or self.store.posted(operation.post_key):
            return
        series = self.store.load_series(monitor.name, incident.fingerprint)
        if series is None:
            return
        channel, thread_ts = self._thread_of(incident.id)

        settings = monitor.detector.to_settings()
        now = float(operation.data["now"])
        png = render_chart(ChartInput(
            title=f"{incident.title}: last hour against the 7-day baseline",
            timestamps=series.timestamps, values=series.values, now=now, window=settings.window,
            expected=incident.expected,
            lower_bound=incident.expected - settings.lower_bound * incident.baseline_std,
            upper_bound=incident.expected + settings.threshold * incident.baseline_std,
        ))
        file_id = self.gateway.upload_file(
            channel, thread_ts=thread_ts, filename=f"incident-{incident.id}.png", content=png,
            title=f"Incident {incident.id}: {incident.monitor}",
            alt_text=f"Chart of {incident.title} over the last hour with its 7-day baseline band",
        )
        self.store.record_post(operation.post_key, channel=channel, ts=file_id)
        SLACK_POSTS.labels("chart").inc()

    def _deliver_hypotheses(self, operation: Operation) -> None:
        incident = self.store.get_incident(operation.data["incident"])
        if incident is None or not incident.hypotheses:
            return
        message = hypotheses_message(incident)
        posted = self.store.posted(operation.post_key)
        if posted:
            self.gateway.update(posted["channel"], posted["ts"], message)
            return
        channel, thread_ts = self._thread_of(incident.id)
        self._post_once(operation.post_key, channel, message, thread_ts=thread_ts)

    def _deliver_image(self, operation: Operation) -> None:
        if self.store.posted(operation.post_key):
            return
        data = operation.data
        channel, thread_ts = self._thread_of(data["incident"])
        file_id = self.gateway.upload_file(
            channel, thread_ts=thread_ts, filename=f"incident-{data['incident']}-{data['name']}.png",
            content=base64.b64decode(data["png"]), title=data["title"], alt_text=data["alt_text"],
        )
        self.store.record_post(operation.post_key, channel=channel, ts=file_id)

    def _thread_of(self, incident_id: str) -> tuple[str, str]:
        card = self.store.posted(f"incident:{incident_id}:card")
        if card is None:
            raise ParentNotPosted(f"incident:{incident_id}:card")
        return card["channel"], card["ts"]

    def _post_once(
        self, post_key: str, channel: str, message: dict[str, Any], *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        """Post `message` unless `post_key` was posted already; return (channel, ts).

        Raises DeliveryDeferred while another process holds the key's lock.
        """
        posted = self.store.posted(post_key)
        if posted:
            return posted["channel"], posted["ts"]

        try:
            with self.store.lock(f"post:{post_key}", ttl=POST_LOCK_SECONDS):
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
            # The holder may have died after posting; its lock expires and the pending
            # mark then finds the message. Until then the message stays queued.
            raise DeliveryDeferred(f"{post_key} is being posted by another process",
                                   retry_after=POST_LOCK_SECONDS / 3) from None
