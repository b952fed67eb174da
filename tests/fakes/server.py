"""`LoopbackServer`: an HTTP(S) server on 127.0.0.1 and a free port, for test doubles of metric backends.

A handler function turns each recorded `Request` into a `Reply`. Tests can
queue replies that take precedence over the handler, to play faults in
order (a 502, then a timeout, then the normal response)::

    with LoopbackServer(lambda request: Reply.json(200, {"status": "success"})) as server:
        server.queue(Reply.text(502, "<html>Bad Gateway</html>", "text/html"))
        ...
        assert server.requests[0].params["query"] == "up"
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    # The last value of each query parameter.
    params: dict[str, str]
    # Header names in lower case.
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    """What the server sends back; `delay` seconds pass before it does."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        # allow_nan writes NaN and Infinity bare, as Atlas's json output does.
        body = json.dumps(payload, allow_nan=True).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain",
             headers: dict[str, str] | None = None) -> Reply:
        return cls(status, text.encode(), {"Content-Type": content_type, **(headers or {})})


class LoopbackServer:
    """A threaded HTTP server bound to 127.0.0.1 that records requests and responds through `handler`."""

    def __init__(self, handler: Callable[[Request], Reply], *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.requests: list[Request] = []
        self._queued: list[Reply] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> LoopbackServer:
        self._server = _Server((LOOPBACK, 0), _handler_class(self))
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def queue(self, reply: Reply, count: int = 1) -> None:
        """Respond to the next `count` requests with `reply` instead of the handler's response."""
        with self._lock:
            self._queued.extend([reply] * count)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._queued.pop(0) if self._queued else None
        return queued if queued is not None else self.handler(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) closes the socket under a slow reply; that is expected here.
        pass


def _handler_class(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's handler naming
            parts = urlsplit(self.path)
            params = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = server._answer(Request("GET", parts.path, params, headers))
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


class LoopbackFake:
    """Base of the fake backends: owns a LoopbackServer, its URL, its requests and a context manager."""

    server: LoopbackServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop()
