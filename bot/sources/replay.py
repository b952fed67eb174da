"""Replay source: serves series from memory, for the demo and for backtests."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bot.sources.base import Series


class ReplaySource:
    """Serves stored series by name; a query is the name of one stored series.

    The result is the stored points inside [start, end], so a poll at a
    simulated time sees only what had happened by then.
    """

    name = "replay"

    def __init__(self) -> None:
        self._series: dict[str, list[Series]] = {}

    def add(
        self,
        query: str,
        timestamps: np.ndarray,
        values: np.ndarray,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Store one series under `query`; a query may hold several label sets."""
        series = Series(dict(labels or {}), np.asarray(timestamps, float), np.asarray(values, float))
        self._series.setdefault(query, []).append(series)

    def probe(self) -> None:
        """Do nothing: a replay source is always reachable."""

    def fetch(self, query: str, *, start: float, end: float, step: float) -> list[Series]:
        found = []
        for stored in self._series.get(query, []):
            inside = (stored.timestamps >= start) & (stored.timestamps <= end)
            found.append(Series(stored.labels, stored.timestamps[inside], stored.values[inside]))
        return found
