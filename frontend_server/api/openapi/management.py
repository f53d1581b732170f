"""The OpenAPI operations of a channel's members, the users list and passwords: what the page's
Channels, Tokens and Users views use besides the identity routes."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import JsonSchemaMode

from frontend_server.api.channels import MemberList
from frontend_server.api.identity import UserList
from frontend_server.api.openapi.identity import SIGNED_IN, WRITE, Errors
from frontend_server.api.openapi.identity import _op as op
from frontend_server.api.openapi.identity import _path as path_param
from schemas.identity import (
    CHANNEL_ID_PATTERN,
    USER_ID_PATTERN,
    MemberAdd,
    MemberInfo,
    PasswordChange,
    PasswordReset,
    PasswordResetDone,
)

MODELS: tuple[tuple[str, JsonSchemaMode, Any], ...] = (
    ("MemberAdd", "validation", MemberAdd),
    ("MemberInfo", "serialization", MemberInfo),
    ("MemberList", "serialization", MemberList),
    ("UserList", "serialization", UserList),
    ("PasswordChange", "validation", PasswordChange),
    ("PasswordReset", "validation", PasswordReset),
    ("PasswordResetDone", "serialization", PasswordResetDone),
)


def management_paths(m: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """A channel's members, passwords (``m``: model name → schema reference)."""
    channel = path_param("channel_id", CHANNEL_ID_PATTERN)
    return {
        "/api/v2/auth/password": {
            "post": op(
                "Change one's own password (the current one is needed, except within the hour"
                " after signing in with a one-time link); the user's other sessions end",
                WRITE,
                ("204", "Changed", None),
                errors(400, 401, 403, 422, 429, 503, 504),
                m["PasswordChange"],
            )
        },
        "/api/v2/users/{user_id}/password": {
            "parameters": [path_param("user_id", USER_ID_PATTERN)],
            "put": op(
                "Set or generate another user's password (admin); every session of the user"
                " ends; a generated password is in the reply, this once",
                WRITE,
                ("200", "Reset", m["PasswordResetDone"]),
                errors(400, 401, 403, 404, 422, 429, 503, 504),
                m["PasswordReset"],
            ),
        },
        "/api/v2/channels/{channel_id}/members": {
            "parameters": [channel],
            "get": op(
                "The channel's members with their emails and roles (owner or admin)",
                SIGNED_IN,
                ("200", "Members, owners first", m["MemberList"]),
                errors(401, 403, 404, 429),
            ),
            "post": op(
                "Give the user with this email a role in the channel (owner or admin)",
                WRITE,
                ("200", "The member", m["MemberInfo"]),
                errors(400, 401, 403, 404, 422, 429, 503, 504),
                m["MemberAdd"],
            ),
        },
    }
