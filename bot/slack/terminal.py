"""A Gateway that renders messages in the terminal as Slack would show them.

Used by the demo: the same card code runs, and each post or update prints as
a framed block of text. It keeps the messages in memory, standing in for the
Slack workspace, not for the bot's own state.
"""

from __future__ import annotations

import itertools
import re
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO

_MRKDWN_BOLD = re.compile(r"\*([^*\n]+)\*")
_SLACK_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_USER = re.compile(r"<@([A-Z0-9]+)>")
_USERGROUP = re.compile(r"<!subteam\^handle:([^>]+)>")


def render_blocks(message: dict[str, Any]) -> list[str]:
    """Return the text lines a person would read in Slack for `message`."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            lines.append("▌ " + block["text"]["text"])
        elif kind == "section":
            if "text" in block:
                lines.extend(_plain(block["text"]["text"]).splitlines())
            fields = [_plain(field["text"]).replace("\n", ": ", 1) for field in block.get("fields", [])]
            lines.extend(fields)
        elif kind == "context":
            lines.append("  " + " · ".join(_plain(element.get("text", "")) for element in block["elements"]))
        elif kind == "divider":
            lines.append("-" * 20)
        elif kind == "actions":
            labels = [
                element.get("text", element.get("placeholder", {})).get("text", "")
                + (" ▾" if element.get("type") == "static_select" else "")
                for element in block["elements"]
            ]
            lines.append(" ".join(f"[ {label} ]" for label in labels))
    if not lines:
        lines = _plain(message.get("text", "")).splitlines()
    return lines


def _plain(text: str) -> str:
    text = _SLACK_DATE.sub(lambda match: _fallback_time(match.group(1)), text)
    text = _USER.sub(r"@\1", text)
    text = _USERGROUP.sub(r"@\1", text)
    return _MRKDWN_BOLD.sub(r"\1", text)


def _fallback_time(text: str) -> str:
    from bot.analysis import format_time

    try:
        return format_time(float(text))
    except ValueError:
        return text


class TerminalGateway:
    """Prints each post and update; finds earlier posts by their key."""

    def __init__(self, *, stream: TextIO | None = None, clock_label=None,
                 compact_updates: bool = True, files_dir: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.files_dir = files_dir
        self.files: list[Path] = []
        self.compact_updates = compact_updates
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.keys: dict[str, str] = {}
        self.posts = 0
        self.updates = 0
        self._ts = itertools.count(1)
        self._clock_label = clock_label

    def post(self, channel, message, *, thread_ts=None, post_key=None):
        ts = f"{1_700_000_000 + next(self._ts)}.000100"
        self.messages[(channel, ts)] = message
        if post_key:
            self.keys[post_key] = ts
        self.posts += 1
        where = f"{channel} (thread reply)" if thread_ts else channel
        self._print(f"posted in {where}", message, indent="    " if thread_ts else "")
        return channel, ts

    def update(self, channel, ts, message):
        self.messages[(channel, ts)] = message
        self.updates += 1
        if self.compact_updates:
            when = f"[{self._clock_label()}] " if self._clock_label else ""
            print(f"{when}card updated in place: {_plain(message.get('text', ''))}",
                  file=self.stream, flush=True)
        else:
            self._print(f"updated card in {channel}", message, indent="")

    def show(self, channel: str, ts: str, *, title: str) -> None:
        """Print the current state of a posted message."""
        self._print(title, self.messages[(channel, ts)], indent="")

    def upload_file(self, channel, *, thread_ts, filename, content, title, alt_text, comment=None):
        """Write the file to `files_dir` and print where it is, as Slack would show the upload."""
        if self.files_dir is None:
            return "F-not-saved"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / filename
        path.write_bytes(content)
        self.files.append(path)
        print(f"    [chart uploaded into the thread: {title}; saved as {path}]", file=self.stream, flush=True)
        return f"F{len(self.files):04d}"

    def usergroup_members(self, handle):
        """Return a user group for every handle, so its mention renders as the handle."""
        return f"handle:{handle.lstrip('@')}", []

    def create_channel(self, name):
        print(f"[channel #{name} created]", file=self.stream, flush=True)
        return f"#{name}"

    def invite(self, channel, users):
        pass

    def permalink(self, channel, ts):
        return f"{channel}/{ts}"

    def find_post(self, channel, post_key, *, thread_ts=None):
        ts = self.keys.get(post_key)
        return (channel, ts) if ts else None

    def _print(self, action: str, message: dict[str, Any], *, indent: str) -> None:
        width = min(100, shutil.get_terminal_size((100, 20)).columns) - len(indent)
        when = f"[{self._clock_label()}] " if self._clock_label else ""
        out = [f"{indent}┌─ {when}{action} " + "─" * max(0, width - len(action) - len(when) - 4)]
        for line in render_blocks(message):
            out.append(f"{indent}│ {line}")
        out.append(f"{indent}└" + "─" * (width - 1))
        print("\n".join(out), file=self.stream, flush=True)
