"""`Reply`: the status, body and headers the HTTP handler writes back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass
class Reply:
    """One HTTP response of the emulator."""

    status: int
    body: bytes
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    # The decoded JSON body, kept for the call record; empty for other bodies.
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def json(
        cls, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Reply:
        body = json.dumps(payload).encode("utf-8")
        return cls(status, body, headers=headers or {}, payload=payload)

    @classmethod
    def text(cls, status: int, text: str) -> Reply:
        return cls(status, text.encode("utf-8"), content_type=TEXT_CONTENT_TYPE)
