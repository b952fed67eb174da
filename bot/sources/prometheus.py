"""Prometheus source: `GET /api/v1/query_range`, parsed into series.

Reference: https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import httpx
import numpy as np

from bot.errors import SourceError, SourceUnreachable
from bot.sources.base import Series

log = logging.getLogger(__name__)

# Prometheus rejects a range query that would return more than 11,000 points
# per series ("exceeded maximum resolution of 11,000 points per timeseries").
MAX_POINTS_PER_SERIES = 11_000


class PrometheusSource:
    """Range queries against one Prometheus server.

    Long ranges are split into chunks of at most MAX_POINTS_PER_SERIES points
    on the same step grid and merged, so a 7-day baseline at 1-minute
    resolution is one call to `fetch`.
    """

    name = "prometheus"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers=headers,
            auth=auth,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def probe(self) -> None:
        """Check that the server answers its API; raise SourceError if not."""
        self._get("/api/v1/status/buildinfo", {}, "")

    def fetch(self, query: str, *, start: float, end: float, step: float) -> list[Series]:
        """Return the series of a range query on [start, end], merged across chunks."""
        if step <= 0:
            raise ValueError(f"step must be positive, got {step!r}")

        chunk = step * (MAX_POINTS_PER_SERIES - 1)
        merged: dict[tuple[tuple[str, str], ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + chunk)
            for labels, timestamps, values in self._query_range(query, chunk_start, chunk_end, step):
                merged.setdefault(labels, []).append((timestamps, values))
            chunk_start = chunk_end + step

        series = []
        for labels, parts in merged.items():
            timestamps = np.concatenate([part[0] for part in parts])
            values = np.concatenate([part[1] for part in parts])
            order = np.argsort(timestamps, kind="stable")
            series.append(Series(dict(labels), timestamps[order], values[order]))
        return series

    def _query_range(
        self, query: str, start: float, end: float, step: float
    ) -> list[tuple[tuple[tuple[str, str], ...], np.ndarray, np.ndarray]]:
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        body = self._get("/api/v1/query_range", params, query)

        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, dict) else type(data).__name__
            raise SourceError(
                f"Prometheus answered a range query with result type {kind!r}, expected 'matrix'",
                source=self.name, url=self.base_url, query=query,
            )

        parsed = []
        for entry in data.get("result", []):
            labels = tuple(sorted(entry.get("metric", {}).items()))
            timestamps, values = _parse_values(entry.get("values", []), query, self.base_url)
            parsed.append((labels, timestamps, values))
        return parsed

    def _get(self, path: str, params: dict[str, str], query: str) -> dict[str, Any]:
        started = time.monotonic()
        try:
            response = self._client.get(path, params=params)
        except httpx.TimeoutException:
            raise SourceUnreachable(
                f"Prometheus at {self.base_url} timed out", source=self.name,
                url=self.base_url, query=query,
            ) from None
        except httpx.TransportError as error:
            raise SourceUnreachable(
                f"Prometheus at {self.base_url} is unreachable: {error}", source=self.name,
                url=self.base_url, query=query,
            ) from None

        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("GET %s%s status=%s %.0fms", self.base_url, path, response.status_code, elapsed_ms)

        try:
            body = response.json()
        except ValueError:
            snippet = response.text[:120].replace("\n", " ")
            raise SourceError(
                f"Prometheus at {self.base_url} answered HTTP {response.status_code} "
                f"with a body that is not JSON: {snippet!r}",
                source=self.name, url=self.base_url, query=query,
            ) from None

        if not isinstance(body, dict) or body.get("status") != "success":
            error_type = body.get("errorType") if isinstance(body, dict) else None
            error = body.get("error") if isinstance(body, dict) else body
            raise SourceError(
                f"Prometheus at {self.base_url} rejected the query "
                f"(HTTP {response.status_code}, {error_type}): {error}",
                source=self.name, url=self.base_url, query=query,
            )

        for warning in body.get("warnings", []) or []:
            log.warning("Prometheus warning for query %r: %s", query, warning)
        return body


def _parse_values(
    pairs: list[list[Any]], query: str, url: str
) -> tuple[np.ndarray, np.ndarray]:
    """Parse `[[unix_time, "value"], ...]`; values are strings, including NaN and ±Inf."""
    timestamps = np.empty(len(pairs), dtype=np.float64)
    values = np.empty(len(pairs), dtype=np.float64)
    for index, pair in enumerate(pairs):
        try:
            timestamps[index] = float(pair[0])
            values[index] = _parse_sample(pair[1])
        except (TypeError, ValueError, IndexError):
            raise SourceError(
                f"Prometheus returned a sample that is not [time, \"value\"]: {pair!r}",
                source="prometheus", url=url, query=query,
            ) from None
    return timestamps, values


def _parse_sample(text: str) -> float:
    # Prometheus encodes sample values as strings: "1.5", "NaN", "+Inf", "-Inf".
    if text == "NaN":
        return math.nan
    if text == "+Inf":
        return math.inf
    if text == "-Inf":
        return -math.inf
    return float(text)
