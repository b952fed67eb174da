"""The upload and download URLs behind files.getUploadURLExternal.

Slack hands out upload URLs on files.slack.com. The emulator hands out its own,
`/upload/v1/<file_id>`, and serves the stored bytes at `/files-pri/<file_id>/<name>`,
the file's `url_private`.
"""

from __future__ import annotations

import logging

from .http_body import parse_multipart
from .http_reply import Reply
from .methods.files import download_path
from .state import Workspace

logger = logging.getLogger(__name__)


def store_upload(
    workspace: Workspace, file_id: str, content_type: str | None, body: bytes
) -> Reply:
    """Store the bytes posted to a file's upload URL.

    slack_sdk posts the raw bytes. The method reference's curl example posts a form
    with a `filename` part instead. Both work.
    """
    content = body
    if content_type and content_type.lower().startswith("multipart/form-data"):
        parts = parse_multipart(content_type, body)
        content = next((value for value in parts.values() if isinstance(value, bytes)), b"")

    with workspace.lock:
        file = workspace.files.get(file_id)
        if file is None or file.completed:
            logger.warning(
                "Slack emulator rejected an upload for file %s: not reserved or already shared",
                file_id,
            )
            return Reply.text(404, f"no pending upload for file {file_id}")
        file.content = content
    logger.info("Slack emulator stored %d bytes for file %s", len(content), file_id)
    # slack_sdk checks only the status. The text imitates the short body of Slack's
    # upload service, whose exact wording is not documented.
    return Reply.text(200, f"OK - {len(content)}")


def read_download(workspace: Workspace, file_id: str, filename: str) -> Reply:
    """Return the stored bytes of an uploaded file, or 404."""
    with workspace.lock:
        file = workspace.files.get(file_id)
        if file is None or file.content is None or filename != file.filename:
            logger.warning("Slack emulator has no uploaded file %s named %s", file_id, filename)
            return Reply.text(404, f"no uploaded file at {download_path(file_id, filename)}")
        return Reply(200, file.content, content_type="application/octet-stream")
