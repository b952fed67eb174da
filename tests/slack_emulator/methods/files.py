"""The two-step external upload that slack_sdk's `files_upload_v2` uses.

1. files.getUploadURLExternal reserves a file ID and returns an upload URL.
2. The client POSTs the bytes to that URL. Slack serves it from files.slack.com; the
   emulator serves it itself, at `/upload/v1/<file_id>` on loopback.
3. files.completeUploadExternal finishes the upload and, with `channel_id` or
   `channels`, shares the file in a message, in a thread when `thread_ts` is set.

https://api.slack.com/methods/files.getUploadURLExternal describes the flow.
Error names come from the two methods' reference pages, as mirrored in
https://github.com/slack-ruby/slack-api-ref/tree/master/methods/files.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, missing_argument
from ..state import Channel, UploadedFile
from .base import ApiCall, web_api_method
from .content import bot_author_fields

# files.getUploadURLExternal `alt_txt_too_large`: "Description for the image is longer
# than the limit of 1000 character."
ALT_TXT_MAX_CHARS = 1000


def upload_path(file_id: str) -> str:
    """Return the path of a file's upload URL, relative to the emulator's root URL."""
    return f"upload/v1/{file_id}"


def download_path(file_id: str, filename: str) -> str:
    """Return the path that serves an uploaded file's bytes (its `url_private`)."""
    return f"files-pri/{file_id}/{filename}"


@web_api_method("files.getUploadURLExternal")
def get_upload_url_external(call: ApiCall) -> dict[str, Any]:
    """Reserve a file ID and return the URL to POST its bytes to."""
    args = call.args
    filename = args.get_str("filename", required=True) or ""
    if "length" not in args:
        raise missing_argument("length")
    length = args.get_int("length", default=0)
    if length <= 0:
        # The reference: missing_argument "typically only occurs when the length
        # provided is 0".
        raise ApiError("missing_argument")
    alt_txt = args.get_str("alt_txt")
    if alt_txt is not None and len(alt_txt) > ALT_TXT_MAX_CHARS:
        raise ApiError("alt_txt_too_large")

    workspace = call.workspace
    file_id = workspace.next_id("F")
    workspace.files[file_id] = UploadedFile(
        id=file_id,
        filename=filename,
        declared_length=length,
        created=workspace.now(),
        user=call.bot_user_id,
        download_url=workspace.root_url + download_path(file_id, filename),
        alt_txt=alt_txt,
        snippet_type=args.get_str("snippet_type"),
    )
    return {"ok": True, "upload_url": workspace.root_url + upload_path(file_id), "file_id": file_id}


@web_api_method("files.completeUploadExternal")
def complete_upload_external(call: ApiCall) -> dict[str, Any]:
    """Finish uploads and share the files in one message per channel.

    The message carries `initial_comment` as its text and the file objects in `files`.
    Slack shares the file a moment after it responds. The emulator shares it before
    it responds, so a test can read the message right away.
    """
    args = call.args
    entries = args.get_json("files", error="invalid_arguments")
    if entries is None:
        raise missing_argument("files")
    if not isinstance(entries, list) or not entries:
        raise ApiError("invalid_arguments")

    files = [_uploaded_file(call, entry) for entry in entries]
    channels = [_sharing_channel(call, reference) for reference in _channel_references(call)]

    for file in files:
        file.completed = True
        file.channels.extend(channel.id for channel in channels)
    file_objects = [file.to_api() for file in files]

    for channel in channels:
        message = {
            **bot_author_fields(call),
            "text": args.get_str("initial_comment") or "",
            "files": file_objects,
            "upload": True,
        }
        call.workspace.append_message(channel, message, thread_ts=args.get_str("thread_ts"))
    return {"ok": True, "files": file_objects}


def _uploaded_file(call: ApiCall, entry: Any) -> UploadedFile:
    """Return the file an entry of `files` names, once its bytes have arrived."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise ApiError("invalid_arguments")
    file = call.workspace.files.get(entry["id"])
    if file is None or file.content is None or file.completed:
        raise ApiError("file_not_found")
    if entry.get("title"):
        file.title = entry["title"]
    return file


def _channel_references(call: ApiCall) -> list[str]:
    references = call.args.get_list("channels")
    channel_id = call.args.get_str("channel_id")
    if channel_id:
        references.insert(0, channel_id)
    return references


def _sharing_channel(call: ApiCall, reference: str) -> Channel:
    channel = call.workspace.find_channel(reference)
    if channel is None:
        raise ApiError("invalid_channel")
    # NOTE: the reference does not say which error a channel the bot cannot post to
    # gets; `posting_to_channel_denied` ("User is not authorized to post to channel")
    # is the closest documented one.
    if channel.is_archived or call.bot_user_id not in channel.members:
        raise ApiError("posting_to_channel_denied")
    return channel
