"""Source errors finer than `bot.errors.SourceError`, so callers can tell a bad query from a bad backend.

Both subclass SourceError, so code that handles SourceError handles them too::

    SourceError                  a metric backend failed or answered badly
     ├── SourceUnreachable       (bot.errors) the backend could not be reached at all
     ├── QueryRejected           the backend responded and rejected the query itself
     └── SourceRateLimited       the backend's rate limit is spent; retry after `retry_after` seconds
"""

from __future__ import annotations

from bot.errors import SourceError


class QueryRejected(SourceError):
    """The backend is up and rejected the query (syntax, unknown function, bad parameter).

    The fix is in the monitor's query, so source health does not count it as
    an outage of the backend.
    """


class SourceRateLimited(SourceError):
    """The backend's rate limit is spent; the next request may go in `retry_after` seconds."""

    def __init__(self, message: str, *, source: str, url: str, query: str | None = None,
                 retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message, source=source, url=url, query=query)
