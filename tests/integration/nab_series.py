"""Read labelled NAB series and shift them in time so they end near the present."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tests.conftest import NAB


@dataclass(frozen=True)
class LabelledSeries:
    """A NAB series with its anomaly windows, all times in unix seconds."""

    name: str
    timestamps: np.ndarray
    values: np.ndarray
    windows: list[tuple[float, float]]

    def shifted(self, offset: float) -> LabelledSeries:
        return LabelledSeries(
            self.name, self.timestamps + offset, self.values,
            [(start + offset, end + offset) for start, end in self.windows],
        )


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def load_labelled(name: str, nab: Path = NAB) -> LabelledSeries:
    """Load `category/file.csv`, sorted by time with repeated timestamps dropped.

    NOTE: machine_temperature_system_failure.csv has one row that steps
    55 minutes back in time; keeping the first of each timestamp matches how
    Prometheus would reject the out-of-order samples.
    """
    with (nab / "data" / name).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    timestamps = np.array([parse_time(row["timestamp"]) for row in rows])
    values = np.array([float(row["value"]) for row in rows])
    timestamps, first = np.unique(timestamps, return_index=True)

    labels = json.loads((nab / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    windows = [(parse_time(start), parse_time(end)) for start, end in labels[name]]
    return LabelledSeries(name, timestamps, values[first], windows)
