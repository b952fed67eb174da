"""Locate the current anomalous run and describe it as an Anomaly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors._results import Anomaly, spike_shape

# Up to this many consecutive points inside the bound do not end a run, so one noisy point
# in a sustained spike does not cut its duration short.
MAX_RUN_GAP_POINTS = 2


@dataclass(frozen=True)
class Run:
    """Start time and duration (seconds) of the current run of points beyond the bound."""

    start: float
    duration: float
    points: int


def current_run(times: np.ndarray, excess: np.ndarray, *, window_start: float, now: float) -> Run | None:
    """Find the run of points beyond the bound that reaches into the alert window.

    `excess` is True where a point lies beyond the bound in the anomaly's direction. The run
    ends at the last such point in the window and extends back through earlier points, across
    gaps of up to MAX_RUN_GAP_POINTS points. Its duration counts one sampling step for the last
    point. Returns None when no point in (window_start, now] lies beyond the bound.
    """
    in_window = (times > window_start) & (times <= now)
    hits = np.flatnonzero(excess & in_window)
    if hits.size == 0:
        return None
    last = int(hits[-1])

    first = last
    gap = 0
    points = 1
    for index in range(last - 1, -1, -1):
        if excess[index]:
            first = index
            points += 1
            gap = 0
        else:
            gap += 1
            if gap > MAX_RUN_GAP_POINTS:
                break

    step = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    return Run(start=float(times[first]), duration=float(times[last] - times[first]) + step, points=points)


def describe(
    *,
    kind: str,
    direction: str,
    run: Run,
    amplitude: float,
    deviation: float,
    details: dict[str, float | str],
) -> Anomaly:
    """Build the Anomaly, with a spike's shape taken from the run's duration."""
    shape = spike_shape(run.duration) if kind == "spike" else None
    return Anomaly(
        kind=kind,
        shape=shape,
        direction=direction,
        start=run.start,
        duration=run.duration,
        amplitude=amplitude,
        deviation=deviation,
        details={**details, "run_points": float(run.points)},
    )
