"""Synthetic series with known anomalies for the detector tests."""

from __future__ import annotations

import numpy as np
from scipy import signal

MINUTE = 60.0
DAY = 86400.0
START = 1_700_000_000.0


def noise_series(
    *,
    days: float = 8.0,
    step: float = MINUTE,
    level: float = 100.0,
    sigma: float = 5.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return timestamps and Gaussian noise around `level`, one point per `step` seconds."""
    rng = np.random.default_rng(seed)
    count = int(days * DAY / step)
    times = START + step * np.arange(count)
    values = level + sigma * rng.standard_normal(count)
    return times, values


def shifted(values: np.ndarray, *, last: int, by: float) -> np.ndarray:
    """Return a copy with the last `last` points moved by `by`."""
    copy = values.copy()
    copy[-last:] += by
    return copy


def daily_series(
    *, days: float = 8.0, amplitude: float = 20.0, sigma: float = 2.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return a 1-minute series with a daily sine of `amplitude` plus Gaussian noise."""
    times, noise = noise_series(days=days, level=0.0, sigma=sigma, seed=seed)
    return times, 50.0 + amplitude * np.sin(2 * np.pi * times / DAY) + noise


def autocorrelated_series(
    *, days: float, phi: float = 0.8, seed: int = 0, daily_amplitude: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return a 1-minute AR(1) series with Student-t (3 degrees of freedom) innovations."""
    rng = np.random.default_rng(seed)
    count = int(days * DAY / MINUTE)
    times = START + MINUTE * np.arange(count)
    innovations = rng.standard_t(3, size=count)
    values = signal.lfilter([1.0], [1.0, -phi], innovations)
    return times, 50.0 + values + daily_amplitude * np.sin(2 * np.pi * times / DAY)
