"""Parse `/anomaly` slash commands. Parsing never changes state.

A malformed command raises CommandError, whose text quotes what was
understood, states what is wrong and shows a correct example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.durations import parse_duration

MAX_SILENCE = 30 * 86400.0
MAX_TRIAGE_WINDOW = 86400.0

EXAMPLES = {
    "triage": '/anomaly triage rate(http_requests_total{job="api"}[5m]) 15m',
    "status": "/anomaly status",
    "ack": "/anomaly ack 42",
    "resolve": "/anomaly resolve 42",
    "silence": "/anomaly silence api-cpu 2h deploy in progress",
    "unsilence": "/anomaly unsilence api-cpu",
    "digest": "/anomaly digest",
    "help": "/anomaly help",
}

HELP = """\
*`/anomaly` commands*
• `/anomaly triage <metric selector or incident id> [window]`: run the detection now and post the analysis
• `/anomaly status`: list the open incidents
• `/anomaly ack <id>` and `/anomaly resolve <id>`: acknowledge or resolve an incident
• `/anomaly silence <monitor or selector> <duration> [reason]`: stop alerts until the duration has passed
• `/anomaly unsilence <monitor, selector or silence id>`: end a silence early
• `/anomaly digest`: post the digest of the last 24 hours here
• `/anomaly help`: show this message
Durations look like 30m, 2h or 1d. Selectors look like `{service="api",region="eu-west-1"}`."""

_INCIDENT_ID = re.compile(r"^#?(\d+)$")


class CommandError(Exception):
    def __init__(self, *, text: str, problem: str, verb: str) -> None:
        self.text = text
        self.problem = problem
        self.verb = verb
        super().__init__(problem)

    def reply(self) -> str:
        example = EXAMPLES.get(self.verb, EXAMPLES["help"])
        return (f"I understood `/anomaly {self.text}`, but {self.problem}\n"
                f"For example: `{example}`. Type `/anomaly help` for every command.")


@dataclass(frozen=True)
class Command:
    verb: str
    incident_id: str | None = None
    target: str | None = None
    duration: float | None = None
    reason: str = ""
    query: str | None = None
    text: str = ""


def parse_command(text: str) -> Command:
    """Parse the text after `/anomaly`; raise CommandError when it is malformed."""
    text = (text or "").strip()
    return replace(_parse(text), text=text)


def _parse(text: str) -> Command:
    if not text:
        return Command("help")
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    rest = rest.strip()

    if verb in ("help", "status", "digest"):
        if rest:
            raise CommandError(text=text, verb=verb, problem=f"`{verb}` takes no arguments and got `{rest}`.")
        return Command(verb)
    if verb in ("ack", "resolve"):
        return Command(verb, incident_id=_incident_id(text, verb, rest))
    if verb == "silence":
        return _silence(text, rest)
    if verb == "unsilence":
        if not rest or (" " in rest and "{" not in rest):
            raise CommandError(text=text, verb=verb,
                               problem="`unsilence` takes one monitor name, selector or silence id.")
        return Command(verb, target=rest)
    if verb == "triage":
        return _triage(text, rest)
    raise CommandError(text=text, verb="help", problem=f"`{verb}` is not a command I know.")


def _incident_id(text: str, verb: str, rest: str) -> str:
    match = _INCIDENT_ID.match(rest)
    if not match:
        shown = f"`{rest}`" if rest else "nothing"
        raise CommandError(text=text, verb=verb,
                           problem=f"`{verb}` needs an incident id (a number), and got {shown}.")
    return match.group(1)


def _silence(text: str, rest: str) -> Command:
    target, remainder = _split_target(rest)
    duration_text, _, reason = remainder.partition(" ")
    if not target or not duration_text:
        raise CommandError(text=text, verb="silence",
                           problem="`silence` needs a monitor or selector and a duration.")
    try:
        duration = parse_duration(duration_text)
    except ValueError:
        raise CommandError(text=text, verb="silence",
                           problem=f"`{duration_text}` is not a duration; use one like 30m, 2h or 1d.") from None
    if not 0 < duration <= MAX_SILENCE:
        raise CommandError(text=text, verb="silence",
                           problem=f"`{duration_text}` is out of range; silence for more than 0s and at most 30d.")
    return Command("silence", target=target, duration=duration, reason=reason.strip())


def _split_target(rest: str) -> tuple[str, str]:
    """Split off the first word, or a whole `metric{...}` selector, which may contain spaces."""
    first = rest.split(" ", 1)[0]
    if "{" in first and "}" not in first and "}" in rest:
        end = rest.index("}") + 1
        return rest[:end].strip(), rest[end:].strip()
    target, _, remainder = rest.partition(" ")
    return target, remainder.strip()


def _triage(text: str, rest: str) -> Command:
    if not rest:
        raise CommandError(text=text, verb="triage", problem="`triage` needs a metric selector or an incident id.")
    query, _, last = rest.rpartition(" ")
    window = None
    if query:
        try:
            window = parse_duration(last)
        except ValueError:
            query = rest
        else:
            if not 0 < window <= MAX_TRIAGE_WINDOW:
                raise CommandError(text=text, verb="triage",
                                   problem=f"the window `{last}` is out of range; use more than 0s and at most 1d.")
    else:
        query = rest
    match = _INCIDENT_ID.match(query.strip())
    if match:
        return Command("triage", incident_id=match.group(1), duration=window)
    return Command("triage", query=query.strip(), duration=window)
