"""`POST /events`: deployments, autoscaling actions and config changes, sent like a webhook.

The body is one JSON object::

    {"type": "deployment", "service": "checkout", "version": "v2.3.1",
     "time": "2024-06-01T12:00:00Z", "link": "https://ci.example.com/runs/42"}

`type` is deployment, autoscaling or config_change. `time` is unix seconds or ISO 8601
with a time zone; without it, the time the bot received the event. `region` and
`description` are optional.

A request authenticates with the shared secret in one of two ways:

- `Authorization: Bearer <secret>`
- `X-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`,
  as GitHub signs its webhooks.

Responses: 201 stored, 200 stored before (the same event sent again), 400 invalid body
(the message names the field and the fix), 401 missing or wrong credentials, 413 body
too large, 503 no secret configured or Redis unavailable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, request
from pydantic import ValidationError

from bot.rootcause.events import EVENT_TYPES, ChangeEvent, record_event
from bot.store import Store

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
SIGNATURE_HEADER = "X-Signature-256"
# Rejected requests are logged at most once per this many seconds, with a count of the rest.
REJECTION_LOG_INTERVAL = 60.0

FIELDS = tuple(ChangeEvent.model_fields)
_EXAMPLES = {
    "type": '"deployment"', "service": '"checkout"', "version": '"v2.3.1"',
    "time": '1717243200 or "2024-06-01T12:00:00Z"', "link": '"https://ci.example.com/runs/42"',
    "region": '"eu-west-1"', "description": '"raise pool size to 50"',
}

Reply = tuple[dict[str, Any], int] | tuple[dict[str, Any], int, dict[str, str]]


def register_events(
    web: Flask, *, store: Store, secret: str | None, clock: Callable[[], float] = time.time
) -> None:
    """Add `POST /events` to `web`; with `secret` None, every request gets a 503 response."""
    rejections = _RejectionLog()

    @web.post("/events")
    def post_event() -> Reply:
        if secret is None:
            return _error("the events endpoint has no shared secret configured; "
                          "set EVENTS_SECRET for the bot and restart it", 503)

        too_large = _error(f"body is larger than {MAX_BODY_BYTES:,} bytes; send one event per request", 413)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return too_large
        body = request.get_data(cache=True)
        if len(body) > MAX_BODY_BYTES:
            return too_large

        problem = _check_credentials(secret, body)
        if problem is not None:
            rejections.record(request.remote_addr, problem)
            return _error(problem, 401, {"WWW-Authenticate": 'Bearer realm="events"'})

        return _store_event(store, body, now=clock())


def _check_credentials(secret: str, body: bytes) -> str | None:
    """Return why the request's credentials fail, or None when they pass."""
    authorization = request.headers.get("Authorization", "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not authorization and not signature:
        return (f"missing credentials; send 'Authorization: Bearer <secret>' or '{SIGNATURE_HEADER}: "
                "sha256=<HMAC-SHA256 of the body>'")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "invalid Authorization header; use the form 'Bearer <secret>'"
        if hmac.compare_digest(token.strip().encode(), secret.encode()):
            return None
        return "invalid bearer token; send the shared secret configured as EVENTS_SECRET"

    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        return None
    return (f"invalid {SIGNATURE_HEADER} signature; sign the exact body bytes with HMAC-SHA256 "
            "keyed with the shared secret, as sha256=<hex digest>")


def _store_event(store: Store, body: bytes, *, now: float) -> Reply:
    document = request.get_json(silent=True, force=True)
    if not isinstance(document, dict):
        return _error('body is not a JSON object; send one such as {"type": "deployment", "service": '
                      '"checkout", "version": "v2.3.1", "time": 1717243200}', 400)
    if "time" not in document:
        document["time"] = now

    try:
        event = ChangeEvent.model_validate(document)
    except ValidationError as error:
        return _error("; ".join(_describe(error)), 400)

    try:
        added = record_event(store, event, now=now)
    except redis.RedisError as error:
        log.error("change event %s not stored: Redis failed: %s", event.id, error)
        return _error("the event could not be stored because Redis is unavailable; retry later", 503)

    reply = {"ok": True, "id": event.id, "time": event.time, "duplicate": not added}
    return reply, 201 if added else 200


def _describe(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into messages that name the field and the fix."""
    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"])
        example = _EXAMPLES.get(field, "")
        if item["type"] == "missing":
            problems.append(f"field '{field}' is missing; add it, such as {example}")
        elif item["type"] == "extra_forbidden":
            problems.append(f"field '{field}' is not a known field; remove it or use one of {', '.join(FIELDS)}")
        elif item["type"] == "literal_error":
            problems.append(f"field '{field}': {item['input']!r} is not allowed; use one of {', '.join(EVENT_TYPES)}")
        elif item["type"] == "value_error":
            message = str(item["ctx"]["error"]).removeprefix("Value error, ")
            problems.append(f"field '{field}': {message}" if field else message)
        elif item["type"] == "string_type":
            problems.append(f"field '{field}' must be a string; send it such as {example}")
        elif item["type"] == "string_too_short":
            problems.append(f"field '{field}' is empty; send it such as {example}, or leave it out if optional")
        elif item["type"] == "string_too_long":
            problems.append(f"field '{field}' is longer than {item['ctx']['max_length']} characters; shorten it")
        else:
            problems.append(f"field '{field}': {item['msg']}; send it such as {example}")
    return problems


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> Reply:
    if headers:
        return {"ok": False, "error": message}, status, headers
    return {"ok": False, "error": message}, status


class _RejectionLog:
    """Log rejected requests at most once per REJECTION_LOG_INTERVAL, counting the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -REJECTION_LOG_INTERVAL
        self._suppressed = 0

    def record(self, remote: str | None, reason: str) -> None:
        with self._lock:
            moment = time.monotonic()
            if moment - self._last < REJECTION_LOG_INTERVAL:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, moment
        log.warning("POST /events from %s rejected with 401: %s (%d more rejected since the last report)",
                    remote or "unknown", reason.split(";")[0], suppressed)
