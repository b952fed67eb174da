"""Prometheus source: range queries (`/api/v1/query_range`) and instant queries (`/api/v1/query`).

Reference: https://prometheus.io/docs/prometheus/latest/querying/api/

Samples arrive as strings, including "NaN", "+Inf" and "-Inf", which are
parsed explicitly and kept, so data quality can be reported. Prometheus
leaves out the steps where a series has no sample within its lookback
window, and those points stay absent: a gap is never a zero. A query that
reads a raw `_total` counter without rate() or increase() is monitored as
its increase per step (see `bot.sources.counters`), unless the source is
set to keep raw counters.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np

from bot.errors import SourceError
from bot.sources.base import Series, assess_quality
from bot.sources.client import BackendClient, RetryPolicy, retry_after_header
from bot.sources.counters import counter_increases, is_raw_counter_query
from bot.sources.errors import QueryRejected, SourceRateLimited

log = logging.getLogger(__name__)

# Prometheus rejects a range query whose (end - start) / step exceeds 11,000
# with "exceeded maximum resolution of 11,000 points per timeseries" (see
# queryRange in https://github.com/prometheus/prometheus/blob/main/web/api/v1/api.go).
# Chunks of 11,000 points (10,999 steps) stay inside that limit.
MAX_POINTS_PER_SERIES = 11_000

RawCounters = Literal["increase", "keep"]

_LabelTuple = tuple[tuple[str, str], ...]


class PrometheusSource:
    """Range and instant queries against one Prometheus server.

    Long ranges are split into chunks of at most MAX_POINTS_PER_SERIES points
    on the same step grid and merged, so a 7-day baseline at 1-minute
    resolution is one call to `fetch`. Each label set of a matrix result is
    one series.
    """

    name = "prometheus"

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "prometheus",
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        ca_file: str | Path | None = None,
        retry: RetryPolicy | None = None,
        raw_counters: RawCounters = "increase",
        auth_hint: str = "check the source's credentials",
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.raw_counters = raw_counters
        self.auth_hint = auth_hint
        basic = httpx.BasicAuth(*auth) if isinstance(auth, tuple) else auth
        self._http = BackendClient(
            backend="Prometheus", source=name, base_url=base_url, timeout=timeout, headers=headers,
            auth=basic, ca_file=ca_file, retry=retry, sleep=sleep, transport=transport,
        )
        self.base_url = self._http.url
        # Queries already logged as raw counters, so the note appears once per process.
        self._noted_counters: set[str] = set()

    def close(self) -> None:
        self._http.close()

    def probe(self) -> None:
        """Check that the server responds on its API; raise SourceError if not."""
        self._get("/api/v1/status/buildinfo", {}, None)

    # --- range queries ------------------------------------------------------

    def fetch(
        self, query: str, *, start: float, end: float, step: float, counter: bool | None = None
    ) -> list[Series]:
        """Return the series of a range query on [start, end], merged across chunks.

        `counter` sets whether the query returns a raw counter to turn into
        increases. None decides from the query and the source's
        `raw_counters` setting.
        """
        if step <= 0:
            raise ValueError(f"step must be positive, got {step!r}")
        if counter is None:
            counter = self._reads_raw_counter(query)

        # A counter's first increase needs the sample one step before the range.
        fetch_start = start - step if counter else start
        merged = self._fetch_chunks(query, fetch_start, end, step)

        series = []
        for labels, (timestamps, values) in merged.items():
            resets = 0
            if counter:
                timestamps, values, resets = counter_increases(timestamps, values, step=step)
                inside = timestamps >= start
                timestamps, values = timestamps[inside], values[inside]
            quality = assess_quality(timestamps, values, start=start, end=end, step=step,
                                     counter_resets=resets)
            series.append(Series(dict(labels), timestamps, values, quality=quality))
        self._log_quality(query, series)
        return series

    def _fetch_chunks(
        self, query: str, start: float, end: float, step: float
    ) -> dict[_LabelTuple, tuple[np.ndarray, np.ndarray]]:
        chunk = step * (MAX_POINTS_PER_SERIES - 1)
        parts: dict[_LabelTuple, list[tuple[np.ndarray, np.ndarray]]] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + chunk)
            for labels, timestamps, values in self._query_range(query, chunk_start, chunk_end, step):
                parts.setdefault(labels, []).append((timestamps, values))
            chunk_start = chunk_end + step

        merged = {}
        for labels, pieces in parts.items():
            timestamps = np.concatenate([piece[0] for piece in pieces])
            values = np.concatenate([piece[1] for piece in pieces])
            order = np.argsort(timestamps, kind="stable")
            merged[labels] = (timestamps[order], values[order])
        return merged

    def _query_range(
        self, query: str, start: float, end: float, step: float
    ) -> list[tuple[_LabelTuple, np.ndarray, np.ndarray]]:
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        body = self._get("/api/v1/query_range", params, query)

        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, dict) else type(data).__name__
            raise SourceError(
                f"Prometheus at {self.base_url} returned result type {kind!r} for a range query, "
                "expected 'matrix'",
                source=self.name, url=self.base_url, query=query,
            )
        return [self._parse_matrix_entry(entry, query) for entry in data.get("result") or []]

    # --- instant queries ----------------------------------------------------

    def query(self, query: str, *, at: float | None = None) -> list[Series]:
        """Return the value of an instant query at unix time `at` (default: the server's now).

        A vector becomes one single-point series per label set, a scalar one
        series without labels, and a matrix (a range selector such as
        `up[5m]`) one series per label set with its raw samples.
        """
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = self._get("/api/v1/query", params, query)

        data = body.get("data")
        kind = data.get("resultType") if isinstance(data, dict) else None
        result = data.get("result") if isinstance(data, dict) else None
        if kind == "vector":
            return [self._parse_vector_entry(entry, query) for entry in result or []]
        if kind == "scalar":
            timestamps, values = self._parse_samples([result], query)
            return [Series({}, timestamps, values)]
        if kind == "matrix":
            return [Series(dict(labels), timestamps, values)
                    for labels, timestamps, values in (self._parse_matrix_entry(e, query) for e in result or [])]
        raise QueryRejected(
            f"Prometheus at {self.base_url} returned result type {kind!r} for the instant query; "
            "use an expression that returns numbers (a vector, scalar or matrix)",
            source=self.name, url=self.base_url, query=query,
        )

    # --- parsing --------------------------------------------------------------

    def _parse_matrix_entry(self, entry: Any, query: str) -> tuple[_LabelTuple, np.ndarray, np.ndarray]:
        if not isinstance(entry, dict):
            raise self._malformed(f"a matrix entry that is not an object: {entry!r:.120}", query)
        if "values" not in entry and "histograms" in entry:
            raise QueryRejected(
                f"Prometheus at {self.base_url} returned native histogram samples for "
                f"{entry.get('metric')}; wrap the query in histogram_quantile() or histogram_count()",
                source=self.name, url=self.base_url, query=query,
            )
        labels = tuple(sorted((entry.get("metric") or {}).items()))
        timestamps, values = self._parse_samples(entry.get("values") or [], query)
        return labels, timestamps, values

    def _parse_vector_entry(self, entry: Any, query: str) -> Series:
        if not isinstance(entry, dict) or "value" not in entry:
            raise self._malformed(f"a vector entry without a value: {entry!r:.120}", query)
        timestamps, values = self._parse_samples([entry["value"]], query)
        return Series(dict(entry.get("metric") or {}), timestamps, values)

    def _parse_samples(self, pairs: list[Any], query: str) -> tuple[np.ndarray, np.ndarray]:
        """Parse `[[unix_time, "value"], ...]`; values are strings, including NaN and ±Inf."""
        timestamps = np.empty(len(pairs), dtype=np.float64)
        values = np.empty(len(pairs), dtype=np.float64)
        for index, pair in enumerate(pairs):
            try:
                timestamps[index] = float(pair[0])
                values[index] = parse_sample(pair[1])
            except (TypeError, ValueError, IndexError, KeyError):
                raise self._malformed(f'a sample that is not [time, "value"]: {pair!r:.120}', query) from None
        return timestamps, values

    def _malformed(self, what: str, query: str) -> SourceError:
        return SourceError(f"Prometheus at {self.base_url} returned {what}",
                           source=self.name, url=self.base_url, query=query)

    # --- HTTP -------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str], query: str | None) -> dict[str, Any]:
        response = self._http.get(path, params, query=query)
        status = response.status_code
        where = f"Prometheus at {self.base_url}"

        if status in (401, 403):
            raise SourceError(f"{where} rejected the credentials (HTTP {status}); {self.auth_hint}",
                              source=self.name, url=self.base_url, query=query)
        if status == 404:
            raise SourceError(
                f"{where} has no API at {path} (HTTP 404); check the URL, including any path prefix "
                "the server is served under, such as http://host:9090/prometheus",
                source=self.name, url=self.base_url, query=query,
            )
        if status == 429:
            retry_after = retry_after_header(response) or 0.0
            raise SourceRateLimited(f"{where} is rate limiting requests (HTTP 429); retry after {retry_after:g}s",
                                    source=self.name, url=self.base_url, query=query, retry_after=retry_after)

        body = self._http.decode_json(response, query)
        if not isinstance(body, dict) or "status" not in body:
            raise SourceError(f"{where} responded with HTTP {status} and JSON that is not a Prometheus API "
                              f"response: {str(body)[:120]!r}; check that the URL points at Prometheus",
                              source=self.name, url=self.base_url, query=query)
        if body["status"] != "success":
            raise self._api_error(status, body, query)

        for warning in body.get("warnings") or []:
            log.warning("source %s: Prometheus at %s warned about query %r: %s",
                        self.name, self.base_url, query, warning)
        for info in body.get("infos") or []:
            log.info("source %s: Prometheus at %s noted about query %r: %s", self.name, self.base_url, query, info)
        return body

    def _api_error(self, status: int, body: dict[str, Any], query: str | None) -> SourceError:
        error_type = body.get("errorType")
        error = body.get("error")
        where = f"Prometheus at {self.base_url}"
        if status in (400, 422) or error_type in ("bad_data", "execution"):
            return QueryRejected(f"{where} rejected the query (HTTP {status}, {error_type}): {error}",
                                 source=self.name, url=self.base_url, query=query)
        if error_type in ("timeout", "canceled"):
            return SourceError(
                f"{where} gave up on the query (HTTP {status}, {error_type}): {error}; "
                "shorten the range or simplify the query, or raise the server's --query.timeout",
                source=self.name, url=self.base_url, query=query,
            )
        return SourceError(f"{where} failed (HTTP {status}, {error_type}): {error}",
                           source=self.name, url=self.base_url, query=query)

    # --- counters and data quality ----------------------------------------------

    def _reads_raw_counter(self, query: str) -> bool:
        if self.raw_counters == "keep" or not is_raw_counter_query(query):
            return False
        if query not in self._noted_counters:
            self._noted_counters.add(query)
            log.info("source %s: query %r reads a raw _total counter without rate(); monitoring its increase "
                     "per step, so a counter reset is not a drop (set raw_counters: keep to turn this off)",
                     self.name, query)
        return True

    def _log_quality(self, query: str, series: list[Series]) -> None:
        incomplete = [entry for entry in series if entry.quality is not None and not entry.quality.complete]
        for entry in incomplete:
            log.debug("source %s: query %r series %s: %s", self.name, query, dict(entry.labels),
                      entry.quality.describe() if entry.quality else "")
        non_finite = sum(entry.quality.non_finite for entry in series if entry.quality is not None)
        if non_finite:
            log.info("source %s: query %r returned %d NaN or infinite value(s) in %d series; "
                     "they are left out of baselines", self.name, query, non_finite, len(series))


def parse_sample(text: str) -> float:
    """Parse one Prometheus sample value; Prometheus writes them as strings: "1.5", "NaN", "+Inf", "-Inf"."""
    if text == "NaN":
        return math.nan
    if text == "+Inf":
        return math.inf
    if text == "-Inf":
        return -math.inf
    if not isinstance(text, str):
        raise TypeError(f"sample value {text!r} is not a string")
    return float(text)
