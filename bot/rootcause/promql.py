"""Rewrite a monitor's PromQL query so its result is grouped by dimension labels.

The rule, first match wins:

1. The query is one aggregation (`sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`,
   `stdvar`, `quantile`), with `by` or `without` before or after its body: the labels join
   the `by` list (or leave the `without` list). The monitor's own aggregation stays, so
   `avg(api_latency_seconds)` becomes `avg by (region) (api_latency_seconds)`.
2. `histogram_quantile(φ, inner)`: rule 1 applies to `inner`, which keeps `le`. An inner
   expression without aggregation becomes `sum by (le, <labels>) (inner)`.
3. Aggregations joined by `/`, `*`, `+` or `-` without vector matching (`on`, `ignoring`,
   `group_left`, `group_right`), such as an error ratio `sum(rate(errors[5m])) /
   sum(rate(requests[5m]))`: rule 1 applies to each aggregation, so both sides match on
   the new labels.
4. Anything else is wrapped in `sum by (<labels>) (query)` when it is a quantity that adds
   up across series: a `rate`, `irate`, `increase`, `count_over_time` or `sum_over_time`,
   or a monitor whose metric_type is request_rate. The rest (latency, ratios, utilisation)
   is wrapped in `avg by (<labels>) (query)`, because a sum of latencies means nothing.

A label that the query aggregates away inside a function the rules do not reach (such as
`rate(sum(x)[5m:])`) comes back empty; the caller reports the dimension as unavailable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

AGGREGATIONS = ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "quantile")
ADDITIVE_FUNCTIONS = ("rate", "irate", "increase", "count_over_time", "sum_over_time")

_AGGREGATION = re.compile(
    r"^(?P<name>" + "|".join(AGGREGATIONS) + r")\s*"
    r"(?:(?P<modifier>by|without)\s*\((?P<labels>[^()]*)\)\s*)?\("
)
_TRAILING_MODIFIER = re.compile(r"^\s*(?P<modifier>by|without)\s*\((?P<labels>[^()]*)\)\s*$")
_HISTOGRAM_QUANTILE = re.compile(r"^histogram_quantile\s*\(")
_FUNCTION = re.compile(r"^(?P<name>[a-z_]+)\s*\(")
_VECTOR_MATCHING = re.compile(r"\b(on|ignoring|group_left|group_right)\s*\(")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_OPENERS = {"(": ")", "[": "]", "{": "}"}


def grouped_query(query: str, labels: Sequence[str], *, metric_type: str | None = None) -> str:
    """Return `query` grouped by `labels`, following the rules in this module's docstring."""
    if not labels:
        raise ValueError("grouped_query needs at least one label; name one such as region")
    text = _unwrap(query.strip())

    rewritten = _add_to_aggregation(text, labels)
    if rewritten is not None:
        return rewritten

    rewritten = _add_to_histogram_quantile(text, labels)
    if rewritten is not None:
        return rewritten

    rewritten = _add_to_each_operand(text, labels)
    if rewritten is not None:
        return rewritten

    aggregation = "sum" if _is_additive(text, metric_type) else "avg"
    return f"{aggregation} by ({', '.join(labels)}) ({text})"


def aggregation_of(query: str, *, metric_type: str | None = None) -> str:
    """Return the aggregation rule 4 would wrap `query` in: "sum" or "avg"."""
    return "sum" if _is_additive(_unwrap(query.strip()), metric_type) else "avg"


def _is_additive(text: str, metric_type: str | None) -> bool:
    if metric_type == "request_rate":
        return True
    match = _FUNCTION.match(text)
    if match is None or match.group("name") not in ADDITIVE_FUNCTIONS:
        return False
    return _closing(text, match.end() - 1) == len(text) - 1


def _add_to_aggregation(text: str, labels: Sequence[str]) -> str | None:
    """Apply rule 1 when the whole of `text` is one aggregation; else return None."""
    head = _AGGREGATION.match(text)
    if head is None:
        return None
    head_end = head.end() - 1
    body_end = _closing(text, head_end)
    if body_end is None:
        return None
    name = head.group("name")
    modifier, current = head.group("modifier"), head.group("labels")
    rest = text[body_end + 1:]
    if rest.strip():
        trailing = _TRAILING_MODIFIER.match(rest)
        if trailing is None or modifier is not None:
            return None
        modifier, current = trailing.group("modifier"), trailing.group("labels")

    body = text[head_end + 1: body_end]
    existing = [part.strip() for part in (current or "").split(",") if part.strip()]
    if modifier == "without":
        remaining = [label for label in existing if label not in labels]
        return f"{name} without ({', '.join(remaining)}) ({body})"
    grouped = existing + [label for label in labels if label not in existing]
    return f"{name} by ({', '.join(grouped)}) ({body})"


def _add_to_histogram_quantile(text: str, labels: Sequence[str]) -> str | None:
    opening = text.find("(")
    if opening < 0 or not _HISTOGRAM_QUANTILE.match(text[: opening + 1]):
        return None
    closing = _closing(text, opening)
    if closing != len(text) - 1:
        return None
    arguments = _split_top_level(text[opening + 1: closing], ",")
    if len(arguments) != 2:
        return None
    quantile, inner = arguments[0].strip(), _unwrap(arguments[1].strip())
    rewritten = _add_to_aggregation(inner, labels)
    if rewritten is None:
        rewritten = f"sum by (le, {', '.join(labels)}) ({inner})"
    return f"histogram_quantile({quantile}, {rewritten})"


def _add_to_each_operand(text: str, labels: Sequence[str]) -> str | None:
    """Apply rule 3; return None unless every operand is an aggregation or a number."""
    if _VECTOR_MATCHING.search(text):
        return None
    parts = _split_binary(text)
    if len(parts) < 3:
        return None
    rewritten = []
    for index, part in enumerate(parts):
        if index % 2 == 1:
            rewritten.append(part)
            continue
        operand = _unwrap(part.strip())
        if _NUMBER.match(operand):
            rewritten.append(operand)
            continue
        grouped = _add_to_aggregation(operand, labels)
        if grouped is None:
            return None
        rewritten.append(grouped)
    return " ".join(rewritten)


def _unwrap(text: str) -> str:
    """Remove parentheses that enclose the whole expression."""
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing(text: str, opening: int) -> int | None:
    """Return the index of the bracket that closes the one at `opening`, skipping strings."""
    stack: list[str] = []
    index = opening
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            end = _string_end(text, index)
            if end is None:
                return None
            index = end + 1
            continue
        if char in _OPENERS:
            stack.append(_OPENERS[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return index
        index += 1
    return None


def _string_end(text: str, start: int) -> int | None:
    quote = text[start]
    index = start + 1
    while index < len(text):
        if text[index] == "\\" and quote != "`":
            index += 2
            continue
        if text[index] == quote:
            return index
        index += 1
    return None


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, current, index = [], 0, [], 0
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            end = _string_end(text, index)
            end = len(text) - 1 if end is None else end
            current.append(text[index:end + 1])
            index = end + 1
            continue
        if char in _OPENERS:
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _split_binary(text: str) -> list[str]:
    """Split `text` at top-level arithmetic operators into operand, operator, operand, ..."""
    parts: list[str] = []
    depth, start, index = 0, 0, 0
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            end = _string_end(text, index)
            index = len(text) if end is None else end + 1
            continue
        if char in _OPENERS:
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and char in "+-*/" and _is_binary_position(text, index):
            parts.extend([text[start:index].strip(), char])
            start = index + 1
        index += 1
    parts.append(text[start:].strip())
    return parts


def _is_binary_position(text: str, index: int) -> bool:
    """True when the operator at `index` follows an operand, so it is not a sign or an exponent."""
    before = text[:index].rstrip()
    if not before:
        return False
    if before[-1] in "+-*/(,":
        return False
    # The sign of an exponent, as in 1e-3.
    return not (text[index] in "+-" and re.search(r"\d[eE]$", before))
