"""The sigma detector over many series at once, with baselines kept as running sums.

All series share one regular time grid: one column per step, NaN for a missing point.
`SigmaBank.from_history` builds the state from a 2-D history (the baseline rebuild), and
`SigmaBank.append` adds one new column and evaluates every series in O(series) for the sums
plus one comparison pass over the stored window means for the p-values.

Per series the bank keeps a ring buffer of values (series x (window + offset + baseline)
steps, float64) and the mean of the window that ended at each baseline step (float32).
For 10,000 series x 7 days at 1-minute steps that is about 0.8 GB + 0.4 GB.

The results match `evaluate` with the `sigma` detector on the same grid, except that the
baseline's sums drift by float64 rounding as steps are added and removed. Rebuild from
history now and then (daily is plenty) to reset it.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from detectors._level import MIN_RELATIVE_SCALE
from detectors._pvalues import (
    MIN_NULL_SAMPLE,
    cantelli_p,
    count_clusters,
    fit_generalised_pareto,
    pareto_survival,
    tail_size,
)
from detectors._results import HIGH_TIER_P, MEDIUM_TIER_P
from detectors._settings import DetectorSettings

# Series are processed in blocks of this many rows to bound temporary memory.
ROW_BLOCK = 512
# Threads that compute p-values of row blocks in parallel.
THREADS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class BatchEvaluation:
    """Results for every series of one cycle, as arrays with one entry per series.

    `status` is "anomaly", "normal" or "skipped", and `reason` is "" unless skipped. The
    other arrays follow `Evaluation`: deviation 0 and p-value 1 for skipped series, and
    `kind` is "spike", "drop" or "" for non-anomalies. `crossed` is True where the deviation
    crosses a bound in the configured direction, whatever the tier, so a caller can tier on
    adjusted p-values (see `adjust_p_values`).
    """

    evaluated_at: float
    status: np.ndarray
    reason: np.ndarray
    current: np.ndarray
    expected: np.ndarray
    baseline_std: np.ndarray
    deviation: np.ndarray
    p_value: np.ndarray
    tier: np.ndarray
    kind: np.ndarray
    crossed: np.ndarray


class SigmaBank:
    """Incremental `sigma` detector state for many series on one regular time grid."""

    def __init__(
        self, *, series: int, step: float, settings: DetectorSettings, conservative_tail: bool = False
    ) -> None:
        """Set up empty state; `conservative_tail` selects the p-values' tail fit (see `from_history`)."""
        if settings.min_fraction > 0.0:
            raise ValueError(
                "min_fraction > 0 is not supported by the batch detector: use detectors.evaluate per series"
            )
        self.settings = settings
        self.conservative_tail = conservative_tail or settings.conservative_tail
        self.step = float(step)
        self.series = int(series)
        self.window_steps = max(1, round(settings.window / step))
        self.offset_steps = round(settings.baseline_offset / step)
        self.baseline_steps = max(1, round(settings.baseline / step))
        # The step at now - window is in neither the window (now - window, now] nor the
        # baseline, which ends before now - window - offset.
        self.span = self.window_steps + self.offset_steps + self.baseline_steps + 1
        self.min_window_points = max(1, math.ceil(self.window_steps / 2))

        self.values = np.full((series, self.span), np.nan)
        self.window_means = np.full((series, self.span), np.nan, dtype=np.float32)
        self.reference = np.zeros(series)
        self.window_sum = np.zeros(series)
        self.window_count = np.zeros(series, dtype=np.int64)
        self.baseline_sum = np.zeros(series)
        self.baseline_squares = np.zeros(series)
        self.baseline_count = np.zeros(series, dtype=np.int64)
        self.position = 0  # steps appended so far
        self.now = math.nan
        # Timestamp of each series' first finite point, +inf until it has one (for the warm-up).
        self.first_seen = np.full(series, np.inf)

    @classmethod
    def from_history(
        cls,
        timestamps: np.ndarray,
        values: np.ndarray,
        *,
        settings: DetectorSettings,
        conservative_tail: bool = False,
    ) -> SigmaBank:
        """Build the state from a (series x steps) history on a regular grid.

        With `conservative_tail`, p-values beyond the null sample come from a Pareto tail fitted
        further out with its shape raised by a standard error (see `detectors._pvalues`). They
        are larger than those of `evaluate` there, and closer to calibrated at the 1e-5 to 1e-6
        that a Benjamini-Hochberg adjustment over thousands of series needs.

        Raises ValueError when the timestamps are not evenly spaced or the shapes differ.
        """
        times, history, step = check_grid(timestamps, values)
        bank = cls(series=history.shape[0], step=step, settings=settings, conservative_tail=conservative_tail)
        for first in range(0, bank.series, ROW_BLOCK):
            rows = slice(first, min(first + ROW_BLOCK, bank.series))
            bank._load_rows(rows, history[rows], times)
        bank.position = times.size
        bank.now = float(times[-1])
        return bank

    def _load_rows(self, rows: slice, history: np.ndarray, times: np.ndarray) -> None:
        """Set the state of `rows` from their full history at `times`, as pushing each step would."""
        steps = history.shape[1]
        present = np.isfinite(history)
        self.first_seen[rows] = np.where(present.any(axis=1), times[np.argmax(present, axis=1)], np.inf)
        counts = present.sum(axis=1)
        totals = np.where(present, history, 0.0).sum(axis=1)
        reference = np.divide(totals, counts, out=np.zeros(counts.shape), where=counts > 0)
        self.reference[rows] = reference
        centred = np.where(present, history - reference[:, None], np.nan)
        filled = np.where(present, centred, 0.0)

        # Cumulative sums with a leading zero column: sum of steps [a, b) is c[:, b] - c[:, a].
        zero = np.zeros((filled.shape[0], 1))
        sums = np.concatenate((zero, np.cumsum(filled, axis=1)), axis=1)
        squares = np.concatenate((zero, np.cumsum(filled * filled, axis=1)), axis=1)
        tally = np.concatenate((zero, np.cumsum(present, axis=1)), axis=1)

        def between(cumulative: np.ndarray, start: int, stop: int) -> np.ndarray:
            start = min(max(start, 0), steps)
            stop = min(max(stop, 0), steps)
            return cumulative[:, stop] - cumulative[:, start]

        window_first = steps - self.window_steps
        self.window_sum[rows] = between(sums, window_first, steps)
        self.window_count[rows] = between(tally, window_first, steps).astype(np.int64)
        baseline_stop = steps - self.window_steps - self.offset_steps - 1
        baseline_first = baseline_stop - self.baseline_steps
        self.baseline_sum[rows] = between(sums, baseline_first, baseline_stop)
        self.baseline_squares[rows] = between(squares, baseline_first, baseline_stop)
        self.baseline_count[rows] = between(tally, baseline_first, baseline_stop).astype(np.int64)

        # The ring buffers hold the last `span` steps at slot position % span.
        kept = np.arange(max(0, steps - self.span), steps)
        slots = kept % self.span
        self.values[rows, slots] = centred[:, kept]
        ends = kept + 1
        starts = np.maximum(ends - self.window_steps, 0)
        window_sums = sums[:, ends] - sums[:, starts]
        window_counts = tally[:, ends] - tally[:, starts]
        means = np.where(
            window_counts >= self.min_window_points,
            window_sums / np.maximum(window_counts, 1),
            np.nan,
        )
        self.window_means[rows, slots] = means.astype(np.float32)

    def append(self, timestamp: float, column: np.ndarray, *, crossing_only: bool = False) -> BatchEvaluation:
        """Add the values of one new step (NaN when missing) and evaluate every series.

        With `crossing_only`, p-values are computed only for series whose deviation crosses
        a bound, and are NaN (tier "low") for the others. That is faster, but the result is
        then unfit for `adjust_p_values`, which needs every p-value.
        """
        if math.isfinite(self.now) and abs(timestamp - self.now - self.step) > 1e-6 * self.step:
            raise ValueError(
                f"timestamp {timestamp!r} is not one step ({self.step} s) after {self.now!r}: "
                "append one column per step, NaN for a missing one"
            )
        self._push(float(timestamp), np.asarray(column, dtype=np.float64))
        return self.evaluate(crossing_only=crossing_only)

    def _push(self, timestamp: float, column: np.ndarray) -> None:
        """Advance every running sum by one step."""
        column = np.where(np.isfinite(column), column - self.reference, np.nan)
        slot = self.position % self.span
        leaving_window = self._value_at(self.position - self.window_steps)
        entering_baseline = self._value_at(self.position - self.window_steps - self.offset_steps - 1)
        leaving_baseline = self._value_at(self.position - self.span)

        present = np.isfinite(column)
        self.first_seen = np.where(present & np.isinf(self.first_seen), timestamp, self.first_seen)
        self.window_sum += np.where(present, column, 0.0)
        self.window_count += present
        self._remove_from_window(leaving_window)
        self._add_to_baseline(entering_baseline, sign=1.0)
        self._add_to_baseline(leaving_baseline, sign=-1.0)
        self.values[:, slot] = column

        # The window that ends at this step becomes a null sample once it is in the baseline.
        means = np.where(
            self.window_count >= self.min_window_points,
            self.window_sum / np.maximum(self.window_count, 1),
            np.nan,
        )
        self.window_means[:, slot] = means
        self.position += 1
        self.now = timestamp

    def _value_at(self, position: int) -> np.ndarray | None:
        if position < 0 or position < self.position - self.span:
            return None
        return self.values[:, position % self.span]

    def _remove_from_window(self, leaving: np.ndarray | None) -> None:
        if leaving is None:
            return
        present = np.isfinite(leaving)
        self.window_sum -= np.where(present, leaving, 0.0)
        self.window_count -= present

    def _add_to_baseline(self, column: np.ndarray | None, *, sign: float) -> None:
        if column is None:
            return
        present = np.isfinite(column)
        filled = np.where(present, column, 0.0)
        self.baseline_sum += sign * filled
        self.baseline_squares += sign * filled * filled
        self.baseline_count += np.where(present, 1, 0) * int(sign)

    def evaluate(self, *, crossing_only: bool = False) -> BatchEvaluation:
        """Evaluate every series at the latest step; see `append` for `crossing_only`."""
        settings = self.settings
        count = self.baseline_count
        safe_count = np.maximum(count, 1)
        mean = self.baseline_sum / safe_count
        variance = np.maximum(self.baseline_squares / safe_count - mean * mean, 0.0)
        std = np.sqrt(variance)
        level = mean + self.reference
        current_offset = self.window_sum / np.maximum(self.window_count, 1)

        no_data = self.window_count == 0
        baseline_end = self.now - settings.window - settings.baseline_offset
        young = baseline_end - self.first_seen < settings.required_history
        short = ~no_data & ((count < settings.min_samples) | young)
        flat = ~no_data & ~short & ((std <= 0.0) | (std <= MIN_RELATIVE_SCALE * np.abs(level)))
        usable = ~(no_data | short | flat)

        deviation = np.zeros(self.series)
        deviation[usable] = (current_offset[usable] - mean[usable]) / std[usable]
        direction = settings.direction
        above = usable & (direction != "below") & (deviation > settings.threshold)
        below = usable & (direction != "above") & (deviation < -settings.lower_bound)
        p_value = np.ones(self.series)
        tested = usable
        if crossing_only:
            p_value[usable] = np.nan
            tested = above | below
        p_value[tested] = self._p_values(current_offset, deviation, tested)
        tier = np.where(p_value < HIGH_TIER_P, "high", np.where(p_value < MEDIUM_TIER_P, "medium", "low"))
        anomalous = (above | below) & (tier != "low")

        status = np.where(anomalous, "anomaly", np.where(usable, "normal", "skipped"))
        reason = np.where(
            no_data,
            "no data",
            np.where(short, "insufficient history", np.where(flat, "no variance", "")),
        )
        kind = np.where(anomalous & above, "spike", np.where(anomalous & below, "drop", ""))
        current = np.where(no_data, np.nan, current_offset + self.reference)
        return BatchEvaluation(
            evaluated_at=self.now,
            status=status,
            reason=reason,
            current=np.where(status == "skipped", np.nan, current),
            expected=np.where(count > 0, level, np.nan),
            baseline_std=np.where(count > 0, std, np.nan),
            deviation=deviation,
            p_value=p_value,
            tier=np.where(usable, tier, "low"),
            kind=kind,
            crossed=above | below,
        )

    def _null_slices(self) -> list[slice]:
        """Return the ring-buffer slices of windows that lie entirely inside the baseline."""
        latest = self.position - 1
        newest = latest - self.window_steps - self.offset_steps - 1
        oldest = max(latest - self.span + self.window_steps + 1, 0)
        if newest < oldest:
            return []
        first = oldest % self.span
        last = newest % self.span
        if first <= last:
            return [slice(first, last + 1)]
        return [slice(first, self.span), slice(0, last + 1)]

    def _p_values(self, observed: np.ndarray, deviation: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return the empirical p-value of each usable row's window mean."""
        pieces = self._null_slices()
        direction = self.settings.direction
        indices = np.flatnonzero(rows)
        result = np.ones(indices.size)
        if not pieces:
            return np.array([cantelli_p(float(d), direction) for d in deviation[indices]])

        def block_p(block_start: int) -> None:
            block = indices[block_start : block_start + ROW_BLOCK]
            value = observed[block].astype(np.float32)[:, None]
            size = np.zeros(block.size, dtype=np.int64)
            upper = np.zeros(block.size, dtype=np.int64)
            lower = np.zeros(block.size, dtype=np.int64)
            parts = []
            for piece in pieces:
                part = self.window_means[block, piece]
                parts.append(part)
                size += np.count_nonzero(np.isfinite(part), axis=1)
                upper += np.count_nonzero(part >= value, axis=1)
                lower += np.count_nonzero(part <= value, axis=1)
            null = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
            conservative = self.conservative_tail
            p_upper = _smoothed_p(null, upper, size, observed[block], side=1.0, conservative=conservative)
            p_lower = _smoothed_p(null, lower, size, observed[block], side=-1.0, conservative=conservative)
            if direction == "above":
                p = p_upper
            elif direction == "below":
                p = p_lower
            else:
                p = np.minimum(1.0, 2.0 * np.minimum(p_upper, p_lower))
            small = size < MIN_NULL_SAMPLE
            if np.any(small):
                p[small] = [cantelli_p(float(d), direction) for d in deviation[block][small]]
            result[block_start : block_start + block.size] = p

        # NumPy releases the GIL in these array operations, so blocks run in parallel.
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(block_p, range(0, indices.size, ROW_BLOCK)))
        return result


def check_grid(timestamps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Check a (series x steps) history on an even grid and return it with its step.

    Raises ValueError when the timestamps are not evenly spaced or the shapes differ.
    """
    times = np.asarray(timestamps, dtype=np.float64)
    history = np.asarray(values, dtype=np.float64)
    if history.ndim != 2 or times.ndim != 1 or history.shape[1] != times.size:
        raise ValueError(
            f"values must be (series x steps) with one column per timestamp, got {history.shape} and {times.shape}"
        )
    if times.size < 2:
        raise ValueError("history needs at least two timestamps to know the grid step")
    steps = np.diff(times)
    step = float(np.median(steps))
    if step <= 0.0 or np.max(np.abs(steps - step)) > 1e-6 * step:
        raise ValueError("timestamps must be evenly spaced: resample to a regular grid (NaN for gaps)")
    return times, history, step


def _smoothed_p(
    null: np.ndarray,
    exceeding: np.ndarray,
    size: np.ndarray,
    observed: np.ndarray,
    *,
    side: float,
    conservative: bool,
) -> np.ndarray:
    """Return (1 + count) / (1 + N), with a fitted Pareto tail where the count is in the tail.

    Each row of `null` holds the baseline's window means in time order, NaN where missing.
    """
    p = (1.0 + exceeding) / (1.0 + size)
    tails = tail_size(size, conservative=conservative)
    in_tail = np.flatnonzero((exceeding < tails) & (size >= 2 * tails))
    for row in in_tail:
        positions = np.flatnonzero(np.isfinite(null[row]))
        sample = side * null[row][positions].astype(np.float64)
        k = int(tails[row])
        # The first index is the (k + 1)-th largest value, the threshold; the others exceed it.
        top = np.argpartition(sample, sample.size - k - 1)[sample.size - k - 1 :]
        threshold = float(sample[top[0]])
        excess = np.sort(sample[top[1:]]) - threshold
        clusters = count_clusters(positions[top[1:]]) if conservative else None
        shape, scale = fit_generalised_pareto(excess, clusters=clusters)
        if scale > 0.0:
            p[row] = k / (1.0 + size[row]) * pareto_survival(side * float(observed[row]) - threshold, shape, scale)
    return p


def evaluate_many(
    timestamps: np.ndarray,
    values: np.ndarray,
    *,
    settings: DetectorSettings,
) -> BatchEvaluation:
    """Evaluate every row of a (series x steps) array with `sigma` at the last timestamp.

    The timestamps must be evenly spaced, with NaN in `values` for missing points. To
    evaluate every cycle, keep the returned bank of `SigmaBank.from_history` and `append`
    one column per step in place of calling this again.
    """
    return SigmaBank.from_history(timestamps, values, settings=settings).evaluate()
