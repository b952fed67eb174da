"""Break a monitor's metric down by its labels and find where the change is concentrated.

For each dimension label (service, region, user segment, ...) the monitor's query is
grouped by that label, and each label value is compared with its own baseline:

- baseline: mean and standard deviation of the value before the anomaly, over
  [anomaly start - BASELINE_SPAN, anomaly start - 2 steps). The last two steps are left
  out so that an onset the detector dated a little late does not leak into the baseline.
- current: mean of the value from the anomaly start to now.
- deviation: (current - baseline mean) / baseline standard deviation, signed. The standard
  deviation is at least MIN_RELATIVE_SCALE of the baseline mean, so a flat baseline does
  not turn a tiny change into a huge deviation.
- share: the value's part of the total change in the anomaly's direction (see
  `detectors.correlation.change_shares`). For a summed metric this is its contribution to
  the change; for an averaged one (latency) it is its part of the summed per-value change.
- mark: red from RED_SIGMA in the anomaly's direction, yellow from YELLOW_SIGMA, else green.

Pairs of labels with a role (service and region, service and segment) are broken down
the same way, for the pattern rules in `bot.rootcause.hypotheses`.

Prometheus sources get grouped queries (rules in `bot.rootcause.promql`). Other sources
get one request for the monitor's own query, and its series are grouped by label here,
averaged (or summed, by the same rule) at each timestamp. A label that the query's series
do not carry is reported as unavailable.

When the monitor's query returns several series (say one per service) and the incident
is about one of them, only the returned series that agree with the incident's labels are
counted, so the breakdown describes the incident's own series.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bot.errors import SourceError
from bot.monitors import Monitor
from bot.rootcause.promql import aggregation_of, grouped_query
from bot.sources.base import Series, Source
from bot.sources.prometheus import PrometheusSource
from detectors.correlation import change_shares, onset_index

log = logging.getLogger(__name__)

DEFAULT_DIMENSIONS = ("service", "region", "segment")
# Label names that play each role in the pattern rules; the first one present is used.
ROLE_LABELS = {
    "service": ("service", "app", "application", "job", "component"),
    "region": ("region", "zone", "availability_zone", "datacenter", "dc", "location"),
    "segment": ("segment", "user_segment", "customer_segment", "plan", "customer_tier", "tier"),
}
CROSS_ROLES = (("service", "region"), ("service", "segment"))

BASELINE_SPAN = 3600.0
# An onset is searched for from this many seconds before the anomaly start.
ONSET_LOOKBACK = 600.0
MIN_BASELINE_POINTS = 5
MIN_RELATIVE_SCALE = 0.01
RED_SIGMA = 3.0
YELLOW_SIGMA = 1.5
# The smallest set of values whose shares add up to this explains the change.
EXPLAINED_SHARE = 0.8
MAX_EXPLAINING_VALUES = 3

Mark = Literal["red", "yellow", "green"]
MARK_EMOJI = {"red": "🔴", "yellow": "🟡", "green": "🟢"}


@dataclass(frozen=True)
class DimensionRow:
    """One label value against its own baseline, in the metric's units and in baseline sigma.

    `onset` is the unix time the value first left its baseline by RED_SIGMA for two
    steps in a row, None when it did not.
    """

    label: str
    value: str
    current: float
    baseline: float
    deviation: float
    share: float
    mark: Mark
    onset: float | None = None

    @property
    def degraded(self) -> bool:
        return self.mark != "green"


@dataclass(frozen=True)
class CrossCell:
    """One combination of two label values, such as service=checkout and region=eu-west-1."""

    values: tuple[str, str]
    current: float
    baseline: float
    deviation: float
    delta: float
    share: float
    mark: Mark

    @property
    def degraded(self) -> bool:
        return self.mark != "green"


@dataclass(frozen=True)
class Breakdown:
    """The rows of one label, largest share first, and the query that produced them."""

    label: str
    query: str
    rows: list[DimensionRow]

    @property
    def top(self) -> DimensionRow | None:
        return self.rows[0] if self.rows else None

    def explaining(self) -> list[DimensionRow]:
        """Return the fewest rows, largest share first, whose shares add up to EXPLAINED_SHARE."""
        chosen, total = [], 0.0
        for row in self.rows:
            if row.share <= 0.0 or total >= EXPLAINED_SHARE:
                break
            chosen.append(row)
            total += row.share
        return chosen if total >= EXPLAINED_SHARE else []


@dataclass(frozen=True)
class CrossBreakdown:
    labels: tuple[str, str]
    query: str
    cells: list[CrossCell]

    def within(self, first_value: str | None = None, second_value: str | None = None) -> list[CrossCell]:
        """Return the cells whose first (or second) label has the given value."""
        return [
            cell for cell in self.cells
            if (first_value is None or cell.values[0] == first_value)
            and (second_value is None or cell.values[1] == second_value)
        ]


@dataclass
class DimensionAnalysis:
    """Every breakdown that could be computed, and a line for each that could not."""

    breakdowns: list[Breakdown] = field(default_factory=list)
    crosses: list[CrossBreakdown] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[DimensionRow]:
        return [row for breakdown in self.breakdowns for row in breakdown.rows]

    def for_role(self, role: str) -> Breakdown | None:
        """Return the breakdown of the first label that plays `role` (service, region, segment)."""
        for breakdown in self.breakdowns:
            if role_of(breakdown.label) == role and breakdown.rows:
                return breakdown
        return None

    def cross_for_roles(self, first: str, second: str) -> CrossBreakdown | None:
        for cross in self.crosses:
            if (role_of(cross.labels[0]), role_of(cross.labels[1])) == (first, second) and cross.cells:
                return cross
        return None


def role_of(label: str) -> str | None:
    for role, names in ROLE_LABELS.items():
        if label in names:
            return role
    return None


@dataclass(frozen=True)
class _Window:
    start: float
    end: float
    anomaly_start: float
    step: float
    direction: float


@dataclass(frozen=True)
class _GroupStats:
    current: float
    baseline: float
    deviation: float
    delta: float
    onset: float | None


def break_down(
    *,
    source: Source,
    monitor: Monitor,
    labels: Sequence[str],
    anomaly_start: float,
    now: float,
    direction: float,
    incident_id: str,
    scope: Mapping[str, str] | None = None,
) -> DimensionAnalysis:
    """Break `monitor`'s metric down by each of `labels`, and by the role pairs among them.

    `scope` is the incident's series labels: a returned series that carries one of them
    (other than the labels grouped by) with another value belongs to another series of
    the monitor and is left out. Never raises on a backend error: each failed query
    becomes a line in `missing`.
    """
    scope = scope or {}
    window = _Window(start=anomaly_start - BASELINE_SPAN, end=now, anomaly_start=anomaly_start,
                     step=monitor.resolution, direction=direction)
    analysis = DimensionAnalysis()
    aggregation = aggregation_of(monitor.query, metric_type=_metric_type(monitor))
    plain_series: list[Series] | None = None

    def fetch(group: tuple[str, ...]) -> tuple[str, list[Series]]:
        nonlocal plain_series
        if isinstance(source, PrometheusSource):
            query = grouped_query(monitor.query, group, metric_type=_metric_type(monitor))
            series = _fetch(source, query, window, incident_id=incident_id, analysis=analysis)
        else:
            if plain_series is None:
                plain_series = _fetch(source, monitor.query, window, incident_id=incident_id, analysis=analysis)
            query, series = monitor.query, plain_series
        in_scope = [entry for entry in series if _in_scope(entry.labels, scope, group)]
        return query, _group_locally(in_scope, group, aggregation)

    present: list[str] = []
    for label in labels:
        query, series = fetch((label,))
        rows = _rows(label, series, window)
        if rows is None:
            analysis.missing.append(
                f"dimension {label}: `{query}` returned no series with a {label} label; "
                "list the monitor's labels under `dimensions:` in the monitors file"
            )
            continue
        analysis.breakdowns.append(Breakdown(label=label, query=query, rows=rows))
        present.append(label)

    for first, second in itertools.permutations(present, 2):
        if (role_of(first), role_of(second)) not in CROSS_ROLES:
            continue
        query, series = fetch((first, second))
        cells = _cells((first, second), series, window)
        if cells:
            analysis.crosses.append(CrossBreakdown(labels=(first, second), query=query, cells=cells))
    return analysis


def _in_scope(labels: Mapping[str, str], scope: Mapping[str, str], group: tuple[str, ...]) -> bool:
    """True unless the series carries a label of `scope`, outside `group`, with another value."""
    for name, value in scope.items():
        if name == "__name__" or name in group:
            continue
        if name in labels and labels[name] != value:
            return False
    return True


def _metric_type(monitor: Monitor) -> str | None:
    return getattr(monitor, "metric_type", None)


def _fetch(source: Source, query: str, window: _Window, *, incident_id: str,
           analysis: DimensionAnalysis) -> list[Series]:
    try:
        return source.fetch(query, start=window.start, end=window.end, step=window.step)
    except SourceError as error:
        log.error("incident %s: dimension query failed on %s: %s", incident_id, error.source, error)
        analysis.missing.append(f"`{query}` failed on {error.source}: {error}")
        return []


def _group_locally(series: list[Series], group: tuple[str, ...], aggregation: str) -> list[Series]:
    """Aggregate the series that share values of `group` at each timestamp (avg or sum).

    A series without every label of `group` is left out.
    """
    members: dict[tuple[str, ...], list[Series]] = {}
    for entry in series:
        key = tuple(entry.labels.get(label, "") for label in group)
        if all(key):
            members.setdefault(key, []).append(entry)

    grouped = []
    for key, parts in members.items():
        times = np.unique(np.concatenate([part.timestamps for part in parts]))
        stacked = np.full((len(parts), times.size), np.nan)
        for index, part in enumerate(parts):
            finite = np.isfinite(part.values)
            positions = np.searchsorted(times, part.timestamps[finite])
            stacked[index, positions] = part.values[finite]
        counted = np.sum(np.isfinite(stacked), axis=0)
        with np.errstate(invalid="ignore"):
            combined = np.nansum(stacked, axis=0) if aggregation == "sum" else np.nansum(stacked, axis=0) / counted
        combined[counted == 0] = np.nan
        grouped.append(Series(dict(zip(group, key, strict=True)), times, combined))
    return grouped


def _stats(entry: Series, window: _Window) -> _GroupStats | None:
    times, values = entry.timestamps, entry.values
    finite = np.isfinite(values)
    in_baseline = finite & (times >= window.start) & (times < window.anomaly_start - 2 * window.step)
    in_current = finite & (times >= window.anomaly_start) & (times <= window.end)
    if np.count_nonzero(in_baseline) < MIN_BASELINE_POINTS or not in_current.any():
        return None

    baseline = float(values[in_baseline].mean())
    scale = max(float(values[in_baseline].std(ddof=1)), MIN_RELATIVE_SCALE * abs(baseline), 1e-12)
    current = float(values[in_current].mean())
    after = int(np.searchsorted(times, window.anomaly_start - ONSET_LOOKBACK))
    onset = onset_index(values - baseline, after=after, scale=scale, threshold=RED_SIGMA)
    return _GroupStats(current=current, baseline=baseline, deviation=(current - baseline) / scale,
                       delta=current - baseline, onset=float(times[onset]) if onset is not None else None)


def _mark(deviation: float, direction: float) -> Mark:
    aligned = deviation * (1.0 if direction >= 0 else -1.0)
    if aligned >= RED_SIGMA:
        return "red"
    if aligned >= YELLOW_SIGMA:
        return "yellow"
    return "green"


def _rows(label: str, series: list[Series], window: _Window) -> list[DimensionRow] | None:
    """Compute the rows of one label; None when no series carries the label."""
    labelled = [entry for entry in series if entry.labels.get(label)]
    if not labelled:
        return None
    computed = []
    for entry in labelled:
        stats = _stats(entry, window)
        if stats is not None:
            computed.append((entry.labels[label], stats))
    shares = change_shares(np.array([stats.delta for _, stats in computed]), direction=window.direction)
    rows = [
        DimensionRow(label=label, value=value, current=stats.current, baseline=stats.baseline,
                     deviation=stats.deviation, share=float(share), mark=_mark(stats.deviation, window.direction),
                     onset=stats.onset)
        for (value, stats), share in zip(computed, shares, strict=True)
    ]
    rows.sort(key=lambda row: (-row.share, -abs(row.deviation), row.value))
    return rows


def _cells(labels: tuple[str, str], series: list[Series], window: _Window) -> list[CrossCell]:
    computed = []
    for entry in series:
        values = (entry.labels.get(labels[0], ""), entry.labels.get(labels[1], ""))
        if not all(values):
            continue
        stats = _stats(entry, window)
        if stats is not None:
            computed.append((values, stats))
    shares = change_shares(np.array([stats.delta for _, stats in computed]), direction=window.direction)
    cells = [
        CrossCell(values=values, current=stats.current, baseline=stats.baseline, deviation=stats.deviation,
                  delta=stats.delta, share=float(share), mark=_mark(stats.deviation, window.direction))
        for (values, stats), share in zip(computed, shares, strict=True)
    ]
    cells.sort(key=lambda cell: (-cell.share, cell.values))
    return cells


def shares_within(cells: list[CrossCell], *, direction: float) -> list[tuple[CrossCell, float]]:
    """Return each cell with its share of the change among `cells` only, largest first."""
    if not cells:
        return []
    shares = change_shares(np.array([cell.delta for cell in cells]), direction=direction)
    paired = [(cell, float(share)) for cell, share in zip(cells, shares, strict=True)]
    paired.sort(key=lambda item: -item[1])
    return paired


def direction_sign(direction: str, deviation: float) -> float:
    """Return +1 for an anomaly above its baseline, -1 below."""
    if direction == "above":
        return 1.0
    if direction == "below":
        return -1.0
    return -1.0 if math.isfinite(deviation) and deviation < 0 else 1.0
