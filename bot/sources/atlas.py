"""Netflix Atlas source: the graph API with JSON output, `/api/v1/graph?q=...&format=json`.

References: https://netflix.github.io/atlas-docs/api/graph/graph/ (parameters)
and https://netflix.github.io/atlas-docs/api/graph/outputs/ (the JSON format).

The query is an Atlas stack-language expression such as
`name,sps,:eq,(,nf.cluster,),:by` and is sent untouched. The response has
`start` and `step` in milliseconds, one `metrics` tag map and one `legend`
entry per line, and `values`: one row per time step with one column per
line. Atlas writes NaN, unquoted, where a line has no data; those points are
left out as missing. Errors come as `{"type": "error", "message": "..."}`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bot.errors import SourceError
from bot.sources.base import Series, assess_quality
from bot.sources.client import BackendClient, RetryPolicy
from bot.sources.errors import QueryRejected, SourceRateLimited

log = logging.getLogger(__name__)

# The graph API's default `atlas.webapi.graph.max-datapoints` is 1440 ("1 day
# at minute resolution") per graph; see atlas-webapi/src/main/resources/reference.conf
# in https://github.com/Netflix/atlas. Longer ranges are fetched in chunks.
MAX_DATAPOINTS = 1_440

# Values the std.json output quotes, and that the json output may write bare.
_NON_FINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class AtlasSource:
    """Graph API queries against one Atlas server."""

    name = "atlas"

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "atlas",
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        ca_file: str | Path | None = None,
        retry: RetryPolicy | None = None,
        auth_hint: str = "check the source's credentials",
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.auth_hint = auth_hint
        self._http = BackendClient(
            backend="Atlas", source=name, base_url=base_url, timeout=timeout, headers=headers, auth=auth,
            ca_file=ca_file, retry=retry, sleep=sleep, transport=transport,
        )
        self.base_url = self._http.url

    def close(self) -> None:
        self._http.close()

    def probe(self) -> None:
        """Check that the graph API returns a constant expression; raise SourceError if not."""
        now = int(time.time())
        self._graph("1", start=now - 600, end=now, step=60)

    def fetch(self, query: str, *, start: float, end: float, step: float) -> list[Series]:
        """Return one series per line of the graph of `query` on [start, end], in chunks of 1,440 steps."""
        if step < 1:
            raise ValueError(f"Atlas steps are whole seconds; got a step of {step!r}s")

        chunk = step * (MAX_DATAPOINTS - 1)
        points: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
        grid_step = step
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + chunk)
            body = self._graph(query, start=chunk_start, end=chunk_end, step=step)
            grid_step = self._step_seconds(body, query)
            for labels, timestamps, values in self._parse_lines(body, query):
                inside = (timestamps >= start) & (timestamps <= end)
                points.setdefault(labels, {}).update(zip(timestamps[inside], values[inside], strict=True))
            chunk_start = chunk_end + step

        series = []
        for labels, by_time in points.items():
            timestamps = np.array(sorted(by_time), dtype=np.float64)
            values = np.array([by_time[t] for t in timestamps], dtype=np.float64)
            quality = assess_quality(timestamps, values, start=start, end=end, step=grid_step)
            series.append(Series(dict(labels), timestamps, values, quality=quality))
        return series

    # --- parsing ----------------------------------------------------------------

    def _parse_lines(
        self, body: dict[str, Any], query: str
    ) -> list[tuple[tuple[tuple[str, str], ...], np.ndarray, np.ndarray]]:
        metrics = body.get("metrics")
        legend = body.get("legend") or []
        rows = body.get("values")
        if not isinstance(metrics, list) or not isinstance(rows, list):
            raise self._malformed(f"a graph without 'metrics' and 'values' lists: {str(body)[:120]!r}", query)
        start_ms = body.get("start")
        if not isinstance(start_ms, int | float):
            raise self._malformed(f"a graph without a numeric 'start': {start_ms!r}", query)

        step = self._step_seconds(body, query)
        times = start_ms / 1000.0 + step * np.arange(len(rows), dtype=np.float64)
        matrix = np.full((len(rows), len(metrics)), np.nan)
        for row_index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(metrics):
                raise self._malformed(f"a values row with {len(row) if isinstance(row, list) else 'no'} "
                                      f"columns for {len(metrics)} lines: {row!r:.120}", query)
            for column, value in enumerate(row):
                matrix[row_index, column] = self._parse_value(value, query)

        lines = []
        seen: set[tuple[tuple[str, str], ...]] = set()
        for column, tags in enumerate(metrics):
            labels = tuple(sorted((str(key), str(value)) for key, value in (tags or {}).items()))
            if labels in seen and column < len(legend):
                labels = tuple(sorted((*labels, ("legend", str(legend[column])))))
            seen.add(labels)
            values = matrix[:, column]
            # Atlas writes NaN where a line has no data: a missing point, not a value.
            present = ~np.isnan(values)
            lines.append((labels, times[present], values[present]))
        return lines

    def _step_seconds(self, body: dict[str, Any], query: str) -> float:
        step_ms = body.get("step")
        if not isinstance(step_ms, int | float) or step_ms <= 0:
            raise self._malformed(f"a graph without a positive 'step': {step_ms!r}", query)
        return step_ms / 1000.0

    def _parse_value(self, value: Any, query: str) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and value in _NON_FINITE_TEXT:
            return _NON_FINITE_TEXT[value]
        if value is None:
            return math.nan
        raise self._malformed(f"a value that is not a number: {value!r:.60}", query)

    def _malformed(self, what: str, query: str | None) -> SourceError:
        return SourceError(f"Atlas at {self.base_url} returned {what}",
                           source=self.name, url=self.base_url, query=query)

    # --- HTTP -------------------------------------------------------------------

    def _graph(self, query: str, *, start: float, end: float, step: float) -> dict[str, Any]:
        # Epoch seconds for s and e: Atlas reads values up to 2**31 as seconds.
        params = {
            "q": query, "format": "json", "s": str(math.floor(start)), "e": str(math.ceil(end)),
            "step": f"{round(step)}s", "tz": "UTC",
        }
        response = self._http.get("/api/v1/graph", params, query=query)
        status = response.status_code
        where = f"Atlas at {self.base_url}"

        if status in (401, 403):
            raise SourceError(f"{where} rejected the credentials (HTTP {status}); {self.auth_hint}",
                              source=self.name, url=self.base_url, query=query)
        if status == 429:
            raise SourceRateLimited(f"{where} is rate limiting requests (HTTP 429)",
                                    source=self.name, url=self.base_url, query=query, retry_after=0.0)

        body = self._http.decode_json(response, query)
        message = body.get("message") if isinstance(body, dict) and body.get("type") == "error" else None
        if status == 400 or (status < 500 and message):
            raise QueryRejected(f"{where} rejected the query (HTTP {status}): {message or str(body)[:120]}",
                                source=self.name, url=self.base_url, query=query)
        if status >= 400:
            raise SourceError(f"{where} failed (HTTP {status}): {message or str(body)[:120]}",
                              source=self.name, url=self.base_url, query=query)
        if not isinstance(body, dict):
            raise self._malformed(f"JSON that is not an object: {str(body)[:120]!r}", query)

        for notice in body.get("notices") or []:
            log.warning("source %s: Atlas at %s noted about query %r: %s", self.name, self.base_url, query, notice)
        return body

