"""The series type every source returns, its data quality, and the interface of a source."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class DataQuality:
    """How complete one fetched series is, for logs and for the incident card.

    `expected` is the number of points on the step grid of the requested range,
    `received` the points the backend returned inside it (non-finite ones
    included), `non_finite` the received NaN, +Inf and -Inf values, and
    `counter_resets` the resets crossed while a raw counter was turned into
    increases (the step across each reset counts as missing). None of these
    is a deviation: the detectors skip non-finite values, and a missing
    point is absent, never a zero.
    """

    expected: int
    received: int
    non_finite: int = 0
    counter_resets: int = 0

    @property
    def missing(self) -> int:
        """Grid points the backend returned nothing for."""
        return max(self.expected - self.received, 0)

    @property
    def usable(self) -> int:
        """Received points with a finite value."""
        return self.received - self.non_finite

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.non_finite == 0

    def describe(self) -> str:
        """Summarise the quality in one line, such as "57 of 60 points usable: 2 missing, 1 NaN or infinite"."""
        summary = f"{self.usable:,} of {self.expected:,} points usable"
        details = []
        if self.missing:
            details.append(f"{self.missing:,} missing")
        if self.non_finite:
            details.append(f"{self.non_finite:,} NaN or infinite")
        if self.counter_resets:
            details.append(f"{self.counter_resets:,} counter reset(s)")
        return f"{summary}: {', '.join(details)}" if details else summary


@dataclass(frozen=True)
class Series:
    """One time series: its labels, unix-second timestamps and float values.

    A point the backend did not return is absent; it is never filled with 0.
    Non-finite values a backend reports (NaN, +Inf, -Inf) are kept as they
    came, so data quality can be reported; the detectors ignore them.
    `quality` is set by the source that fetched the series, and is None for
    series built elsewhere (a stored window, a replay).
    """

    labels: Mapping[str, str]
    timestamps: np.ndarray
    values: np.ndarray = field(repr=False)
    quality: DataQuality | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.timestamps.shape != self.values.shape:
            raise ValueError(
                f"timestamps and values differ in length: "
                f"{self.timestamps.shape[0]} and {self.values.shape[0]}"
            )

    @property
    def non_finite(self) -> int:
        """Number of NaN, +Inf and -Inf values in the series."""
        return int(np.count_nonzero(~np.isfinite(self.values)))


class Source(Protocol):
    """A metric backend turned into series. Sources know nothing of Slack."""

    name: str

    def fetch(self, query: str, *, start: float, end: float, step: float) -> list[Series]:
        """Return every series the query matches on [start, end] at `step` seconds.

        Raises SourceError (or SourceUnreachable) when the backend fails.
        """
        ...

    def probe(self) -> None:
        """Raise SourceError unless the backend answers."""
        ...


def grid_points(start: float, end: float, step: float) -> int:
    """Return how many points a grid of `step` seconds has on [start, end]."""
    if end < start or step <= 0:
        return 0
    # The small tolerance keeps float rounding from dropping the last point.
    return int(math.floor((end - start) / step + 1e-9)) + 1


def assess_quality(
    timestamps: np.ndarray, values: np.ndarray, *, start: float, end: float, step: float,
    counter_resets: int = 0,
) -> DataQuality:
    """Count the points of one series on [start, end] against a grid of `step` seconds."""
    inside = (timestamps >= start) & (timestamps <= end)
    return DataQuality(
        expected=grid_points(start, end, step),
        received=int(np.count_nonzero(inside)),
        non_finite=int(np.count_nonzero(~np.isfinite(values[inside]))),
        counter_resets=counter_resets,
    )


def label_key(labels: Mapping[str, str]) -> str:
    """Return a stable text key for a label set (sorted JSON)."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def fingerprint(monitor: str, labels: Mapping[str, str]) -> str:
    """Return the incident fingerprint of one monitored series: monitor name plus labels."""
    digest = hashlib.sha1(f"{monitor}\n{label_key(labels)}".encode()).hexdigest()
    return digest[:16]
