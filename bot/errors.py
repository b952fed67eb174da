"""The bot's exception tree.

Errors from httpx, slack_sdk and redis are translated at the boundary into
these classes, so callers handle one family and every error carries the ids a
reader needs::

    BotError
     ├── ConfigError            a monitors file or setting is invalid
     ├── PlaybookError          a playbook file is malformed
     ├── SourceError            a metric backend failed or returned something invalid
     │    └── SourceUnreachable the backend could not be reached at all
     └── SlackError             a Slack Web API call failed
          ├── SlackRateLimited  Slack responded 429; retry after `retry_after` seconds
          └── SlackUnavailable  Slack could not be reached or responded 5xx
"""

from __future__ import annotations


class BotError(Exception):
    """Base class of every error the bot raises on purpose."""


class ConfigError(BotError):
    """A configuration file or setting is invalid.

    `problems` lists one line per invalid value, each naming the monitor, the
    field, the value and the fix.
    """

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{path}: {len(problems)} problem(s)\n{lines}")


class PlaybookError(BotError):
    """A playbook file is malformed: names the file, the step and the field."""


class SourceError(BotError):
    """A metric backend failed, or returned something that is not a series."""

    def __init__(self, message: str, *, source: str, url: str, query: str | None = None) -> None:
        self.source = source
        self.url = url
        self.query = query
        super().__init__(message)


class SourceUnreachable(SourceError):
    """The backend could not be reached: connection refused, DNS failure or time-out."""


class SlackError(BotError):
    """A Slack Web API call failed with Slack's `error` code."""

    def __init__(self, *, method: str, error: str, channel: str | None = None) -> None:
        self.method = method
        self.error = error
        self.channel = channel
        where = f" in channel {channel}" if channel else ""
        super().__init__(f"Slack {method} failed{where}: {error}")


class SlackRateLimited(SlackError):
    """Slack responded with HTTP 429; the call may be retried after `retry_after` seconds."""

    def __init__(self, *, method: str, retry_after: float, channel: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(method=method, error="ratelimited", channel=channel)


class SlackUnavailable(SlackError):
    """Slack could not be reached, or responded with a server error, so a later retry may succeed."""

    def __init__(self, *, method: str, detail: str, channel: str | None = None) -> None:
        self.detail = detail
        super().__init__(method=method, error=f"unavailable ({detail})", channel=channel)
