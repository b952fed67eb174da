"""A loopback HTTP proxy in front of the Slack emulator that can play a Slack outage.

While `down` is set it answers every request with HTTP 503; otherwise it
forwards the request to the emulator and returns its answer unchanged.
"""

from __future__ import annotations

import http.server
import threading

import httpx

from tests.harness.processes import LOOPBACK


class OutageProxy:
    def __init__(self, target_root: str) -> None:
        self.target_root = target_root.rstrip("/")
        self.down = False
        self.refused = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's handler naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if proxy.down:
                    proxy.refused += 1
                    self._reply(503, b"Service Unavailable", "text/plain", {})
                    return
                headers = {name: value for name, value in self.headers.items()
                           if name.lower() not in ("host", "content-length", "connection")}
                answer = httpx.post(f"{proxy.target_root}{self.path}", content=body, headers=headers, timeout=10)
                extra = {name: value for name, value in answer.headers.items() if name.lower() == "retry-after"}
                self._reply(answer.status_code, answer.content, answer.headers.get("content-type", ""), extra)

            def _reply(self, status, body, content_type, extra):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/api/"

    def start(self) -> OutageProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
