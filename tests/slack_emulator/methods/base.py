"""What every Web API method handler receives, and the registry that maps names to them.

A handler is a function of one `ApiCall` that returns the JSON body of a successful
response (with `"ok": True`) or raises `ApiError`. It runs under `Workspace.lock`,
which the server acquires first, so it may read and change the workspace freely. Register it with
`@web_api_method("chat.postMessage")`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import ApiError, missing_argument
from ..state import Workspace

Handler = Callable[["ApiCall"], dict[str, Any]]
METHODS: dict[str, Handler] = {}

_TRUE_VALUES = frozenset({"true", "1"})
_FALSE_VALUES = frozenset({"false", "0", ""})

T = TypeVar("T")


def web_api_method(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the Web API method `name`."""

    def register(handler: Handler) -> Handler:
        if name in METHODS:
            raise ValueError(f"Web API method {name!r} is registered twice")
        METHODS[name] = handler
        return handler

    return register


@dataclass
class ApiCall:
    """One Web API request, as passed to its handler."""

    method: str
    args: Args
    workspace: Workspace

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user_id


class Args:
    """The arguments of a request, from a form, a JSON body or the query string.

    Form and query values are strings, JSON values keep their JSON types, so every
    accessor accepts both: `get_bool("include_all_metadata")` reads `true`, `"true"` and
    `"1"` alike. A required argument that is absent raises `invalid_arguments`.
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def get_str(self, name: str, *, required: bool = False) -> str | None:
        """Return the argument as a string, or None when it is absent."""
        if name not in self:
            if required:
                raise missing_argument(name)
            return None
        value = self.values[name]
        return value if isinstance(value, str) else json.dumps(value)

    def get_bool(self, name: str, *, default: bool = False) -> bool:
        """Return a boolean argument; unknown spellings raise `invalid_arguments`."""
        if name not in self:
            return default
        value = self.values[name]
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE_VALUES:
            return True
        if text in _FALSE_VALUES:
            return False
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] {name} must be a boolean, got {value!r}"]},
        )

    def get_int(self, name: str, *, default: int, error: str = "invalid_arguments") -> int:
        """Return an integer argument, raising `error` when it is not an integer."""
        if name not in self:
            return default
        value = self.values[name]
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(error) from None

    def get_json(self, name: str, *, error: str) -> Any:
        """Return a JSON argument, decoding it when it arrived as a string.

        Form bodies carry `blocks`, `metadata` and similar arguments as JSON text;
        JSON bodies carry them as values. Undecodable text raises `error`.
        """
        if name not in self:
            return None
        value = self.values[name]
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(error) from None

    def get_list(self, name: str) -> list[str]:
        """Return a comma-separated argument (or a JSON array) as a list of strings."""
        if name not in self:
            return []
        value = self.values[name]
        items = value if isinstance(value, list) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]


def paginate(items: Sequence[T], *, cursor: str | None, limit: int) -> tuple[list[T], str]:
    """Return one page of `items` and the cursor of the next page ("" after the last).

    Slack's cursors are opaque base64 strings. The emulator's encode an offset into
    the list, so a cursor stays valid only while the list does not change.
    """
    offset = 0
    if cursor:
        try:
            decoded = base64.b64decode(cursor.encode("ascii"), validate=True).decode("ascii")
        except (binascii.Error, UnicodeError):
            raise ApiError("invalid_cursor") from None
        prefix, _, number = decoded.partition(":")
        if prefix != "offset" or not number.isdigit():
            raise ApiError("invalid_cursor")
        offset = int(number)

    page = list(items[offset : offset + limit])
    next_offset = offset + limit
    if next_offset >= len(items):
        return page, ""
    return page, base64.b64encode(f"offset:{next_offset}".encode("ascii")).decode("ascii")
