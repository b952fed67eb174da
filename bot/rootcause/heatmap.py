"""The dimension breakdown for people: a table text with 🔴/🟡/🟢 marks, and a heatmap image.

The image (matplotlib, Agg backend) has one cell per label value, coloured by its mark
and annotated with its deviation and share. When there is a two-label breakdown (such as
service by region), the first one is drawn beside it as a matrix.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402 - the backend must be chosen first
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bot.analysis import format_number  # noqa: E402
from bot.rootcause.correlation import spoken_duration  # noqa: E402
from bot.rootcause.dimensions import (  # noqa: E402
    BASELINE_SPAN,
    MARK_EMOJI,
    MAX_EXPLAINING_VALUES,
    Breakdown,
    CrossBreakdown,
    DimensionAnalysis,
)

# Rows shown per label in the text; the rest are summarised in one line.
MAX_ROWS_PER_LABEL = 8
# The image is rendered when the table has more rows than this.
HEATMAP_MIN_ROWS = 4
MAX_IMAGE_ROWS = 40
MAX_MATRIX_SIDE = 20
# A label whose largest share is at most this multiple of an even share (1 / values) counts
# as evenly spread.
EVEN_SPREAD = 1.25

_MARK_INDEX = {"green": 0, "yellow": 1, "red": 2}
_COLOURS = ListedColormap(["#31a354", "#fec44f", "#de2d26"])


def table_text(analysis: DimensionAnalysis, *, anomaly_start: float) -> str:
    """Render the breakdown as text: one block per label, largest share first."""
    since = datetime.fromtimestamp(anomaly_start, tz=UTC).strftime("%H:%M")
    lines = [f"Mean since {since} UTC against the {spoken_duration(BASELINE_SPAN)} before, "
             "deviation in baseline σ, share of the total change:"]
    for breakdown in analysis.breakdowns:
        lines.append(f"*{breakdown.label}*: {_summary(breakdown)}.")

        width = max(len(row.value) for row in breakdown.rows)
        table = []
        for row in breakdown.rows[:MAX_ROWS_PER_LABEL]:
            table.append(f"{MARK_EMOJI[row.mark]} {row.value:<{width}}  {format_number(row.current):>9} "
                         f"vs {format_number(row.baseline):>9}  {row.deviation:+7.1f}σ  {row.share:>4.0%}")
        hidden = breakdown.rows[MAX_ROWS_PER_LABEL:]
        if hidden:
            marks = sum(row.mark != "green" for row in hidden)
            table.append(f"… and {len(hidden)} more values, {marks} of them degraded")
        lines.append("```\n" + "\n".join(table) + "\n```")
    if not analysis.breakdowns:
        lines.append("No breakdown could be computed.")
    for note in analysis.missing:
        lines.append(f"• not computed: {note}")
    return "\n".join(lines)


def _summary(breakdown: Breakdown) -> str:
    """Name the values that explain the change, or state that it is spread evenly."""
    count = len(breakdown.rows)
    top = breakdown.top
    if top is None or top.share == 0.0:
        return "no value moved in the anomaly's direction"
    if count > 1 and top.share <= EVEN_SPREAD / count:
        return f"the change is spread across all {count} values"
    explaining = breakdown.explaining() or breakdown.rows[:MAX_EXPLAINING_VALUES]
    named = [f"{row.value} ({row.share:.0%})" for row in explaining[:MAX_EXPLAINING_VALUES]]
    total = sum(row.share for row in explaining[:MAX_EXPLAINING_VALUES])
    if len(named) == 1:
        return f"{named[0]} explains {total:.0%} of the change"
    return f"{', '.join(named[:-1])} and {named[-1]} explain {total:.0%} of the change"


def render_heatmap(analysis: DimensionAnalysis, *, title: str) -> bytes | None:
    """Render the breakdown as a PNG; None when it has HEATMAP_MIN_ROWS rows or fewer."""
    rows = analysis.rows[:MAX_IMAGE_ROWS]
    if len(rows) <= HEATMAP_MIN_ROWS:
        return None
    cross = analysis.crosses[0] if analysis.crosses else None

    figure = Figure(figsize=(9 if cross else 5, max(3.0, 0.32 * len(rows) + 1.2)), dpi=100)
    axes = figure.add_subplot(1, 2, 1) if cross else figure.add_subplot()
    colours = np.array([[_MARK_INDEX[row.mark]] for row in rows])
    axes.imshow(colours, cmap=_COLOURS, vmin=0, vmax=2, aspect="auto")
    for index, row in enumerate(rows):
        axes.text(0, index, f"{row.deviation:+.1f}σ  {row.share:.0%}", ha="center", va="center", fontsize=8)
    axes.hlines(np.arange(0.5, len(rows) - 0.5), -0.5, 0.5, colors="white", linewidth=1)
    axes.set_yticks(range(len(rows)), [f"{row.label}={row.value}" for row in rows], fontsize=8)
    axes.set_xticks([0], ["deviation, share"], fontsize=8)
    axes.set_title(title, fontsize=9, loc="left")

    if cross is not None:
        _draw_matrix(figure.add_subplot(1, 2, 2), cross)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_matrix(axes, cross: CrossBreakdown) -> None:
    first = sorted({cell.values[0] for cell in cross.cells})[:MAX_MATRIX_SIDE]
    second = sorted({cell.values[1] for cell in cross.cells})[:MAX_MATRIX_SIDE]
    grid = np.full((len(first), len(second)), np.nan)
    for cell in cross.cells:
        if cell.values[0] in first and cell.values[1] in second:
            row, column = first.index(cell.values[0]), second.index(cell.values[1])
            grid[row, column] = _MARK_INDEX[cell.mark]
            axes.text(column, row, f"{cell.deviation:+.1f}σ", ha="center", va="center", fontsize=8)
    axes.imshow(np.ma.masked_invalid(grid), cmap=_COLOURS, vmin=0, vmax=2, aspect="auto")
    axes.hlines(np.arange(0.5, len(first) - 0.5), -0.5, len(second) - 0.5, colors="white", linewidth=1)
    axes.vlines(np.arange(0.5, len(second) - 0.5), -0.5, len(first) - 0.5, colors="white", linewidth=1)
    axes.set_yticks(range(len(first)), first, fontsize=8)
    axes.set_xticks(range(len(second)), second, fontsize=8, rotation=30, ha="right")
    axes.set_ylabel(cross.labels[0], fontsize=8)
    axes.set_xlabel(cross.labels[1], fontsize=8)
    axes.set_title(f"{cross.labels[0]} by {cross.labels[1]}", fontsize=9, loc="left")
