"""`SlackEmulator`: a Slack Web API over real HTTP on loopback, for tests.

The emulator responds the way Slack documents: HTTP 200 with `{"ok": true, ...}` or
`{"ok": false, "error": "..."}`, and HTTP 429 with `Retry-After` when a test asks for
rate limiting. Point slack_sdk or Bolt at it through `base_url`::

    with SlackEmulator() as slack:
        channel = slack.add_channel("incidents")
        client = WebClient(token=slack.token, base_url=slack.base_url)
        client.chat_postMessage(channel="#incidents", text="CPU anomaly")
        assert slack.messages(channel)[0]["text"] == "CPU anomaly"

As a pytest fixture::

    @pytest.fixture
    def slack():
        with SlackEmulator() as emulator:
            yield emulator

Besides `/api/<method>`, the same server answers the upload URLs that
files.getUploadURLExternal hands out (`/upload/v1/<file_id>`), serves uploaded files
(`/files-pri/<file_id>/<name>`), and records posts to the `response_url`s that
`new_response_url` creates (`/response/<id>`). It binds 127.0.0.1 only and never
contacts another host.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError
from .faults import FaultPlan, RateLimited
from .http_body import RequestArguments, parse_arguments
from .http_reply import Reply
from .methods import METHODS, ApiCall, Args
from .response_urls import receive_post
from .state import ResponseUrl, ResponseUrlPost, UploadedFile, Workspace
from .uploads import read_download, store_upload

logger = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
DEFAULT_TOKEN = "xoxb-emulator-token"
DEFAULT_APP_TOKEN = "xapp-emulator-token"
# How long a request thread waits for a slow client before it gives up, in seconds.
REQUEST_TIMEOUT_SECONDS = 5.0
SERVER_STOP_TIMEOUT_SECONDS = 5.0
# How often the serving thread checks for stop(), in seconds. stop() waits up to this
# long, and tests start and stop many emulators.
SHUTDOWN_POLL_SECONDS = 0.01


@dataclass(frozen=True)
class RecordedCall:
    """One Web API request and the emulator's response."""

    method: str
    # The request's arguments, query string and body merged, without `token`.
    params: dict[str, Any]
    # When the request arrived, by the workspace clock, in seconds since the epoch.
    time: float
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return self.response.get("error")


class SlackEmulator:
    """A local Slack workspace that serves the Web API over HTTP.

    Args:
        token: the one bot token the emulator accepts. Other tokens are `invalid_auth`.
        team_id, team_domain, bot_name: identify the workspace and the app's bot user.
        clock: the time source for message `ts` values, call times and rate limits.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        team_id: str = "T0001",
        team_domain: str = "emulated-workspace",
        bot_name: str = "anomaly-bot",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.app_token = app_token
        # Set by a test that runs a SocketModeServer; apps.connections.open returns it.
        self.socket_mode_url: str | None = None
        self.workspace = Workspace(
            team_id=team_id, team_domain=team_domain, bot_name=bot_name, clock=clock
        )
        self._faults = FaultPlan()
        self._calls: list[RecordedCall] = []
        self._server: _EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle.

    def start(self) -> SlackEmulator:
        """Bind a free port on 127.0.0.1 and serve requests in a background thread."""
        if self._server is not None:
            raise RuntimeError(f"the Slack emulator is already running at {self.base_url}")
        self._server = _EmulatorHTTPServer(self)
        self.workspace.root_url = self.root_url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name=f"slack-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Slack emulator started at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wait for request threads to finish."""
        if self._server is None:
            return
        url = self.base_url
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(SERVER_STOP_TIMEOUT_SECONDS)
        self._server = None
        self._thread = None
        logger.info("Slack emulator at %s stopped", url)

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Slack emulator is not running; call start() first")
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT/`, the root of every URL the emulator serves."""
        return f"http://{LOOPBACK_HOST}:{self.port}/"

    @property
    def base_url(self) -> str:
        """The Web API root to pass as slack_sdk's `base_url`, with its trailing slash."""
        return f"{self.root_url}api/"

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user_id

    # Seeding and inspection, delegated to the workspace.

    def add_channel(
        self,
        name: str,
        *,
        member: bool = True,
        archived: bool = False,
        private: bool = False,
        members: Iterable[str] = (),
    ) -> str:
        """Create a channel and return its ID; see `Workspace.add_channel`."""
        return self.workspace.add_channel(
            name, member=member, archived=archived, private=private, members=members
        )

    def add_user(self, name: str, *, real_name: str | None = None) -> str:
        """Create a user and return its ID."""
        return self.workspace.add_user(name, real_name=real_name)

    def add_usergroup(
        self, handle: str, user_ids: Iterable[str], *, name: str | None = None
    ) -> str:
        """Create a user group and return its ID."""
        return self.workspace.add_usergroup(handle, user_ids, name=name)

    def add_message(
        self, channel: str, text: str, *, user: str, thread_ts: str | None = None
    ) -> str:
        """Post a message as a person would and return its `ts`."""
        return self.workspace.add_message(channel, text, user=user, thread_ts=thread_ts)

    def messages(self, channel: str, *, include_replies: bool = False) -> list[dict[str, Any]]:
        """Return a channel's messages, oldest first; see `Workspace.messages`."""
        return self.workspace.messages(channel, include_replies=include_replies)

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Return a thread, parent first."""
        return self.workspace.replies(channel, thread_ts)

    def ephemeral_messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Return the ephemeral messages sent, all or those of one channel ID."""
        with self.workspace.lock:
            return [
                dict(message)
                for message in self.workspace.ephemeral_messages
                if channel is None or message["channel"] == channel
            ]

    @property
    def views(self) -> list[dict[str, Any]]:
        """The views.open requests: `{"trigger_id": ..., "view": ...}` each."""
        with self.workspace.lock:
            return list(self.workspace.views)

    def uploaded_file(self, file_id: str) -> UploadedFile:
        """Return a file created through files.getUploadURLExternal."""
        with self.workspace.lock:
            return self.workspace.files[file_id]

    @property
    def calls(self) -> list[RecordedCall]:
        """Every Web API request so far, oldest first."""
        with self.workspace.lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        """The requests to one Web API method, such as `"chat.postMessage"`."""
        return [call for call in self.calls if call.method == method]

    def reset(self) -> None:
        """Return to an empty workspace and forget calls, faults and rate limits."""
        with self.workspace.lock:
            self.workspace.reset()
            self._calls.clear()
            self._faults.reset()

    # Failure control.

    def rate_limit_next(self, method: str, retry_after: int = 1, count: int = 1) -> None:
        """Fail the next `count` calls of `method` with HTTP 429 and `Retry-After`."""
        self._faults.rate_limit_next(_known_method(method), retry_after=retry_after, count=count)

    def fail_next(
        self,
        method: str,
        error: str = "channel_not_found",
        count: int = 1,
        *,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Fail the next `count` calls of `method` with `error` in an HTTP 200 body.

        `fields` adds keys to the body, such as `{"needed": "chat:write"}` for
        `missing_scope`.
        """
        self._faults.fail_next(_known_method(method), error=error, count=count, fields=fields or {})

    def set_rate_limit(
        self, method: str, *, calls: int, per_seconds: float = 60.0, per_channel: bool = False
    ) -> None:
        """Rate limit `method` to `calls` per `per_seconds`, counted per channel if set.

        Slack's tiers are calls per minute (Tier 2 is 20+, Tier 3 is 50+), and
        chat.postMessage allows about one message per second per channel:
        `set_rate_limit("chat.postMessage", calls=1, per_seconds=1, per_channel=True)`.
        """
        self._faults.set_rate_limit(
            _known_method(method), calls=calls, per_seconds=per_seconds, per_channel=per_channel
        )

    # Response URLs.

    def new_response_url(self, *, channel: str | None = None, message_ts: str | None = None) -> str:
        """Create a `response_url` on the emulator for a slash command or block action.

        Args:
            channel: the channel ID the command or action came from. With it, a post
                with `"response_type": "in_channel"` appears in the channel.
            message_ts: the message a block action came from. With it,
                `replace_original` and `delete_original` change that message.
        """
        with self.workspace.lock:
            url_id = self.workspace.next_id("R")
            url = f"{self.root_url}response/{url_id}"
            self.workspace.response_urls[url_id] = ResponseUrl(
                id=url_id, url=url, channel_id=channel, message_ts=message_ts
            )
            return url

    def response_posts(self, url: str | None = None) -> list[ResponseUrlPost]:
        """Return what the app posted to one response URL, or to all of them."""
        with self.workspace.lock:
            return [
                post
                for response_url in self.workspace.response_urls.values()
                if url is None or response_url.url == url
                for post in response_url.posts
            ]

    # Request handling, called from the server's request threads.

    def _route(self, verb: str, path: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(path)
        segments = parts.path.strip("/").split("/")
        if segments[0] == "api" and len(segments) == 2:
            return self._serve_api(segments[1], headers, body, parts.query)
        if verb == "POST" and segments[:2] == ["upload", "v1"] and len(segments) == 3:
            return store_upload(self.workspace, segments[2], headers.get("Content-Type"), body)
        if verb == "GET" and segments[0] == "files-pri" and len(segments) == 3:
            return read_download(self.workspace, segments[1], segments[2])
        if verb == "POST" and segments[0] == "response" and len(segments) == 2:
            return receive_post(self.workspace, segments[1], body)
        logger.warning("Slack emulator has no %s %s", verb, parts.path)
        return Reply.text(404, f"no such path on the Slack emulator: {parts.path}")

    def _serve_api(self, method: str, headers: Any, body: bytes, query: str) -> Reply:
        started = time.perf_counter()
        arrived = self.workspace.clock()
        params: dict[str, Any] = {}
        try:
            arguments = parse_arguments(headers.get("Content-Type"), body, query)
            params = {k: v for k, v in arguments.values.items() if k != "token"}
            reply = self._answer_api(method, headers, arguments)
        except ApiError as error:
            reply = Reply.json(200, error.to_body())
        except Exception:
            # This is a bug in the emulator, not a Slack error. Log it and respond as
            # Slack does when it fails, so that the call is still recorded.
            logger.exception("Slack emulator failed in %s with params %s", method, params)
            reply = Reply.json(500, {"ok": False, "error": "internal_error"})

        response = reply.payload
        with self.workspace.lock:
            self._calls.append(RecordedCall(method, params, arrived, reply.status, response))
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "Slack emulator %s -> HTTP %d %s in %.1f ms",
            method,
            reply.status,
            response.get("error", "ok"),
            elapsed_ms,
        )
        return reply

    def _answer_api(self, method: str, headers: Any, arguments: RequestArguments) -> Reply:
        """Check method and token, apply faults, then run the method's handler."""
        token = _bearer_token(headers.get("Authorization")) or arguments.form_token
        if method == "apps.connections.open":
            return self._open_socket_mode(token)

        handler = METHODS.get(method)
        if handler is None:
            return Reply.json(200, {"ok": False, "error": "unknown_method", "req_method": method})

        if not token:
            raise ApiError("not_authed")
        if token != self.token:
            raise ApiError("invalid_auth")

        values = arguments.values
        channel = values.get("channel") if isinstance(values.get("channel"), str) else None
        fault = self._faults.take(method, channel, self.workspace.clock())
        if isinstance(fault, RateLimited):
            rate_limited = {"ok": False, "error": "ratelimited"}
            return Reply.json(429, rate_limited, {"Retry-After": str(fault.retry_after)})
        if fault is not None:
            raise fault

        with self.workspace.lock:
            result = handler(ApiCall(method=method, args=Args(values), workspace=self.workspace))
        return Reply.json(200, result)


    def _open_socket_mode(self, token: str | None) -> Reply:
        """Answer apps.connections.open: only the app-level token may open a Socket Mode URL."""
        if not token:
            raise ApiError("not_authed")
        if token == self.token:
            raise ApiError("not_allowed_token_type")
        if token != self.app_token:
            raise ApiError("invalid_auth")
        if self.socket_mode_url is None:
            raise ApiError("socket_mode_disabled")
        return Reply.json(200, {"ok": True, "url": self.socket_mode_url})


class _EmulatorHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to a free port on 127.0.0.1.

    Request threads are not daemons and `server_close` joins them, so a test that
    stops the emulator leaves no thread or socket behind.
    """

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, emulator: SlackEmulator) -> None:
        self.emulator = emulator
        super().__init__((LOOPBACK_HOST, 0), _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, passes it to the emulator, and closes the connection."""

    server: _EmulatorHTTPServer
    # HTTP/1.0 closes the connection after each response, so no thread waits on an
    # idle keep-alive connection when the emulator stops.
    protocol_version = "HTTP/1.0"
    timeout = REQUEST_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            reply = self.server.emulator._route(verb, self.path, self.headers, body)
        except Exception:
            logger.exception("Slack emulator failed on %s %s", verb, self.path)
            reply = Reply.json(500, {"ok": False, "error": "internal_error"})

        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("Slack emulator HTTP: " + format, *args)


def _bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _known_method(method: str) -> str:
    if method not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise ValueError(f"the Slack emulator does not implement {method!r}; it knows {known}")
    return method
