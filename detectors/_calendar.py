"""Wall-clock time in a monitor's time zone, for seasonal profiles."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

# Offsets are sampled at this step (seconds) and every change between two samples is located
# to the second by bisection. Zones change offset at most a few times a year, so sampling
# every 6 hours finds each change unless two fall within 6 hours of each other.
OFFSET_SAMPLE_STEP = 6 * 3600.0

DAY = 86400.0
WEEK = 7 * DAY
# 1970-01-01 was a Thursday, so with Monday = 0 the weekday of day d is (d + 3) % 7.
EPOCH_WEEKDAY = 3


def local_times(times: np.ndarray, timezone: str) -> np.ndarray:
    """Return `times` (unix seconds) shifted by the zone's UTC offset at each time.

    The result counts wall-clock seconds since 1970-01-01 00:00 local time, so
    `local % DAY` is the time of day and `(local // DAY + EPOCH_WEEKDAY) % 7` the weekday.
    """
    if times.size == 0 or timezone == "UTC":
        return times.astype(np.float64, copy=True)
    changes, offsets = _offset_changes(timezone, float(times[0]), float(times[-1]))
    index = np.searchsorted(changes, times, side="right")
    return times + offsets[index]


def _offset_changes(timezone: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the change times in [start, end] and the offset before and after each one.

    `offsets[i]` applies before `changes[i]`, and `offsets[-1]` after the last change.
    """
    zone = ZoneInfo(timezone)
    samples = np.arange(start, end + OFFSET_SAMPLE_STEP, OFFSET_SAMPLE_STEP)
    sampled = [_offset(zone, int(at)) for at in samples]
    changes: list[float] = []
    offsets = [sampled[0]]
    for index in range(1, len(samples)):
        if sampled[index] != sampled[index - 1]:
            changes.append(_bisect_change(zone, int(samples[index - 1]), int(samples[index])))
            offsets.append(sampled[index])
    return np.asarray(changes, dtype=np.float64), np.asarray(offsets, dtype=np.float64)


def _bisect_change(zone: ZoneInfo, before: int, after: int) -> float:
    """Return the first second at which the offset differs from its value at `before`."""
    offset = _offset(zone, before)
    while after - before > 1:
        middle = (before + after) // 2
        if _offset(zone, middle) == offset:
            before = middle
        else:
            after = middle
    return float(after)


@lru_cache(maxsize=65536)
def _offset(zone: ZoneInfo, at: int) -> float:
    utc_offset = datetime.fromtimestamp(at, zone).utcoffset()
    return 0.0 if utc_offset is None else utc_offset.total_seconds()
