"""Raw counters: find queries that return one, and turn its samples into increases across resets.

A counter (`http_requests_total`) only goes up, until its process restarts
and it starts again from 0. Monitored as it is, the restart looks like a
drop to zero and the steady climb looks like a trend. Prometheus's rate()
and increase() handle both; a query without them returns the raw counter,
so the source turns it into the increase over each step. A value lower than
the one before means the counter restarted. The increase over that step is
unknown, because the counts between the last sample and the restart are
lost, so that point is left out rather than read as a small increase.
"""

from __future__ import annotations

import re

import numpy as np

# Quoted strings in PromQL: label values may contain anything, including "_total" or "[".
_PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# A metric name with the OpenMetrics counter suffix, not part of a longer name.
_COUNTER_NAME = re.compile(r"(?<![\w:])[a-zA-Z_:][a-zA-Z0-9_:]*_total\b")
# A range selector or subquery: `[5m]`, `[1h:1m]`. Every function that handles
# counter resets (rate, irate, increase, resets) needs one.
_RANGE_SELECTOR = re.compile(r"\[[^\]]*\]")

# A step longer than this many grid steps since the sample before is a gap.
GAP_STEPS = 1.5


def is_raw_counter_query(query: str) -> bool:
    """Return True when `query` reads a `_total` counter without any range function.

    `http_requests_total{code="500"}` and `sum(http_requests_total)` are raw;
    `rate(http_requests_total[5m])` is not.
    """
    text = _PROMQL_STRING.sub('""', query)
    return bool(_COUNTER_NAME.search(text)) and not _RANGE_SELECTOR.search(text)


def counter_increases(
    timestamps: np.ndarray, values: np.ndarray, *, step: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Return the increase of a raw counter over each step, and how many resets it crossed.

    Each point gets the increase since the sample one step before. These
    points are left out, because their increase is unknown: the step across
    a reset, a point whose previous sample is missing (a gap longer than
    GAP_STEPS steps) and a point whose previous sample is not finite. A
    point whose own value is not finite keeps that value, so it is reported
    as data quality and never read as a drop. The first sample has no
    predecessor, so fetch one step before the range you need.
    """
    if timestamps.size < 2:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy(), 0

    previous, current = values[:-1], values[1:]
    resets = np.isfinite(previous) & np.isfinite(current) & (current < previous)

    increases = current - previous
    not_finite = ~np.isfinite(current)
    increases[not_finite] = current[not_finite]

    after_gap = np.diff(timestamps) > step * GAP_STEPS
    keep = ~after_gap & np.isfinite(previous) & ~resets
    return timestamps[1:][keep], increases[keep], int(np.count_nonzero(resets & ~after_gap))
