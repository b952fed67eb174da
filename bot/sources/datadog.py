"""Datadog source: the metrics query API, `GET /api/v1/query?from=&to=&query=`.

Reference: https://docs.datadoghq.com/api/latest/metrics/query-timeseries-points/

Keys go in the DD-API-KEY and DD-APPLICATION-KEY headers; the API lives at
`https://api.<site>` (api.datadoghq.com, api.datadoghq.eu, ...). Each entry
of `series` has a `pointlist` of `[milliseconds, value]` pairs, where a null
value means no data in that interval: the point is left out, never read as 0.
Datadog chooses the interval between points itself from the time range; to
get one point per monitor step, end the query with `.rollup(avg, <seconds>)`.
The query text is sent as it is. Requests share a rate-limit budget through
`RateBudget`, so several workers stop together when Datadog's limit is spent.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from bot.errors import SourceError
from bot.sources.base import Series, assess_quality
from bot.sources.client import BackendClient, RetryPolicy, retry_after_header
from bot.sources.errors import QueryRejected, SourceRateLimited
from bot.sources.ratelimit import RateBudget, parse_rate_limit_headers

log = logging.getLogger(__name__)

DEFAULT_SITE = "datadoghq.com"

# Datadog returns at most 1,500 points per series and rolls up coarser when a
# range would need more ("a single data series can have up to 1500 points",
# https://docs.datadoghq.com/dashboards/functions/rollup/). Ranges longer than
# this many steps are fetched in chunks.
MAX_POINTS_PER_SERIES = 1_500


def site_url(site: str) -> str:
    """Return the API base URL of a Datadog site: datadoghq.eu -> https://api.datadoghq.eu."""
    return f"https://api.{site.strip().removeprefix('app.')}"


class DatadogSource:
    """Metric queries against the Datadog API of one organisation."""

    name = "datadog"

    def __init__(
        self,
        *,
        api_key: str,
        app_key: str,
        site: str = DEFAULT_SITE,
        base_url: str | None = None,
        name: str = "datadog",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        budget: RateBudget | None = None,
        auth_hint: str = "check DATADOG_API_KEY and DATADOG_APP_KEY",
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.auth_hint = auth_hint
        self.budget = budget or RateBudget(key=f"ratelimit:{name}", sleep=sleep)
        headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key, "Accept": "application/json"}
        self._http = BackendClient(
            backend="Datadog", source=name, base_url=base_url or site_url(site), timeout=timeout,
            headers=headers, retry=retry, sleep=sleep, transport=transport,
        )
        self.base_url = self._http.url

    def close(self) -> None:
        self._http.close()

    def probe(self) -> None:
        """Check that the API responds and accepts the keys; raise SourceError if not."""
        now = time.time()
        self._get({"from": str(int(now) - 60), "to": str(int(now)), "query": "avg:datadog.agent.running{*}"},
                  query=None)

    def fetch(self, query: str, *, start: float, end: float, step: float) -> list[Series]:
        """Return every series of `query` on [start, end], fetched in chunks of at most 1,500 steps."""
        if step <= 0:
            raise ValueError(f"step must be positive, got {step!r}")

        chunk = step * (MAX_POINTS_PER_SERIES - 1)
        points: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
        intervals: dict[tuple[tuple[str, str], ...], float] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + chunk)
            params = {"from": str(math.floor(chunk_start)), "to": str(math.ceil(chunk_end)), "query": query}
            body = self._get(params, query=query)
            for labels, interval, timestamps, values in self._parse_series(body, query):
                inside = (timestamps >= start) & (timestamps <= end)
                points.setdefault(labels, {}).update(zip(timestamps[inside], values[inside], strict=True))
                intervals[labels] = interval or step
            chunk_start = chunk_end + step

        series = []
        for labels, by_time in points.items():
            timestamps = np.array(sorted(by_time), dtype=np.float64)
            values = np.array([by_time[t] for t in timestamps], dtype=np.float64)
            quality = assess_quality(timestamps, values, start=start, end=end, step=intervals[labels])
            series.append(Series(dict(labels), timestamps, values, quality=quality))
        return series

    # --- parsing ----------------------------------------------------------------

    def _parse_series(
        self, body: dict[str, Any], query: str
    ) -> list[tuple[tuple[tuple[str, str], ...], float | None, np.ndarray, np.ndarray]]:
        entries = body.get("series")
        if not isinstance(entries, list):
            raise self._malformed(f"a response without a 'series' list: {str(body)[:120]!r}", query)

        parsed = []
        seen: set[tuple[tuple[str, str], ...]] = set()
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise self._malformed(f"a series entry that is not an object: {entry!r:.120}", query)
            labels = series_labels(entry)
            if labels in seen:
                # Two expressions of one query can share a scope; keep them apart.
                labels = tuple(sorted((*labels, ("query_index", str(entry.get("query_index", index))))))
            seen.add(labels)
            timestamps, values = self._parse_pointlist(entry.get("pointlist") or [], query)
            interval = entry.get("interval")
            parsed.append((labels, float(interval) if isinstance(interval, int | float) and interval > 0 else None,
                           timestamps, values))
        return parsed

    def _parse_pointlist(self, pointlist: list[Any], query: str) -> tuple[np.ndarray, np.ndarray]:
        """Parse `[[milliseconds, value or null], ...]`; null points are left out as missing."""
        timestamps = []
        values = []
        for point in pointlist:
            try:
                milliseconds, value = point[0], point[1]
                if value is None:
                    continue
                timestamps.append(float(milliseconds) / 1000.0)
                values.append(float(value))
            except (TypeError, ValueError, IndexError, KeyError):
                raise self._malformed(f"a point that is not [milliseconds, value]: {point!r:.120}", query) from None
        return np.array(timestamps, dtype=np.float64), np.array(values, dtype=np.float64)

    def _malformed(self, what: str, query: str | None) -> SourceError:
        return SourceError(f"Datadog at {self.base_url} returned {what}",
                           source=self.name, url=self.base_url, query=query)

    # --- HTTP -------------------------------------------------------------------

    def _get(self, params: dict[str, str], *, query: str | None) -> dict[str, Any]:
        response = self._http.get(
            "/api/v1/query", params, query=query,
            retry_after=_reset_seconds,
            before_attempt=lambda: self.budget.acquire(source=self.name, url=self.base_url, query=query),
            after_response=self._record_rate_limit,
        )
        status = response.status_code
        where = f"Datadog at {self.base_url}"

        if status == 429:
            wait = _reset_seconds(response) or 0.0
            raise SourceRateLimited(
                f"{where} rate limited the query (HTTP 429); the limit resets in {wait:.0f}s",
                source=self.name, url=self.base_url, query=query, retry_after=wait,
            )

        body = self._http.decode_json(response, query)
        errors = _error_messages(body)
        if status in (401, 403):
            raise SourceError(f"{where} rejected the keys (HTTP {status}: {errors or 'no detail'}); {self.auth_hint}",
                              source=self.name, url=self.base_url, query=query)
        if status in (400, 404, 422):
            raise QueryRejected(f"{where} rejected the query (HTTP {status}): {errors or 'no detail'}",
                                source=self.name, url=self.base_url, query=query)
        if status >= 400:
            raise SourceError(f"{where} failed (HTTP {status}): {errors or 'no detail'}",
                              source=self.name, url=self.base_url, query=query)
        if not isinstance(body, dict):
            raise self._malformed(f"JSON that is not an object: {str(body)[:120]!r}", query)
        if body.get("status") == "error" or body.get("errors"):
            raise QueryRejected(f"{where} rejected the query: {errors or body.get('error') or 'no detail'}",
                                source=self.name, url=self.base_url, query=query)
        return body

    def _record_rate_limit(self, response: httpx.Response) -> None:
        report = self.budget.record(response.headers)
        if response.status_code == 429 and report is None:
            self.budget.spend(retry_after_header(response) or 1.0)
        if report is not None:
            log.debug("source %s: rate limit %s/%s requests left, resets in %.0fs", self.name,
                      report.remaining, report.limit, report.reset_after)


def series_labels(entry: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Return the label set of one Datadog series: its tags (`tag_set`, else `scope`) and metric name.

    A tag `host:web-1` becomes host=web-1 (split at the first colon); a tag
    without a colon becomes a label with an empty value; the scope `*` of
    an ungrouped query adds no label. Repeated keys join their values with
    a comma.
    """
    tags = entry.get("tag_set")
    if not isinstance(tags, list) or not tags:
        scope = entry.get("scope") or ""
        tags = [] if scope in ("", "*") else scope.split(",")

    labels: dict[str, str] = {}
    for tag in tags:
        key, _, value = str(tag).strip().partition(":")
        labels[key] = f"{labels[key]},{value}" if key in labels else value
    if entry.get("metric"):
        labels["__name__"] = str(entry["metric"])
    return tuple(sorted(labels.items()))


def _error_messages(body: Any) -> str:
    """Join the `errors` list of a Datadog error body (`{"errors": ["..."]}`)."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            return "; ".join(str(error) for error in errors)
        if isinstance(body.get("error"), str):
            return body["error"]
    return ""


def _reset_seconds(response: httpx.Response) -> float | None:
    report = parse_rate_limit_headers(response.headers)
    if report is not None:
        return report.reset_after
    return retry_after_header(response)
