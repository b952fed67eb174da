"""A local Slack Web API for tests, reached over real HTTP on 127.0.0.1.

`SlackEmulator` serves the Web API methods a chat-ops bot uses, checks Block Kit
limits, records every call, and lets tests inject errors and rate limiting. The
`signing` helpers build and sign the requests Slack sends to an app (slash commands,
button clicks). See `server` for a usage example.
"""

from .errors import ApiError
from .limits import validate_blocks
from .server import DEFAULT_TOKEN, RecordedCall, SlackEmulator
from .signing import (
    block_actions_body,
    compute_signature,
    post_signed,
    signature_headers,
    slash_command_body,
)
from .state import ResponseUrlPost, UploadedFile, Workspace

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "RecordedCall",
    "ResponseUrlPost",
    "SlackEmulator",
    "UploadedFile",
    "Workspace",
    "block_actions_body",
    "compute_signature",
    "post_signed",
    "signature_headers",
    "slash_command_body",
    "validate_blocks",
]
