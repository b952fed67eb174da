"""Chart images of a metric for the incident thread (matplotlib, Agg backend).

The chart shows the last hour of the series against its 7-day baseline: a
band of the 5th to 95th percentile of the same minutes on each of the seven
previous days, the detector's expected value and bounds, the alert window
shaded and the points outside the bounds marked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DAY = 86400.0
HOUR = 3600.0


@dataclass(frozen=True)
class ChartInput:
    """The inputs of one chart; times in unix seconds, bounds in the metric's units."""

    title: str
    timestamps: np.ndarray
    values: np.ndarray
    now: float
    window: float
    expected: float
    lower_bound: float
    upper_bound: float
    span: float = HOUR
    baseline_days: int = 7


def baseline_band(chart: ChartInput, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the 5th and 95th percentiles at each grid time over the previous days.

    For each grid time t the samples are the values nearest to t - k days,
    k = 1..baseline_days; NaN where no previous day has a point close enough.
    """
    finite = np.isfinite(chart.values)
    times, values = chart.timestamps[finite], chart.values[finite]
    if times.size < 2:
        empty = np.full(grid.size, np.nan)
        return empty, empty

    spacing = float(np.median(np.diff(times)))
    samples = np.full((chart.baseline_days, grid.size), np.nan)
    for day in range(1, chart.baseline_days + 1):
        shifted = grid - day * DAY
        index = np.clip(np.searchsorted(times, shifted), 1, times.size - 1)
        nearest = np.where(np.abs(times[index - 1] - shifted) <= np.abs(times[index] - shifted),
                           index - 1, index)
        close = np.abs(times[nearest] - shifted) <= max(spacing, 1.0)
        samples[day - 1, close] = values[nearest[close]]

    enough = np.sum(np.isfinite(samples), axis=0) >= 2
    low = np.full(grid.size, np.nan)
    high = np.full(grid.size, np.nan)
    if enough.any():
        low[enough] = np.nanpercentile(samples[:, enough], 5, axis=0)
        high[enough] = np.nanpercentile(samples[:, enough], 95, axis=0)
    return low, high


def render_chart(chart: ChartInput) -> bytes:
    """Render the chart as PNG bytes."""
    recent = (chart.timestamps > chart.now - chart.span) & (chart.timestamps <= chart.now)
    times = chart.timestamps[recent]
    values = chart.values[recent]
    low, high = baseline_band(chart, times)
    outside = np.isfinite(values) & ((values > chart.upper_bound) | (values < chart.lower_bound))

    figure = Figure(figsize=(8, 3.2), dpi=100)
    axes = figure.add_subplot()
    dates = [datetime.fromtimestamp(t, tz=UTC) for t in times]

    if np.isfinite(low).any():
        axes.fill_between(dates, low, high, color="#9ecae1", alpha=0.5, linewidth=0,
                          label=f"{chart.baseline_days}-day baseline (p5 to p95)")
    axes.axhline(chart.expected, color="#3182bd", linestyle="--", linewidth=1, label="expected")
    axes.axhline(chart.upper_bound, color="#de2d26", linestyle=":", linewidth=1, label="bounds")
    axes.axhline(chart.lower_bound, color="#de2d26", linestyle=":", linewidth=1)
    axes.plot(dates, values, color="#252525", linewidth=1.2, label="value")
    if outside.any():
        axes.scatter([dates[i] for i in np.flatnonzero(outside)], values[outside], color="#de2d26",
                     s=14, zorder=3, label="outside bounds")
    axes.axvspan(datetime.fromtimestamp(chart.now - chart.window, tz=UTC),
                 datetime.fromtimestamp(chart.now, tz=UTC), color="#fdae6b", alpha=0.3,
                 label="alert window")

    axes.set_title(chart.title, fontsize=10, loc="left")
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    axes.set_xlabel("UTC")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", ncols=3)
    figure.tight_layout()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
