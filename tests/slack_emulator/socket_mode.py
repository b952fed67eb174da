"""Slack's Socket Mode on loopback: a WebSocket server that sends envelopes and records acks.

The app calls `apps.connections.open` (with its `xapp-` token) for a URL, and the
emulator returns this server's `ws://127.0.0.1:PORT/link`. The server
greets each connection with `hello`, as Slack does, then the test sends
envelopes (`slash_commands`, `interactive`) and waits for the app to ack each
one by its `envelope_id`
(https://api.slack.com/apis/socket-mode#events).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

LOOPBACK_HOST = "127.0.0.1"


class SocketModeServer:
    def __init__(self) -> None:
        self.acks: dict[str, dict[str, Any]] = {}
        self._connections: list[ServerConnection] = []
        self._lock = threading.Lock()
        self._server = serve(self._handle, LOOPBACK_HOST, 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK_HOST}:{self._server.socket.getsockname()[1]}/link"

    def start(self) -> SocketModeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def connected(self) -> bool:
        with self._lock:
            return bool(self._connections)

    def send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Send one envelope to the newest connection; return its envelope_id."""
        envelope_id = uuid.uuid4().hex
        with self._lock:
            connection = self._connections[-1]
        connection.send(json.dumps({
            "envelope_id": envelope_id, "type": envelope_type, "payload": payload,
            "accepts_response_payload": envelope_type != "events_api", "retry_attempt": 0, "retry_reason": "",
        }))
        return envelope_id

    def wait_ack(self, envelope_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Return the app's ack of an envelope; raise TimeoutError if it does not come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if envelope_id in self.acks:
                    return self.acks[envelope_id]
            time.sleep(0.02)
        raise TimeoutError(f"no ack for envelope {envelope_id} within {timeout:.0f}s")

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "A0EMULATOR"},
                                    "debug_info": {"host": "emulator", "approximate_connection_time": 3600}}))
        with self._lock:
            self._connections.append(connection)
        try:
            for raw in connection:
                message = json.loads(raw)
                if "envelope_id" in message:
                    with self._lock:
                        self.acks[message["envelope_id"]] = message
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)
