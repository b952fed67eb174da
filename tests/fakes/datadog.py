"""`FakeDatadog`: Datadog's metrics query API, `GET /api/v1/query?from=&to=&query=`, on loopback.

It responds in the documented format
(https://docs.datadoghq.com/api/latest/metrics/query-timeseries-points/)::

    {"status": "ok", "res_type": "time_series", "query": "...", "from_date": ms, "to_date": ms,
     "group_by": [...], "message": "",
     "series": [{"metric": "...", "display_name": "...", "scope": "host:a,env:prod",
                 "tag_set": ["host:a", "env:prod"], "expression": "...", "query_index": 0,
                 "aggr": "avg", "interval": 60, "length": n, "start": ms, "end": ms,
                 "pointlist": [[ms, value or null], ...], "unit": null}]}

Errors are `{"errors": ["..."]}`: 403 for a missing or wrong key, 400 for a
rejected query. With `rate_limit` set it counts requests per calendar-aligned
period and sends the X-RateLimit-Limit, -Period, -Remaining and -Reset
headers on every answer, and 429 once the period's budget is spent
(https://docs.datadoghq.com/api/latest/rate-limits/).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tests.fakes.server import LoopbackFake, LoopbackServer, Reply, Request

API_KEY = "dd-api-key-for-tests"
APP_KEY = "dd-app-key-for-tests"


@dataclass(frozen=True)
class FakeSeries:
    """One series the fake returns: timestamps in seconds, None for an interval without data."""

    metric: str
    tags: tuple[str, ...]
    timestamps: tuple[float, ...]
    values: tuple[float | None, ...]
    interval: int = 60


class FakeDatadog(LoopbackFake):
    """A Datadog API for one organisation, with its keys and an optional rate limit."""

    def __init__(
        self, *, api_key: str = API_KEY, app_key: str = APP_KEY, rate_limit: int | None = None,
        period: int = 3600,
    ) -> None:
        self.api_key = api_key
        self.app_key = app_key
        self.rate_limit = rate_limit
        self.period = period
        self.series: dict[str, list[FakeSeries]] = {}
        self.rejected: dict[str, str] = {}
        self.rate_limited = 0
        self._window: tuple[int, int] = (-1, 0)
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._handle)

    def add(
        self, query: str, *, metric: str, tags: Sequence[str], timestamps: Sequence[float],
        values: Sequence[float | None], interval: int = 60,
    ) -> None:
        """Add one series to the response to `query`."""
        series = FakeSeries(metric, tuple(tags), tuple(float(t) for t in timestamps), tuple(values), interval)
        self.series.setdefault(query, []).append(series)

    def reject(self, query: str, message: str) -> None:
        """Respond to `query` with HTTP 400 and `message`, as Datadog does for a query it cannot parse."""
        self.rejected[query] = message

    # --- answering ----------------------------------------------------------------

    def _handle(self, request: Request) -> Reply:
        limit_headers, spent = self._count_request()
        if request.path != "/api/v1/query":
            return Reply.json(404, {"errors": ["Not Found"]}, limit_headers)
        keys = (request.headers.get("dd-api-key"), request.headers.get("dd-application-key"))
        if keys != (self.api_key, self.app_key):
            return Reply.json(403, {"errors": ["Forbidden"]}, limit_headers)
        if spent:
            self.rate_limited += 1
            message = (f"Rate limit of {self.rate_limit} requests in {self.period} seconds reached. "
                       "Please try again later.")
            return Reply.json(429, {"errors": [message]}, limit_headers)

        try:
            start, end = int(request.params["from"]), int(request.params["to"])
            query = request.params["query"]
        except (KeyError, ValueError):
            return Reply.json(400, {"errors": ["The parameters 'from', 'to' and 'query' are required"]}, limit_headers)
        if query in self.rejected:
            return Reply.json(400, {"errors": [self.rejected[query]]}, limit_headers)
        return Reply.json(200, self._body(query, start, end), limit_headers)

    def _body(self, query: str, start: int, end: int) -> dict:
        entries = []
        for index, series in enumerate(self.series.get(query, [])):
            points = [[t * 1000.0, value] for t, value in zip(series.timestamps, series.values, strict=True)
                      if start <= t <= end]
            scope = ",".join(series.tags) or "*"
            entries.append({
                "metric": series.metric, "display_name": series.metric, "scope": scope,
                "tag_set": list(series.tags), "expression": f"avg:{series.metric}{{{scope}}}",
                "query_index": 0 if len(self.series[query]) == 1 else index, "aggr": "avg",
                "interval": series.interval, "length": len(points),
                "start": points[0][0] if points else start * 1000, "end": points[-1][0] if points else end * 1000,
                "pointlist": points, "unit": None,
            })
        group_by = sorted({tag.partition(":")[0] for series in self.series.get(query, []) for tag in series.tags})
        return {
            "status": "ok", "res_type": "time_series", "query": query, "from_date": start * 1000,
            "to_date": end * 1000, "group_by": group_by, "message": "", "series": entries,
        }

    def _count_request(self) -> tuple[dict[str, str], bool]:
        """Count one request against the period's budget; return the rate-limit headers and whether it is spent."""
        if self.rate_limit is None:
            return {}, False
        now = time.time()
        window = math.floor(now / self.period)
        with self._lock:
            current, count = self._window
            count = count + 1 if window == current else 1
            self._window = (window, count)
        remaining = max(self.rate_limit - count, 0)
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Period": str(self.period),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil((window + 1) * self.period - now)),
            "X-RateLimit-Name": "query",
        }
        return headers, count > self.rate_limit
