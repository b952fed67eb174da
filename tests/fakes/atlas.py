"""`FakeAtlas`: the Atlas graph API with JSON output, `GET /api/v1/graph?q=&format=json&s=&e=&step=`.

It responds in the format https://netflix.github.io/atlas-docs/api/graph/outputs/
documents for `format=json`: `start` and `step` in milliseconds, one
`legend` entry and one `metrics` tag map per line, and `values` with one
row per step and one column per line. NaN (no data) and infinities are
written bare, which is not standard JSON, as Atlas does. Errors are
`{"type": "error", "message": "..."}`, and a graph of more than
`max_datapoints` steps is rejected with 400, as Atlas's default
`atlas.webapi.graph.max-datapoints = 1440` does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tests.fakes.server import LoopbackFake, LoopbackServer, Reply, Request


@dataclass(frozen=True)
class FakeLine:
    """One line of a graph: its tags and values by timestamp (seconds)."""

    tags: Mapping[str, str]
    points: Mapping[float, float]


class FakeAtlas(LoopbackFake):
    """An Atlas server whose graphs are the lines registered per query expression."""

    def __init__(self, *, max_datapoints: int = 1440) -> None:
        self.max_datapoints = max_datapoints
        self.lines: dict[str, list[FakeLine]] = {}
        self.server = LoopbackServer(self._handle)

    def add(self, query: str, *, tags: Mapping[str, str], timestamps: Sequence[float],
            values: Sequence[float]) -> None:
        """Add one line to the graph of `query`; a step without a value is NaN in the response."""
        points = {float(t): float(v) for t, v in zip(timestamps, values, strict=True)}
        self.lines.setdefault(query, []).append(FakeLine(dict(tags), points))

    def _handle(self, request: Request) -> Reply:
        if request.path != "/api/v1/graph":
            return Reply.json(404, {"type": "error", "message": f"NoSuchElementException: {request.path}"})
        params = request.params
        if params.get("format") != "json":
            return Reply.text(200, "\x89PNG...", "image/png")
        try:
            query = params["q"]
            step = _seconds(params["step"])
            start = math.floor(float(params["s"]) / step) * step
            end = math.floor(float(params["e"]) / step) * step
        except (KeyError, ValueError) as error:
            return Reply.json(400, {"type": "error", "message": f"IllegalArgumentException: {error}"})
        if query not in self.lines:
            return Reply.json(400, {"type": "error",
                                    "message": f"IllegalStateException: unknown word '{query.split(',')[-1]}'"})

        steps = int((end - start) / step) + 1
        if steps > self.max_datapoints:
            return Reply.json(400, {"type": "error", "message": (
                f"IllegalArgumentException: too many datapoints: {steps} > {self.max_datapoints}")})

        lines = self.lines[query]
        rows = [[line.points.get(start + index * step, math.nan) for line in lines] for index in range(steps)]
        return Reply.json(200, {
            "start": int(start * 1000), "step": int(step * 1000),
            "legend": [", ".join(f"{key}={value}" for key, value in line.tags.items()) for line in lines],
            "metrics": [{"atlas.offset": "0w", **line.tags} for line in lines],
            "values": rows, "notices": [],
        })


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if duration and duration[-1] in units:
        return float(duration[:-1]) * units[duration[-1]]
    raise ValueError(f"invalid step {duration!r}")
