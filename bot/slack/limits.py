"""Slack's documented message limits, enforced before anything is sent.

Sources:
- blocks per message, top-level `text` length:
  https://api.slack.com/methods/chat.postMessage
- section text and fields, header text, context elements:
  https://api.slack.com/reference/block-kit/blocks
- button text: https://api.slack.com/reference/block-kit/block-elements#button
"""

from __future__ import annotations

MAX_BLOCKS_PER_MESSAGE = 50
MAX_MESSAGE_TEXT = 40_000  # Slack truncates longer `text`; we cut first, with a marker.
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10

TRUNCATION_MARKER = " …(truncated)"


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with a visible marker."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER

MAX_BUTTON_TEXT = 75
MAX_CONTEXT_TEXT = 3_000


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into parts of at most `limit` characters, at line breaks where possible."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current or not parts:
        parts.append(current)
    return [part.rstrip("\n") or " " for part in parts]
