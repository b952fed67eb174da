"""Input checks and the split of one series into its alert window and its baseline."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from detectors._settings import DetectorSettings


@dataclass(frozen=True)
class SeriesSplit:
    """The finite, causal points of a series, cut into baseline and alert window.

    `times` and `values` are every finite point with timestamp <= now, ascending.
    `baseline` and `window` are index slices into them.
    """

    times: np.ndarray
    values: np.ndarray
    baseline: slice
    window: slice
    baseline_start: float
    baseline_end: float
    window_start: float
    now: float

    @property
    def baseline_times(self) -> np.ndarray:
        return self.times[self.baseline]

    @property
    def baseline_values(self) -> np.ndarray:
        return self.values[self.baseline]

    @property
    def window_times(self) -> np.ndarray:
        return self.times[self.window]

    @property
    def window_values(self) -> np.ndarray:
        return self.values[self.window]


def as_series(timestamps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert inputs to two 1-D float64 arrays of equal length.

    Raises ValueError when the shapes differ or the timestamps are not ascending.
    """
    times = np.asarray(timestamps, dtype=np.float64)
    points = np.asarray(values, dtype=np.float64)
    if times.ndim != 1 or points.ndim != 1 or times.shape != points.shape:
        raise ValueError(
            f"timestamps and values must be 1-D arrays of equal length, got shapes {times.shape} and {points.shape}"
        )
    if times.size > 1 and np.any(np.diff(times) < 0):
        raise ValueError("timestamps must be ascending: sort the series by time before evaluating")
    return times, points


def split_series(timestamps: np.ndarray, values: np.ndarray, *, now: float, settings: DetectorSettings) -> SeriesSplit:
    """Drop missing and future points, then locate the alert window and the baseline.

    NaN, +Inf and -Inf values count as missing, and so do points after `now`.
    """
    times, points = as_series(timestamps, values)
    keep = np.isfinite(points) & np.isfinite(times) & (times <= now)
    return split_clean(times[keep], points[keep], now=now, settings=settings)


def split_clean(times: np.ndarray, points: np.ndarray, *, now: float, settings: DetectorSettings) -> SeriesSplit:
    """Locate the alert window and the baseline in arrays that are already clean.

    `times` must be ascending and every point finite with timestamp <= now, as
    `split_series` leaves them. The split keeps views of the arrays, not copies.
    """
    window_start = now - settings.window
    baseline_end = window_start - settings.baseline_offset
    baseline_start = baseline_end - settings.baseline

    # The window is (window_start, now] and the baseline [baseline_start, baseline_end).
    window_first = int(np.searchsorted(times, window_start, side="right"))
    baseline_first = int(np.searchsorted(times, baseline_start, side="left"))
    baseline_stop = int(np.searchsorted(times, baseline_end, side="left"))
    return SeriesSplit(
        times=times,
        values=points,
        baseline=slice(baseline_first, baseline_stop),
        window=slice(window_first, times.size),
        baseline_start=baseline_start,
        baseline_end=baseline_end,
        window_start=window_start,
        now=float(now),
    )


def limit_baseline(split: SeriesSplit, limit: float) -> SeriesSplit:
    """Return the split with its baseline cut to its last `limit` seconds."""
    if split.baseline_end - split.baseline_start <= limit:
        return split
    start = split.baseline_end - limit
    first = int(np.searchsorted(split.times, start, side="left"))
    return replace(split, baseline=slice(first, split.baseline.stop), baseline_start=start)


def interval_means(
    times: np.ndarray, values: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean and point count of `values` in each interval (starts[i], ends[i]].

    An interval without points gets mean 0 and count 0.
    """
    if times.size == 0:
        return np.zeros(starts.shape), np.zeros(starts.shape, dtype=np.int64)
    # Centring first keeps the differences of the cumulative sum precise on large values.
    centre = float(np.mean(values))
    cumulative = np.concatenate(([0.0], np.cumsum(values - centre)))
    first = np.searchsorted(times, starts, side="right")
    stop = np.searchsorted(times, ends, side="right")
    counts = stop - first
    sums = cumulative[stop] - cumulative[first]
    means = np.divide(sums, counts, out=np.zeros(counts.shape), where=counts > 0) + centre
    return np.where(counts > 0, means, 0.0), counts


def rolling_means(
    times: np.ndarray, values: np.ndarray, *, width: float, earliest_start: float, min_points: int
) -> np.ndarray:
    """Return the mean of every window (t_i - width, t_i] that starts at or after `earliest_start`.

    One window ends at each point. Windows with fewer than `min_points` points are left out,
    so a window in a gap does not stand for a full one. Returns an empty array when none fit.
    """
    means, counts = interval_means(times, values, times - width, times)
    usable = (times - width >= earliest_start) & (counts >= max(1, min_points))
    return means[usable]
