"""views.open: accept a modal, check its blocks, and record it for tests to inspect."""

from __future__ import annotations

from typing import Any

from .. import limits
from ..errors import ApiError, invalid_blocks, missing_argument
from .base import ApiCall, web_api_method

# Slack names these three when a view lacks them, in the response quoted in
# https://github.com/slackapi/java-slack-sdk/pull/302. The `trigger_id` message below
# is quoted in https://github.com/slack-go/slack/issues/805.
REQUIRED_MODAL_FIELDS = ("type", "title", "blocks")


@web_api_method("views.open")
def views_open(call: ApiCall) -> dict[str, Any]:
    """Open a modal for the user who produced `trigger_id`.

    The emulator cannot tell a stale trigger from a fresh one, so any non-empty
    `trigger_id` is accepted. The view's blocks are checked with the modal limit of
    `limits.MAX_BLOCKS_PER_VIEW`.
    """
    args = call.args
    trigger_id = args.get_str("trigger_id", required=True)
    if not trigger_id:
        raise ApiError(
            "invalid_arguments",
            response_metadata={
                "messages": ["[ERROR] invalid `trigger_id` [json-pointer:/trigger_id]"]
            },
        )
    view = args.get_json("view", error="invalid_arguments")
    if view is None:
        raise missing_argument("view")
    if not isinstance(view, dict):
        raise ApiError("invalid_arguments")
    missing = [name for name in REQUIRED_MODAL_FIELDS if name not in view]
    if missing:
        raise ApiError(
            "invalid_arguments",
            response_metadata={
                "messages": [
                    f"[ERROR] missing required field: {name} [json-pointer:/view]"
                    for name in missing
                ]
            },
        )
    errors = limits.validate_blocks(
        view["blocks"], max_blocks=limits.MAX_BLOCKS_PER_VIEW, pointer="/view/blocks"
    )
    if errors:
        raise invalid_blocks(errors)

    workspace = call.workspace
    view_id = workspace.next_id("V")
    opened = {
        **view,
        "id": view_id,
        "team_id": workspace.team_id,
        "state": {"values": {}},
        "hash": f"{workspace.now()}.{view_id}",
        "root_view_id": view_id,
        "app_id": workspace.app_id,
        "bot_id": workspace.bot_id,
    }
    workspace.views.append({"trigger_id": trigger_id, "view": opened})
    return {"ok": True, "view": opened}
