"""Parse and format durations such as `30s`, `5m`, `1h30m` and `7d`."""

from __future__ import annotations

import re

UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

DURATION_HINT = "use a number with a unit s, m, h, d or w, such as 30s, 5m, 1h30m or 7d"


def parse_duration(value: object) -> float:
    """Return `value` in seconds.

    Accepts a non-negative number (seconds) or a string of number-unit parts
    in the Prometheus style (`1h30m`). Raises ValueError naming the value and
    the accepted form.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")

    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative; {DURATION_HINT}")
        return float(value)

    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")

    text = value.strip()
    position = 0
    total = 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * UNIT_SECONDS[match.group(2)]
        position = match.end()

    if not text or position != len(text):
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")
    return total


def format_duration(seconds: float) -> str:
    """Format seconds compactly for people: `45s`, `12m`, `2h05m`, `3d4h`."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"
