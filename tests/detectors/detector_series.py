"""Synthetic series with known answers for the detector tests."""

from __future__ import annotations

import numpy as np

MINUTE = 60.0
DAY = 86400.0
START = 1_700_000_000.0


def noise_series(
    *, days: float = 8.0, step: float = MINUTE, level: float = 100.0, sigma: float = 5.0, seed: int = 0
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
