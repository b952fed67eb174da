"""`PrometheusProxy`: an authenticating reverse proxy in front of a real Prometheus, as nginx often is.

It checks a bearer token or basic-auth credentials, optionally serves
HTTPS, forwards accepted GET requests to the upstream server unchanged and
records every request's headers. A rejected request gets 401 with an HTML
page, as a proxy responds, not Prometheus's JSON.
"""

from __future__ import annotations

import base64
import ssl

import httpx

from tests.fakes.server import LoopbackFake, LoopbackServer, Reply, Request

UNAUTHORIZED_PAGE = "<html><head><title>401 Authorization Required</title></head><body>nginx</body></html>"


class PrometheusProxy(LoopbackFake):
    def __init__(
        self, upstream: str, *, bearer_token: str | None = None, basic: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.expected = None
        if bearer_token is not None:
            self.expected = f"Bearer {bearer_token}"
        elif basic is not None:
            self.expected = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
        self.server = LoopbackServer(self._handle, tls=tls)

    def _handle(self, request: Request) -> Reply:
        if self.expected is not None and request.headers.get("authorization") != self.expected:
            return Reply.text(401, UNAUTHORIZED_PAGE, "text/html",
                              {"WWW-Authenticate": 'Basic realm="prometheus"'})
        answer = httpx.get(f"{self.upstream}{request.path}", params=request.params, timeout=10)
        return Reply(answer.status_code, answer.content,
                     {"Content-Type": answer.headers.get("content-type", "application/json")})
