"""The series type every source returns, and the interface of a source."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Series:
    """One time series: its labels, unix-second timestamps and float values.

    Missing points are NaN. Non-finite values a backend reports (+Inf, -Inf)
    are kept as they came, so data quality can be reported; the detectors
    ignore them.
    """

    labels: Mapping[str, str]
    timestamps: np.ndarray
    values: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.timestamps.shape != self.values.shape:
            raise ValueError(
                f"timestamps and values differ in length: "
                f"{self.timestamps.shape[0]} and {self.values.shape[0]}"
            )


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


def label_key(labels: Mapping[str, str]) -> str:
    """Return a stable text key for a label set (sorted JSON)."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def fingerprint(monitor: str, labels: Mapping[str, str]) -> str:
    """Return the incident fingerprint of one monitored series: monitor name plus labels."""
    digest = hashlib.sha1(f"{monitor}\n{label_key(labels)}".encode()).hexdigest()
    return digest[:16]
