"""The `oscillation` detector: new or stronger periodic movement in the alert window.

The window and every window of equal width in the baseline are resampled to the baseline's
median sampling step, linearly detrended and turned into a Hann-windowed periodogram
(scipy.signal.periodogram). The baseline's periodograms are averaged into a reference
spectrum. The statistic is the largest log ratio of the window's power to the reference
power over all non-zero frequencies. It grows when a frequency appears that the baseline did
not have (a change of dominant frequency) and when a known one grows stronger (a change of
amplitude). Its null sample is the same statistic over the baseline's windows.

Only increases are tested, so a dying oscillation is not reported. Set `window` to several
periods of the oscillation you expect: a window needs MIN_SPECTRUM_POINTS sampling steps, and
a shorter one is skipped with reason "insufficient history". The anomaly's start is the start
of the window, because the spectrum does not locate the onset more precisely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from detectors._level import baseline_moments
from detectors._pvalues import NullDistribution, null_p_value
from detectors._results import Anomaly, Evaluation, skipped, tier_for
from detectors._series import SeriesSplit
from detectors._settings import DetectorSettings

MIN_SPECTRUM_POINTS = 16
# A window with more empty grid cells than this share is left out of the null sample.
MAX_EMPTY_SHARE = 0.2
# Consecutive null windows start this share of a window apart.
NULL_STRIDE_SHARE = 0.25
# Floor on the reference power, relative to its mean, so an empty frequency does not divide by 0.
MIN_REFERENCE_SHARE = 1e-6
PEAK_BINS = 2


@dataclass(frozen=True)
class OscillationModel:
    """Reference spectrum of the baseline and the null sample of the peak log power ratio."""

    step: float
    points: int
    frequencies: np.ndarray  # Hz, without 0
    reference: np.ndarray  # mean baseline power per frequency
    null: NullDistribution
    ratio_mean: float
    ratio_std: float
    baseline_mean: float
    baseline_std: float


def fit_oscillation(split: SeriesSplit, settings: DetectorSettings) -> OscillationModel | Evaluation | None:
    """Fit the reference spectrum and null sample from the baseline's windows.

    Returns a skipped evaluation when the window has fewer than MIN_SPECTRUM_POINTS steps or
    the baseline has too few complete windows, and None when the baseline has no variance.
    """
    times = split.baseline_times
    values = split.baseline_values
    step = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    points = int(round(settings.window / step)) if step > 0.0 else 0
    if points < MIN_SPECTRUM_POINTS:
        return skipped(reason="insufficient history", detector=settings.detector, now=split.now)

    grid, empty = _grid(
        times,
        values,
        start=split.baseline_start,
        step=step,
        cells=int(math.floor((split.baseline_end - split.baseline_start) / step)),
    )
    stride = max(1, int(points * NULL_STRIDE_SHARE))
    starts = np.arange(0, grid.size - points + 1, stride)
    if starts.size == 0:
        return skipped(reason="insufficient history", detector=settings.detector, now=split.now)
    segments = grid[starts[:, None] + np.arange(points)[None, :]]
    gaps = empty[starts[:, None] + np.arange(points)[None, :]].mean(axis=1)
    segments = segments[gaps <= MAX_EMPTY_SHARE]
    if segments.shape[0] < 2:
        return skipped(reason="insufficient history", detector=settings.detector, now=split.now)

    frequencies, power = _spectra(segments, step)
    reference = np.mean(power, axis=0)
    mean, std = baseline_moments(split)
    if not np.any(reference > 0.0):
        return None
    reference = np.maximum(reference, MIN_REFERENCE_SHARE * float(np.mean(reference)))
    ratios = np.max(np.log(np.maximum(power, 1e-300) / reference), axis=1)
    ratio_std = float(np.std(ratios))
    if ratio_std <= 0.0:
        return None
    return OscillationModel(
        step=step,
        points=points,
        frequencies=frequencies,
        reference=reference,
        null=NullDistribution(ratios, conservative=settings.conservative_tail),
        ratio_mean=float(np.mean(ratios)),
        ratio_std=ratio_std,
        baseline_mean=mean,
        baseline_std=std,
    )


def evaluate_oscillation(
    split: SeriesSplit, settings: DetectorSettings, model: OscillationModel, name: str
) -> Evaluation:
    """Test the window's spectrum against the baseline's and build the evaluation."""
    start = split.now - model.points * model.step
    grid, _ = _grid(split.times, split.values, start=start, step=model.step, cells=model.points)
    _, power = _spectra(grid[None, :], model.step)
    log_ratio = np.log(np.maximum(power[0], 1e-300) / model.reference)
    peak = int(np.argmax(log_ratio))
    statistic = float(log_ratio[peak])
    deviation = (statistic - model.ratio_mean) / model.ratio_std
    p_value = null_p_value(model.null, statistic, deviation=deviation, direction="above")
    tier = tier_for(p_value)
    current = float(np.mean(split.window_values))

    anomaly = None
    if deviation > settings.threshold and tier != "low":
        frequency = float(model.frequencies[peak])
        dominant = float(model.frequencies[int(np.argmax(model.reference))])
        window_power = float(np.sum(power[0]))
        reference_power = float(np.sum(model.reference))
        details: dict[str, float | str] = {
            "frequency": frequency,
            "period": 1.0 / frequency,
            "baseline_frequency": dominant,
            "baseline_period": 1.0 / dominant,
            "power_ratio": math.exp(statistic),
            # Ratio of the detrended window's standard deviation to the baseline windows'.
            "amplitude_ratio": math.sqrt(window_power / reference_power),
        }
        # Estimated amplitude of a sine with the power within PEAK_BINS bins of the peak: the
        # Hann window spreads one frequency over neighbouring bins.
        band = power[0][max(0, peak - PEAK_BINS) : peak + PEAK_BINS + 1]
        amplitude = math.sqrt(2.0 * float(np.sum(band)) * _frequency_step(model))
        anomaly = Anomaly(
            kind="oscillation",
            shape=None,
            direction="above",
            start=float(split.window_times[0]),
            duration=split.now - float(split.window_times[0]) + model.step,
            amplitude=amplitude,
            deviation=deviation,
            details=details,
        )

    return Evaluation(
        status="anomaly" if anomaly is not None else "normal",
        reason=None,
        detector=name,
        evaluated_at=split.now,
        current=current,
        expected=model.baseline_mean,
        baseline_mean=model.baseline_mean,
        baseline_std=model.baseline_std,
        deviation=deviation,
        p_value=p_value,
        tier=tier,
        anomaly=anomaly,
    )


def _frequency_step(model: OscillationModel) -> float:
    return 1.0 / (model.points * model.step)


def _spectra(segments: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the non-zero frequencies (Hz) and each row's detrended Hann periodogram."""
    frequencies, power = signal.periodogram(segments, fs=1.0 / step, window="hann", detrend="linear", axis=-1)
    return frequencies[1:], power[:, 1:]


def _grid(
    times: np.ndarray, values: np.ndarray, *, start: float, step: float, cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Resample to `cells` cells of `step` seconds from `start`, interpolating empty cells.

    Returns the grid and a mask of the cells that had no point.
    """
    inside = (times >= start) & (times < start + cells * step)
    slots = np.floor((times[inside] - start) / step).astype(np.int64)
    slots = np.clip(slots, 0, cells - 1)
    counts = np.bincount(slots, minlength=cells)
    sums = np.bincount(slots, weights=values[inside], minlength=cells)
    empty = counts == 0
    grid = np.zeros(cells)
    grid[~empty] = sums[~empty] / counts[~empty]
    if np.any(empty) and np.any(~empty):
        filled = np.flatnonzero(~empty)
        grid[empty] = np.interp(np.flatnonzero(empty), filled, grid[filled])
    return grid, empty
