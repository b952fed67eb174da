"""Causal replay of one series: evaluate every point with only the points before it.

Fitting a model at every point would cost a baseline fit per row, so the replay refits
every `refit_interval` seconds and tests the points in between with the last model. That
is what a live monitor does when it rebuilds its baselines on a schedule. No evaluation
uses a point after its own timestamp.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detectors._engine import baseline_split, fit_model, test_window
from detectors._exclusions import Exclusions
from detectors._results import Evaluation
from detectors._series import as_series, split_clean
from detectors._settings import DetectorSettings

DEFAULT_REFIT_INTERVAL = 3600.0


# Scores with a decaying memory: evidence is -log10(p), and a point scores only when its
# evidence exceeds the evidence of the last scored point times exp(-elapsed / time constant).
DEFAULT_MEMORY = 86400.0
# Evidence e maps to the score 1 - exp(-e / EVIDENCE_SCALE), so p = 1e-4 scores about 0.9.
EVIDENCE_SCALE = 4.0
MIN_P_VALUE = 1e-300
# Within one anomaly run (anomalous points less than RUN_GAP seconds apart) a point scores again
# only when its evidence is RUN_RISE times the run's last scored evidence. The bot likewise
# updates the open incident's card as the evidence grows and opens no second incident.
# Both were chosen on the NAB corpus (see benchmarks/README.md).
RUN_GAP = 1800.0
RUN_RISE = 1.2


@dataclass(frozen=True)
class ReplayResult:
    """Per-point results of a replay, one entry per input point.

    `evaluated_at` holds each point's timestamp; it is None only for results built by hand.
    """

    status: np.ndarray  # "anomaly", "normal" or "skipped"
    p_value: np.ndarray
    deviation: np.ndarray
    kind: np.ndarray  # anomaly kind, "" when not an anomaly
    evaluated_at: np.ndarray | None = None

    def anomaly_scores(self, *, memory: float | None = None) -> np.ndarray:
        """Return a score in [0, 1] per point: the anomaly points where the bot would alert.

        Without `memory`, within each run of consecutive anomalous points, a point scores
        1 - p when its p-value is the run's lowest so far: the point where the bot would open
        the incident, or raise its confidence. Other points score 0.

        With `memory` (seconds), an anomalous point's evidence is e = -log10(p). It scores
        1 - exp(-e / EVIDENCE_SCALE) when e exceeds the evidence of the last scored point,
        decayed by exp(-elapsed / memory), and, inside the same anomaly run, RUN_RISE times
        the run's last scored evidence; else 0. So a lasting anomaly scores once, or again
        when its evidence clearly grows. A second alert soon after needs stronger evidence
        than the first, as the bot keeps an incident open and suppresses repeats. Raises
        ValueError when `evaluated_at` is None.
        """
        if memory is None:
            return self._run_scores()
        if self.evaluated_at is None:
            raise ValueError("scores with a memory need evaluated_at: build the result with replay()")
        if not memory > 0.0:
            raise ValueError(f"invalid memory {memory!r}: use a number of seconds > 0")
        evidence = -np.log10(np.clip(self.p_value.astype(np.float64), MIN_P_VALUE, 1.0))
        scores = np.zeros(self.status.size)
        remembered = 0.0
        remembered_at = -math.inf
        run_scored = 0.0
        last_anomaly_at = -math.inf
        order = np.argsort(self.evaluated_at, kind="stable")
        for index in order[self.status[order] == "anomaly"]:
            now = float(self.evaluated_at[index])
            if now - last_anomaly_at > RUN_GAP:
                run_scored = 0.0
            last_anomaly_at = now

            decayed = remembered * math.exp(-(now - remembered_at) / memory)
            if evidence[index] > max(decayed, RUN_RISE * run_scored):
                scores[index] = 1.0 - math.exp(-evidence[index] / EVIDENCE_SCALE)
                remembered = run_scored = float(evidence[index])
                remembered_at = now
        return scores

    def _run_scores(self) -> np.ndarray:
        scores = np.zeros(self.status.size)
        lowest = 1.0
        for index in np.flatnonzero(self.status == "anomaly"):
            if index == 0 or self.status[index - 1] != "anomaly":
                lowest = 1.0
            p_value = float(self.p_value[index])
            if p_value < lowest:
                scores[index] = 1.0 - p_value
                lowest = p_value
        return np.clip(scores, 0.0, 1.0)


def replay(
    timestamps: np.ndarray,
    values: np.ndarray,
    *,
    settings: DetectorSettings,
    refit_interval: float = DEFAULT_REFIT_INTERVAL,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Evaluate the series at each of its timestamps, using only points up to that time.

    Points out of time order are evaluated in time order and their results returned in input
    order. `progress`, when given, is called with the number of points done since its last
    call. Raises ValueError when the arrays differ in shape.
    """
    order = np.argsort(np.asarray(timestamps, dtype=np.float64), kind="stable")
    times, points = as_series(
        np.asarray(timestamps, dtype=np.float64)[order], np.asarray(values, dtype=np.float64)[order]
    )
    keep = np.isfinite(points) & np.isfinite(times)
    clean_times = times[keep]
    clean_values = points[keep]
    count = times.size

    status = np.full(count, "skipped", dtype=object)
    p_values = np.ones(count)
    deviations = np.zeros(count)
    kinds = np.full(count, "", dtype=object)

    model: object = None
    fitted_at = -math.inf
    exclusions = Exclusions()
    for index in range(count):
        now = float(times[index])
        known = int(np.searchsorted(clean_times, now, side="right"))
        split = split_clean(clean_times[:known], clean_values[:known], now=now, settings=settings)
        if model is None or now - fitted_at >= refit_interval:
            model = fit_model(baseline_split(split, settings, exclusions.excluded()), settings)
            fitted_at = now
        if isinstance(model, Evaluation):
            result = model
            # A fit without window data builds no model, so refit at the next point.
            if model.reason == "no data":
                model = None
        else:
            result = test_window(split, settings, model)

        # The row's own point is the one this evaluation is the first to include.
        own_point = times[index : index + 1] if np.isfinite(points[index]) else times[:0]
        oldest = now - settings.window - settings.baseline_offset - settings.baseline
        exclusions.record(result, own_point, oldest=oldest)

        status[index] = result.status
        p_values[index] = result.p_value
        deviations[index] = result.deviation
        kinds[index] = result.anomaly.kind if result.anomaly is not None else ""
        if progress is not None:
            progress(1)

    restore = np.empty_like(order)
    restore[order] = np.arange(count)
    return ReplayResult(
        status=status[restore],
        p_value=p_values[restore],
        deviation=deviations[restore],
        kind=kinds[restore],
        evaluated_at=np.asarray(timestamps, dtype=np.float64).copy(),
    )
