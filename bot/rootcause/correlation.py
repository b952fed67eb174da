"""Related anomalies: which other monitored series moved with an incident's series, and which moved first.

Every stored window of every monitor (`Store.load_series`) is compared with the
incident's own window over the correlation window: from CONTEXT before the anomaly start
to now, at least MIN_WINDOW long and at most MAX_WINDOW. Each series is turned into
residuals (value minus its baseline expectation, `detectors.correlation.residuals`) with
the reference span [anomaly start - REFERENCE_SPAN, anomaly start - MAX_LAG), and the
residuals are cross-correlated with lags of up to MAX_LAG.

A series is related when it is anomalous itself or its residuals correlate at least
moderately (|r| >= MODERATE with p < 0.05). Anomalous means an open incident that was
anomalous inside the correlation window, or a peak deviation of ANOMALOUS_SIGMA or more
over its monitor's alert window. Anomalous series with weak correlation are kept and
labelled weak, so a coincident but unrelated spike shows up as such.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import redis

from bot.analysis import format_time
from bot.incident import Incident
from bot.monitors import Monitor
from bot.sources.base import Series
from bot.store import Store
from detectors.correlation import Residuals, cross_correlation, residuals

log = logging.getLogger(__name__)

CONTEXT = 30 * 60.0
MIN_WINDOW = 60 * 60.0
MAX_WINDOW = 6 * 3600.0
REFERENCE_SPAN = 2 * 3600.0
MAX_LAG = 10 * 60.0
ANOMALOUS_SIGMA = 3.0
STRONG = 0.7
MODERATE = 0.4
SIGNIFICANCE = 0.05
# Stored windows read per analysis at most; beyond that the rest is reported as not checked.
MAX_CANDIDATES = 1000


@dataclass(frozen=True)
class CorrelationWindow:
    """The grid the residuals are compared on, and the span that counts as normal."""

    start: float
    end: float
    step: float
    anomaly_start: float

    @classmethod
    def around(cls, *, anomaly_start: float, now: float, step: float) -> CorrelationWindow:
        start = min(anomaly_start - CONTEXT, now - MIN_WINDOW)
        start = max(start, now - MAX_WINDOW)
        start = math.floor(start / step) * step
        return cls(start=start, end=now, step=step, anomaly_start=anomaly_start)

    @property
    def grid(self) -> np.ndarray:
        count = int(math.floor((self.end - self.start) / self.step + 1e-9)) + 1
        return self.start + self.step * np.arange(count)

    @property
    def reference(self) -> tuple[float, float]:
        return self.anomaly_start - REFERENCE_SPAN, self.anomaly_start - MAX_LAG

    @property
    def max_lag_steps(self) -> int:
        return max(1, int(round(MAX_LAG / self.step)))


@dataclass(frozen=True)
class RelatedAnomaly:
    """Another monitored series measured against the incident's series.

    `correlation` is Pearson's r of the residuals at the best lag, `lag` that lag in
    seconds (positive: this series moved first, negative: it followed). `deviation` is its
    peak mean residual over its monitor's alert window, in robust baseline sigma, signed.
    """

    monitor: str
    fingerprint: str
    labels: dict[str, str]
    query: str
    correlation: float
    lag: float
    p_value: float
    deviation: float
    anomalous: bool
    incident_id: str | None

    @property
    def strength(self) -> float:
        return abs(self.correlation)

    @property
    def strength_label(self) -> str:
        if self.p_value >= SIGNIFICANCE or self.strength < MODERATE:
            return "weak"
        return "strong" if self.strength >= STRONG else "moderate"

    @property
    def title(self) -> str:
        labels = sorted((name, value) for name, value in self.labels.items() if name != "__name__")
        if not labels:
            return self.monitor
        listed = ", ".join(f"{name}={value}" for name, value in labels)
        return f"{self.monitor} {{{listed}}}"

    @property
    def movement(self) -> str:
        if not self.anomalous:
            return "moved"
        return "rose" if self.deviation >= 0 else "fell"


def find_related(
    *,
    store: Store,
    monitors: Mapping[str, Monitor],
    incident: Incident,
    own: Series,
    window: CorrelationWindow,
) -> tuple[list[RelatedAnomaly], list[str]]:
    """Compare every other stored window with `own`; return the related ones, strongest first.

    The second list names what could not be checked. Redis errors end the search early
    and are reported there, never raised.
    """
    missing: list[str] = []
    grid = window.grid
    tolerance = window.step / 2
    mine = residuals(own.timestamps, own.values, grid, reference=window.reference, tolerance=tolerance)
    if mine.method == "none":
        return [], [f"the incident's own series has no points before the anomaly in {_span_text(window)}, "
                    "so nothing could be correlated with it"]

    try:
        open_incidents = _open_incidents(store, since=window.start)
        candidates = [
            (monitor, fingerprint)
            for name, monitor in sorted(monitors.items())
            for fingerprint in store.series_fingerprints(name)
            if fingerprint != incident.fingerprint
        ]
    except redis.RedisError as error:
        log.error("incident %s: related series not checked, Redis failed: %s", incident.id, error)
        return [], [f"related series: Redis failed ({error})"]

    if len(candidates) > MAX_CANDIDATES:
        log.warning("incident %s: %d stored series, only the first %d are correlated",
                    incident.id, len(candidates), MAX_CANDIDATES)
        missing.append(f"related series: only {MAX_CANDIDATES:,} of {len(candidates):,} stored series were checked")
        candidates = candidates[:MAX_CANDIDATES]

    related = []
    for monitor, fingerprint in candidates:
        try:
            series = store.load_series(monitor.name, fingerprint)
        except redis.RedisError as error:
            log.error("incident %s: stored window %s of %s not read: %s", incident.id, fingerprint, monitor.name, error)
            missing.append(f"related series: Redis failed while reading {monitor.name} ({error})")
            break
        if series is None:
            continue
        found = _compare(mine, series, monitor=monitor, fingerprint=fingerprint, window=window,
                         incident_id=open_incidents.get(fingerprint))
        if found is not None:
            related.append(found)

    related.sort(key=lambda item: (-item.strength, -abs(item.deviation), item.monitor, item.fingerprint))
    return related, missing


def _open_incidents(store: Store, *, since: float) -> dict[str, str]:
    """Map the fingerprint of each open incident that was anomalous at `since` or later to its id."""
    found = {}
    for incident_id in store.open_incident_ids():
        other = store.get_incident(incident_id)
        if other is not None and other.last_anomalous_at >= since:
            found[other.fingerprint] = other.id
    return found


def _compare(
    mine: Residuals, series: Series, *, monitor: Monitor, fingerprint: str, window: CorrelationWindow,
    incident_id: str | None,
) -> RelatedAnomaly | None:
    grid = window.grid
    theirs = residuals(series.timestamps, series.values, grid, reference=window.reference,
                       tolerance=window.step / 2)
    if theirs.method == "none":
        return None
    deviation = _peak_deviation(theirs, grid, window=window, alert_window=monitor.detector.window)
    anomalous = incident_id is not None or abs(deviation) >= ANOMALOUS_SIGMA

    result = cross_correlation(mine.values, theirs.values, max_lag=window.max_lag_steps)
    if result is None:
        if not anomalous:
            return None
        correlation, lag, p_value = 0.0, 0.0, 1.0
    else:
        correlation, lag, p_value = result.correlation, result.lag * window.step, result.p_value

    correlated = abs(correlation) >= MODERATE and p_value < SIGNIFICANCE
    if not anomalous and not correlated:
        return None
    return RelatedAnomaly(
        monitor=monitor.name, fingerprint=fingerprint, labels=dict(series.labels), query=monitor.query,
        correlation=correlation, lag=lag, p_value=p_value, deviation=deviation, anomalous=anomalous,
        incident_id=incident_id,
    )


def _peak_deviation(theirs: Residuals, grid: np.ndarray, *, window: CorrelationWindow, alert_window: float) -> float:
    """Return the largest mean residual over any alert window since MAX_LAG before the anomaly, in sigma."""
    if theirs.scale <= 0.0:
        return 0.0
    width = max(3, int(round(alert_window / window.step)))
    recent = theirs.values[grid >= window.anomaly_start - MAX_LAG]
    if recent.size == 0:
        return 0.0
    width = min(width, recent.size)
    filled = np.nan_to_num(recent, nan=0.0)
    counts = np.convolve(np.isfinite(recent).astype(float), np.ones(width), mode="valid")
    sums = np.convolve(filled, np.ones(width), mode="valid")
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= max(1, width // 2), sums / counts, np.nan)
    if not np.isfinite(means).any():
        return 0.0
    peak = means[int(np.nanargmax(np.abs(means)))]
    return float(peak / theirs.scale)


def _span_text(window: CorrelationWindow) -> str:
    return f"{format_time(window.reference[0])} to {format_time(window.reference[1])}"


def spoken_duration(seconds: float) -> str:
    """Format seconds for a sentence: `45 seconds`, `3 minutes`, `1 hour 5 minutes`."""
    seconds = int(round(abs(seconds)))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    text = f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{text} {minutes} minute{'s' if minutes != 1 else ''}" if minutes else text


def timing(lag: float, step: float) -> str:
    """Describe a lag relative to the incident: `3 minutes before`, `at the same time as`."""
    if abs(lag) < step / 2:
        return "at the same time as"
    return f"{spoken_duration(lag)} {'before' if lag > 0 else 'after'}"


def related_text(related: list[RelatedAnomaly], *, incident: Incident, window: CorrelationWindow,
                 missing: list[str], limit: int = 8) -> str:
    """Render the step-4 text: related anomalies, strongest first, with lead or lag."""
    subject = incident.monitor
    header = (f"Residuals correlated with {subject} from {_clock(window.start)} to {_clock(window.end)} UTC, "
              f"lags up to {spoken_duration(MAX_LAG)}, strongest first:")
    lines = []
    for item in related[:limit]:
        if item.strength_label == "weak":
            # The best lag of a weak correlation means nothing, so it is not shown.
            line = (f"• {item.title} was anomalous in the same window: r = {item.correlation:+.2f}, weak, "
                    "probably unrelated")
        else:
            line = (f"• {item.title} {item.movement} {timing(item.lag, window.step)} {subject}: "
                    f"r = {item.correlation:+.2f}, {item.strength_label}")
        if not item.anomalous:
            line += ", no anomaly of its own"
        if item.incident_id:
            line += f" (incident {item.incident_id})"
        lines.append(line)
    if len(related) > limit:
        lines.append(f"• and {len(related) - limit} more")
    if not lines:
        lines.append("• no other monitored series is anomalous or correlated with this one")
    for note in missing:
        lines.append(f"• not checked: {note}")
    return "\n".join([header, *lines])


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M")
