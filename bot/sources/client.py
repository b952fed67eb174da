"""HTTP for metric sources: retries with exponential backoff, one log line per request, errors translated.

Every source sends its requests through a `BackendClient`. It retries a
request that could not be sent, timed out, or got HTTP 429 or a 5xx status.
It logs one INFO line per request (source, method, URL path, status,
latency) and turns httpx's exceptions into SourceUnreachable. What a
response body means is left to the source, because each backend words its
errors differently.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.errors import SourceError, SourceUnreachable

log = logging.getLogger(__name__)

# 429 is a rate limit, and servers and proxies return 500, 502, 503 or 504
# while restarting or overloaded. Other statuses will not change on retry.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# How much of a non-JSON body an error message quotes.
BODY_SNIPPET_CHARS = 120


@dataclass(frozen=True)
class RetryPolicy:
    """How a source retries a failed request.

    Retry n waits `backoff * 2**(n - 1)` seconds, at most `max_backoff`,
    scaled by a random factor from 0.5 to 1 so that workers do not retry in
    step. On HTTP 429 it waits for the time the backend requests instead,
    unless that is longer than `max_retry_after`, in which case it gives up
    at once.
    """

    retries: int = 2
    backoff: float = 0.5
    max_backoff: float = 10.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("backoff, max_backoff and max_retry_after must be 0 or more seconds")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Return the seconds to wait before retry number `retry` (1 for the first)."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return ceiling * (0.5 + rng.random() / 2)


def tls_context(ca_file: str | Path) -> ssl.SSLContext:
    """Return a TLS context that trusts the CA certificates in `ca_file` (PEM).

    Raises OSError when the file cannot be read and ssl.SSLError when it
    contains no valid certificate.
    """
    return ssl.create_default_context(cafile=str(ca_file))


def display_url(url: str) -> str:
    """Return `url` without user name and password, for logs and messages."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed).rstrip("/")


class BackendClient:
    """An httpx client for one source, with retries, logging and error translation."""

    def __init__(
        self,
        *,
        backend: str,
        source: str,
        base_url: str,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        ca_file: str | Path | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.backend = backend
        self.source = source
        self.url = display_url(base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()

        # httpx logs request URLs, user info included, so credentials in the
        # URL move into basic auth and the URL goes without them.
        parsed = httpx.URL(base_url)
        if parsed.userinfo:
            if auth is None and parsed.username:
                auth = httpx.BasicAuth(parsed.username, parsed.password or "")
            base_url = self.url
        verify: ssl.SSLContext | bool = tls_context(ca_file) if ca_file else True
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=dict(headers or {}),
            auth=auth, verify=verify, transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        query: str | None,
        retry_after: Callable[[httpx.Response], float | None] | None = None,
        before_attempt: Callable[[], None] | None = None,
        after_response: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """Send GET `path` and return the response, retrying as the RetryPolicy sets.

        Returns the last response when retries run out on an HTTP status, so
        the source can word the backend's error. Raises SourceUnreachable
        when the last attempt could not be sent or timed out. `retry_after`
        reads the wait a 429 response requests (default: its Retry-After
        header); `before_attempt` and `after_response` run around each
        attempt, for a rate-limit budget.
        """
        attempt = 0
        while True:
            if before_attempt is not None:
                before_attempt()
            response, failure = self._attempt(path, params, query)
            if response is not None:
                if after_response is not None:
                    after_response(response)
                if response.status_code not in RETRY_STATUSES:
                    return response

            wait = self._wait(response, attempt + 1, retry_after)
            if wait is None or attempt >= self.retry.retries or (failure is not None and not failure.retryable):
                if failure is not None:
                    raise failure.error
                assert response is not None
                return response

            attempt += 1
            if failure is not None:
                reason = str(failure.error)
            else:
                assert response is not None
                reason = f"HTTP {response.status_code}"
            log.warning("source %s: GET %s%s failed (%s); retry %d/%d in %.1fs",
                        self.source, self.url, path, reason, attempt, self.retry.retries, wait)
            self._sleep(wait)

    def _attempt(
        self, path: str, params: Mapping[str, str], query: str | None
    ) -> tuple[httpx.Response | None, _Failure | None]:
        started = time.monotonic()
        try:
            response = self._client.get(path, params=params)
        except httpx.TimeoutException:
            return None, _Failure(SourceUnreachable(
                f"{self.backend} at {self.url} timed out after {self.timeout:g}s",
                source=self.source, url=self.url, query=query,
            ))
        except httpx.TransportError as error:
            return None, self._transport_failure(error, query)

        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("source %s: GET %s%s status=%s %.0fms", self.source, self.url, path,
                 response.status_code, elapsed_ms)
        log.debug("source %s: GET %s params=%s", self.source, path, dict(params))
        return response, None

    def _transport_failure(self, error: httpx.TransportError, query: str | None) -> _Failure:
        if _is_certificate_error(error):
            message = (
                f"{self.backend} at {self.url} presented a TLS certificate that is not trusted: {error}; "
                "set the source's CA file to the certificate of the CA that signed it"
            )
            return _Failure(SourceUnreachable(message, source=self.source, url=self.url, query=query),
                            retryable=False)
        return _Failure(SourceUnreachable(
            f"{self.backend} at {self.url} is unreachable: {error}",
            source=self.source, url=self.url, query=query,
        ))

    def _wait(
        self, response: httpx.Response | None, retry: int,
        retry_after: Callable[[httpx.Response], float | None] | None,
    ) -> float | None:
        """Return the seconds before the next attempt, or None when waiting is pointless."""
        if response is None or response.status_code != 429:
            return self.retry.delay(retry, self._rng)
        asked = (retry_after or retry_after_header)(response)
        if asked is None:
            return self.retry.delay(retry, self._rng)
        if asked > self.retry.max_retry_after:
            return None
        return max(asked, 0.0)

    def decode_json(self, response: httpx.Response, query: str | None) -> Any:
        """Return the parsed JSON body; raise SourceError quoting the start of a body that is not JSON.

        Python's parser accepts the bare NaN and Infinity that some backends
        (Atlas) write, which strict JSON does not allow.
        """
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:BODY_SNIPPET_CHARS].replace("\n", " ")
            content_type = response.headers.get("content-type", "no content type")
            raise SourceError(
                f"{self.backend} at {self.url} responded with HTTP {response.status_code} "
                f"and a body that is not JSON ({content_type}): {snippet!r}",
                source=self.source, url=self.url, query=query,
            ) from None


@dataclass(frozen=True)
class _Failure:
    error: SourceUnreachable
    retryable: bool = True


def retry_after_header(response: httpx.Response) -> float | None:
    """Return the seconds in a Retry-After header, or None without one (HTTP dates are ignored)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _is_certificate_error(error: BaseException) -> bool:
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        current = current.__cause__ or current.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)
