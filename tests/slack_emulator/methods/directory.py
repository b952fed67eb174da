"""auth.test, users.* and usergroups.* methods: who the bot is and who else is there."""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from .base import ApiCall, paginate, web_api_method

DEFAULT_PAGE_LIMIT = 100


@web_api_method("auth.test")
def auth_test(call: ApiCall) -> dict[str, Any]:
    """Describe the token's bot user, as Bolt reads it when an app starts."""
    workspace = call.workspace
    return {
        "ok": True,
        "url": f"https://{workspace.team_domain}.slack.com/",
        "team": workspace.team_domain,
        "user": workspace.bot_name,
        "team_id": workspace.team_id,
        "user_id": workspace.bot_user_id,
        "bot_id": workspace.bot_id,
        "is_enterprise_install": False,
    }


@web_api_method("users.info")
def users_info(call: ApiCall) -> dict[str, Any]:
    """Return one user; an unknown ID is `user_not_found`."""
    user_id = call.args.get_str("user", required=True)
    user = call.workspace.users.get(user_id or "")
    if user is None:
        raise ApiError("user_not_found")
    return {"ok": True, "user": user.to_api(team_id=call.workspace.team_id)}


@web_api_method("users.list")
def users_list(call: ApiCall) -> dict[str, Any]:
    """List every user, the bot included, in pages of `limit`."""
    workspace = call.workspace
    members = [user.to_api(team_id=workspace.team_id) for user in workspace.users.values()]
    limit = max(1, call.args.get_int("limit", default=DEFAULT_PAGE_LIMIT))
    page, next_cursor = paginate(members, cursor=call.args.get_str("cursor"), limit=limit)
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}


@web_api_method("usergroups.list")
def usergroups_list(call: ApiCall) -> dict[str, Any]:
    """List user groups; member IDs come only with `include_users`."""
    workspace = call.workspace
    include_users = call.args.get_bool("include_users")
    groups = [
        group.to_api(team_id=workspace.team_id, include_users=include_users)
        for group in workspace.usergroups.values()
    ]
    return {"ok": True, "usergroups": groups}


@web_api_method("usergroups.users.list")
def usergroups_users_list(call: ApiCall) -> dict[str, Any]:
    """Return the member IDs of a user group; an unknown ID is `no_such_subteam`."""
    group_id = call.args.get_str("usergroup", required=True)
    group = call.workspace.usergroups.get(group_id or "")
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}
