"""The error that method handlers raise to return `{"ok": false, "error": ...}`.

Slack reports API errors in the body of an HTTP 200 response. Rate limiting is the
exception: it responds with HTTP 429, which the server builds itself. A handler raises
`ApiError` with the documented error code, and the server turns it into the body.
Extra fields, such as the `errors` list of `invalid_blocks`, travel in `fields`.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Slack Web API error code, plus any extra fields Slack adds to the body."""

    def __init__(self, error: str, **fields: Any) -> None:
        super().__init__(error)
        self.error = error
        self.fields = fields

    def to_body(self) -> dict[str, Any]:
        """Return the JSON body Slack sends for this error."""
        return {"ok": False, "error": self.error, **self.fields}


def missing_argument(name: str) -> ApiError:
    """Build the error for a required argument that the request left out.

    Slack returns `invalid_arguments` and names the field in `response_metadata`. An
    argument that is present but empty or unknown gets the method's own error instead,
    such as `channel_not_found`.
    """
    return ApiError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
    )


def invalid_blocks(errors: list[str]) -> ApiError:
    """Build the `invalid_blocks` error from the messages of `limits.validate_blocks`.

    Slack lists each problem twice: bare in `errors`, and with an `[ERROR]` prefix in
    `response_metadata.messages`.
    """
    return ApiError(
        "invalid_blocks",
        errors=list(errors),
        response_metadata={"messages": [f"[ERROR] {error}" for error in errors]},
    )
