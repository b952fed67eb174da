"""Decode the arguments of a Web API request from its query string and body.

Slack accepts `application/x-www-form-urlencoded`, `multipart/form-data` and
`application/json` bodies (each method page lists its "Content types"). slack_sdk
sends JSON for chat.* methods and forms for most others, so the emulator takes all
three. A request with a body but no `Content-Type` is `missing_post_type`, and an
unknown type is `invalid_post_type`, as the error table of every method lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

from .errors import ApiError

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "text/plain"})


@dataclass
class RequestArguments:
    """The merged arguments of one request, and the `token` field of a form body."""

    values: dict[str, Any]
    # Slack accepts a `token` argument only in a form body: JSON bodies need the
    # Authorization header (https://docs.slack.dev/changelog/2017-10-keeping-up-with-the-jsons),
    # and apps created since February 2021 may not put it in the query string
    # (https://api.slack.com/changelog/2020-11-no-more-tokens-in-querystrings-for-newly-created-apps).
    form_token: str | None = None


def parse_arguments(content_type: str | None, body: bytes, query: str) -> RequestArguments:
    """Merge query-string and body arguments; body values win on a clash.

    Raises `ApiError` with `missing_post_type`, `invalid_post_type`,
    `invalid_form_data` or `invalid_json` when the body cannot be read.
    """
    values: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not body:
        return RequestArguments(values=values)
    if not content_type:
        raise ApiError("missing_post_type")

    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        values.update(_parse_json(body))
        return RequestArguments(values=values)
    if media_type in FORM_TYPES:
        form = _parse_form(body)
    elif media_type == "multipart/form-data":
        form = parse_multipart(content_type, body)
    else:
        raise ApiError("invalid_post_type")
    values.update(form)
    token = form.get("token")
    return RequestArguments(values=values, form_token=token if isinstance(token, str) else None)


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError("invalid_json") from None
    if not isinstance(decoded, dict):
        raise ApiError("invalid_json")
    return decoded


def _parse_form(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise ApiError("invalid_form_data") from None


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Decode a `multipart/form-data` body: text fields as str, file parts as bytes."""
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise ApiError("invalid_form_data")

    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is None:
            fields[str(name)] = payload.decode(part.get_content_charset() or "utf-8")
        else:
            fields[str(name)] = payload
    return fields
