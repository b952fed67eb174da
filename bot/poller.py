"""One poll of one monitor: fetch new points, evaluate each series, act on incidents.

The first poll of a monitor fetches its whole history span (baseline, offset
and alert window); later polls fetch only the points after the last one
fetched. Each series' window is kept in Redis, so a restart refetches nothing
it already had.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from bot import incidents, silences, suppression
from bot.analysis import step_fields
from bot.banks import BankInput, SigmaBanks
from bot.errors import SourceError
from bot.escalation import EscalationRule
from bot.escalation_clock import EscalationClock
from bot.incident import Incident
from bot.monitors import Monitor
from bot.notifier import Notifier
from bot.responder import Responder
from bot.rootcause import RootCause, attach_hypotheses
from bot.severity import SeverityPolicy
from bot.sources.base import Series, Source, fingerprint
from bot.step_context import context_fields
from bot.store import LockBusy, Store
from bot.telemetry import EVALUATIONS, INCIDENTS_OPENED, POLL_SECONDS, POLLS
from detectors import Evaluation, Exclusions, adjust_p_values, evaluate, tier_for

log = logging.getLogger(__name__)

# Keep this much history beyond the span one evaluation needs, so a late
# point or a shifted grid never starves the baseline.
HISTORY_MARGIN = 3600.0


@dataclass(frozen=True)
class _Stored:
    """One series of a poll after its fresh points were stored."""

    fingerprint: str
    window: Series
    fresh: Series
    exclusions: Exclusions


@dataclass
class PollReport:
    """The outcome of one poll, for logs, tests and the demo."""

    monitor: str
    now: float
    fetched_points: int = 0
    evaluations: list[tuple[str, Evaluation]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    silenced: list[str] = field(default_factory=list)
    suppressed: list[tuple[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    skipped: str | None = None


class Poller:
    """Runs poll cycles against the configured sources."""

    def __init__(
        self, *, store: Store, sources: Mapping[str, Source], notifier: Notifier,
        matrix: list[EscalationRule] | None = None,
        policy: SeverityPolicy | None = None,
        responder: Responder | None = None,
        clock: EscalationClock | None = None,
        rootcause: Callable[[Incident, float], RootCause] | None = None,
    ) -> None:
        self.store = store
        self.sources = sources
        self.notifier = notifier
        self.matrix = matrix
        self.policy = policy
        self.responder = responder
        self.clock = clock
        self.rootcause = rootcause
        self.banks = SigmaBanks()

    def poll(self, monitor: Monitor, *, now: float | None = None) -> PollReport:
        """Poll `monitor` as of `now` (default: the wall clock); raise SourceError on backend failure."""
        now = time.time() if now is None else float(now)
        started = time.monotonic()
        try:
            with self.store.lock(f"poll:{monitor.name}", ttl=max(monitor.interval, 30.0)):
                report = self._poll(monitor, now)
        except LockBusy:
            POLLS.labels(monitor.name, "busy").inc()
            return PollReport(monitor=monitor.name, now=now, skipped="another process is polling it")
        except SourceError:
            POLLS.labels(monitor.name, "source_error").inc()
            raise
        POLLS.labels(monitor.name, "ok").inc()
        POLL_SECONDS.labels(monitor.name).observe(time.monotonic() - started)
        return report

    def _poll(self, monitor: Monitor, now: float) -> PollReport:
        report = PollReport(monitor=monitor.name, now=now)
        source = self.sources.get(monitor.source)
        if source is None:
            raise SourceError(
                f"monitor {monitor.name!r} uses source {monitor.source!r}, which is not configured; "
                f"set its URL or credentials in the environment",
                source=monitor.source, url="", query=monitor.query,
            )

        step = monitor.resolution
        span = monitor.history_span()
        end = math.floor(now / step) * step
        fetched_key = self.store.key("monitor", monitor.name, "fetched-until")
        fetched_until = self.store.redis.get(fetched_key)
        earliest = math.floor((end - span) / step) * step
        start = earliest if fetched_until is None else max(earliest, float(fetched_until) + step)

        if start > end:
            report.skipped = "no new points since the last poll"
            return report

        fetched = source.fetch(monitor.query, start=start, end=end, step=step)
        log.info("monitor %s: fetched %d series on [%.0f, %.0f]", monitor.name, len(fetched), start, end)

        oldest = end - span - HISTORY_MARGIN
        stored = []
        for series in fetched:
            report.fetched_points += int(series.timestamps.size)
            stored.append(self._store_series(monitor, series, oldest=oldest))
        evaluated = self._evaluate_all(monitor, stored, now=now, end=end, oldest=oldest)
        if monitor.detector.p_adjustment == "benjamini-hochberg":
            evaluated = adjust_cycle(evaluated)
        for series_fingerprint, window, evaluation in evaluated:
            EVALUATIONS.labels(monitor.name, evaluation.status).inc()
            report.evaluations.append((series_fingerprint, evaluation))
            self._act(monitor, window, series_fingerprint, evaluation, now=now, report=report)

        self.store.redis.set(fetched_key, repr(end))
        return report

    def _store_series(self, monitor: Monitor, fresh: Series, *, oldest: float) -> _Stored:
        """Merge the fresh points into the stored window, save it, and load its exclusions."""
        series_fingerprint = fingerprint(monitor.name, fresh.labels)
        window = _merge(self.store.load_series(monitor.name, series_fingerprint), fresh, oldest=oldest)
        self.store.save_series(monitor.name, series_fingerprint, window)
        exclusions = Exclusions.from_json(self.store.redis.get(self._excluded_key(monitor, series_fingerprint)))
        return _Stored(series_fingerprint, window, fresh, exclusions)

    def _excluded_key(self, monitor: Monitor, fingerprint: str) -> str:
        return self.store.key("excluded", monitor.name, fingerprint)

    def _evaluate_all(self, monitor: Monitor, stored: list[_Stored], *, now: float, end: float,
                      oldest: float) -> list[tuple[str, Series, Evaluation]]:
        """Evaluate every series of the poll: a bank screens a large `sigma` query, the rest one by one."""
        settings = monitor.detector.to_settings()
        excluded = [item.exclusions.excluded() for item in stored]
        screened: list[Evaluation | None] = [None] * len(stored)
        if self.banks.qualifies(monitor, len(stored)):
            pairs = zip(stored, excluded, strict=True)
            inputs = [BankInput(item.fingerprint, item.window, times) for item, times in pairs]
            screened = self.banks.screen(monitor, inputs, end=end, now=now)

        evaluated = []
        for item, times, evaluation in zip(stored, excluded, screened, strict=True):
            if evaluation is None:
                # At the poll's last step, so a poll a few seconds late uses the same baseline.
                evaluation = evaluate(item.window.timestamps, item.window.values, now=end, settings=settings,
                                      excluded=times)
            self._record_exclusions(monitor, item, evaluation, now=now, oldest=oldest)
            evaluated.append((item.fingerprint, item.window, evaluation))
        return evaluated

    def _record_exclusions(self, monitor: Monitor, item: _Stored, evaluation: Evaluation, *, now: float,
                           oldest: float) -> None:
        """Keep a strong, short anomaly's points out of later baselines (see detectors._exclusions)."""
        exclusions = item.exclusions
        fresh = item.fresh
        seen_first = fresh.timestamps[(fresh.timestamps > now - monitor.detector.window) & np.isfinite(fresh.values)]
        had_exclusions = bool(exclusions.times or exclusions.run)
        exclusions.record(evaluation, seen_first, oldest=oldest)
        key = self._excluded_key(monitor, item.fingerprint)
        if exclusions.times or exclusions.run:
            self.store.redis.set(key, exclusions.to_json(), px=int(monitor.history_span() * 1000))
        elif had_exclusions:
            self.store.redis.delete(key)

    def _act(self, monitor: Monitor, window: Series, series_fingerprint: str, evaluation: Evaluation, *,
             now: float, report: PollReport) -> None:
        """Open, update or recover the series' incident by its evaluation."""
        alerting = (
            evaluation.status == "anomaly"
            and incidents.TIER_RANK[evaluation.tier] >= incidents.TIER_RANK[monitor.detector.min_tier]
        )
        if alerting:
            self._alert(monitor, window, series_fingerprint, evaluation, now=now, report=report)
            return

        if monitor.detector.for_ > 0.0:
            self.store.redis.delete(self._pending_key(series_fingerprint))
        if evaluation.status == "skipped":
            _log_skip(monitor.name, series_fingerprint, evaluation.reason, points=int(window.timestamps.size))
        else:
            self._note_normal(series_fingerprint, evaluation, now=now, report=report)

    def _alert(self, monitor: Monitor, window: Series, series_fingerprint: str, evaluation: Evaluation, *,
               now: float, report: PollReport) -> None:
        """Open or update the series' incident, unless a silence or the suppression rules hold it back."""
        silence = silences.silenced_by(self.store, monitor=monitor.name, labels=window.labels, now=now)
        if silence is not None:
            silences.count_suppressed(self.store, monitor=monitor.name, now=now, reason="silenced")
            log.info("monitor %s series %s: anomaly not alerted, silenced by %s until %.0f",
                     monitor.name, series_fingerprint, silence.id, silence.until)
            report.silenced.append(series_fingerprint)
            return
        if not self._lasted(monitor, series_fingerprint, now=now, report=report):
            return
        if not self._may_alert(monitor, window, series_fingerprint, evaluation, now=now, report=report):
            return

        incident, created = incidents.record_anomaly(
            self.store, monitor=monitor, labels=window.labels, fingerprint=series_fingerprint,
            evaluation=evaluation, now=now, policy=self.policy,
        )
        if created:
            INCIDENTS_OPENED.labels(monitor.name, incident.tier).inc()
            report.opened.append(incident.id)
            suppression.record_alert(self.store, monitor=monitor, incident=incident, now=now)
        else:
            report.updated.append(incident.id)
        if self.clock is not None:
            self.clock.schedule(incident)

        fields = step_fields(monitor=monitor, incident=incident, evaluation=evaluation,
                             timestamps=window.timestamps, values=window.values, now=now)
        fields.update(context_fields(store=self.store, incident=incident, monitor=monitor, matrix=self.matrix))
        analysis = self.rootcause(incident, now) if created and self.rootcause is not None else None
        if analysis is not None:
            fields["related_anomalies"] = analysis.related_text or fields["related_anomalies"]
            fields["dimension_table"] = analysis.dimensions_text or fields["dimension_table"]

        incident = self.notifier.publish(incident, now=now, fields=fields)
        if analysis is not None:
            self._post_analysis(incident, analysis)
        if created and self.responder is not None:
            self.responder.on_opened(incident, now=now)

    def _pending_key(self, fingerprint: str) -> str:
        return self.store.key("pending", fingerprint)

    def _lasted(self, monitor: Monitor, fingerprint: str, *, now: float, report: PollReport) -> bool:
        """Apply the monitor's `for`: whether the series has been alerting that long, or has an open incident.

        The time of the first alerting evaluation is kept in Redis, so a restart does not
        restart the count. Any evaluation that does not alert clears it (see `_act`), and so
        does a gap of more than three poll intervals without one.
        """
        hold = monitor.detector.for_
        if hold <= 0.0 or self.store.open_incident_id(fingerprint) is not None:
            return True

        key = self._pending_key(fingerprint)
        expiry = int((hold + 3 * monitor.interval) * 1000)
        self.store.redis.set(key, repr(now), nx=True, px=expiry)
        self.store.redis.pexpire(key, expiry)
        since = float(self.store.redis.get(key) or now)
        if now - since >= hold:
            return True
        report.pending.append(fingerprint)
        log.info("monitor %s series %s: anomalous for %.0fs of its %.0fs `for`, no incident yet",
                 monitor.name, fingerprint, now - since, hold)
        return False

    def _note_normal(self, series_fingerprint: str, evaluation: Evaluation, *, now: float,
                     report: PollReport) -> None:
        """Mark the series' open incident as back within its baseline, and update its card."""
        if self._grouped_into_other(series_fingerprint):
            return
        recovered = incidents.record_normal(self.store, fingerprint=series_fingerprint,
                                            evaluation=evaluation, now=now)
        if recovered is not None:
            report.updated.append(recovered.id)
            self.notifier.publish(recovered, now=now)

    def _grouped_into_other(self, fingerprint: str) -> bool:
        """Whether the series points at another series' incident; that card follows the first series only."""
        owner_id = self.store.open_incident_id(fingerprint)
        owner = self.store.get_incident(owner_id) if owner_id else None
        return owner is not None and owner.fingerprint != fingerprint

    def _post_analysis(self, incident: Incident, analysis: RootCause) -> None:
        """Post the ranked hypotheses with their buttons, and the dimension heatmap image."""
        updated = attach_hypotheses(self.store, incident.id, analysis.hypotheses) or incident
        if updated.hypotheses:
            self.notifier.refresh_hypotheses(updated)
        if analysis.heatmap_png:
            self.notifier.image(updated, name="heatmap", png=analysis.heatmap_png,
                                title=f"Incident {incident.id}: deviation by dimension",
                                alt_text="Heatmap of each label value's deviation from its own baseline")

    def _may_alert(self, monitor: Monitor, window: Series, fingerprint: str, evaluation: Evaluation, *,
                   now: float, report: PollReport) -> bool:
        """Apply grouping and suppression before a new incident opens; update an open one freely."""
        if self.store.open_incident_id(fingerprint) is not None:
            return not self._grouped_into_other(fingerprint)

        decision = suppression.decide(self.store, monitor=monitor, labels=window.labels,
                                      fingerprint=fingerprint, now=now)
        if decision.alert:
            return True
        report.suppressed.append((fingerprint, decision.reason or ""))
        title = ", ".join(f"{k}={v}" for k, v in sorted(window.labels.items()) if k != "__name__")
        if decision.reason == "grouped" and decision.incident is not None:
            grouped = suppression.attach_to_group(self.store, incident=decision.incident, fingerprint=fingerprint,
                                                  title=title, now=now)
            if grouped is not None:
                self.notifier.refresh_card(grouped, deliver=False)
                self.notifier.note(grouped, f"Also anomalous, grouped into this incident: {monitor.name} "
                                            f"{{{title}}} at {evaluation.deviation:+.1f}σ.")
        elif decision.reason == "flapping" and decision.incident is not None:
            flapping = suppression.mark_flapping(self.store, decision.incident, now=now)
            if flapping is not None:
                self.notifier.refresh_card(flapping)
        log.info("monitor %s series %s: anomaly not alerted (%s)", monitor.name, fingerprint, decision.reason)
        return False


def adjust_cycle(evaluated: list[tuple[str, Series, Evaluation]]) -> list[tuple[str, Series, Evaluation]]:
    """Replace each p-value by its Benjamini-Hochberg adjusted value across the series of one poll.

    A query that returns many series tests each of them, so the raw p-values
    would alert on noise in proportion to the number of series. The tier
    follows the adjusted value; skipped series do not count as tests. With one
    series, the adjusted value is the raw one.
    """
    tested = [index for index, (_, _, evaluation) in enumerate(evaluated) if evaluation.status != "skipped"]
    if len(tested) < 2:
        return evaluated
    adjusted = adjust_p_values(np.array([evaluated[index][2].p_value for index in tested]))
    result = list(evaluated)
    for index, q_value in zip(tested, adjusted, strict=True):
        series_fingerprint, window, evaluation = result[index]
        tier = tier_for(float(q_value))
        status = evaluation.status
        if status == "anomaly" and tier == "low":
            status = "normal"
        result[index] = (series_fingerprint, window, replace(evaluation, p_value=float(q_value), tier=tier,
                                                             status=status))
    return result


_last_skip_reason: dict[str, str | None] = {}


def _log_skip(monitor: str, fingerprint: str, reason: str | None, *, points: int) -> None:
    """Log why a series is not evaluated, once per change of reason (not on every poll)."""
    if _last_skip_reason.get(fingerprint) == reason:
        return
    _last_skip_reason[fingerprint] = reason
    log.info("monitor %s series %s not evaluated: %s (%d points stored)", monitor, fingerprint, reason, points)


def _merge(stored: Series | None, fresh: Series, *, oldest: float) -> Series:
    """Append fresh points to the stored window; a fresh point replaces a stored one at the same time."""
    if stored is None:
        timestamps, values = fresh.timestamps, fresh.values
    else:
        keep = ~np.isin(stored.timestamps, fresh.timestamps)
        timestamps = np.concatenate([stored.timestamps[keep], fresh.timestamps])
        values = np.concatenate([stored.values[keep], fresh.values])
        order = np.argsort(timestamps, kind="stable")
        timestamps, values = timestamps[order], values[order]

    recent = timestamps >= oldest
    return Series(dict(fresh.labels), timestamps[recent], values[recent])
