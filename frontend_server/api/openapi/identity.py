"""The OpenAPI operations of identity (sign-in, channels, members, tokens, users) and of the
publish ingress, plus the security schemes every operation refers to.

Security (OpenAPI: a list of alternatives, each a set of schemes that apply together):

- reads: anonymous (public channels only), a session cookie, or a bearer token;
- state changes: the session cookie *with* the XSRF header, or a bearer token (no XSRF);
- the publish ingress: a ``publish``-scoped bearer token only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic.json_schema import JsonSchemaMode

from frontend_server.api.identity import ChannelList, TokenList
from schemas.events import PublishableEvent
from schemas.identity import (
    ChannelCreate,
    ChannelDTO,
    ChannelPatch,
    LoginRequest,
    MeDTO,
    MemberDTO,
    MemberPut,
    PublishAccepted,
    TokenCreate,
    TokenCreated,
    UserCreate,
    UserCreated,
)

JSON = "application/json"

MODELS: tuple[tuple[str, JsonSchemaMode, Any], ...] = (
    ("LoginRequest", "validation", LoginRequest),
    ("MeDTO", "serialization", MeDTO),
    ("ChannelCreate", "validation", ChannelCreate),
    ("ChannelDTO", "serialization", ChannelDTO),
    ("ChannelList", "serialization", ChannelList),
    ("ChannelPatch", "validation", ChannelPatch),
    ("MemberPut", "validation", MemberPut),
    ("MemberDTO", "serialization", MemberDTO),
    ("TokenCreate", "validation", TokenCreate),
    ("TokenCreated", "serialization", TokenCreated),
    ("TokenList", "serialization", TokenList),
    ("UserCreate", "validation", UserCreate),
    ("UserCreated", "serialization", UserCreated),
    ("PublishableEvent", "validation", PublishableEvent),
    ("PublishAccepted", "serialization", PublishAccepted),
)

SECURITY_SCHEMES: dict[str, Any] = {
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "culto_session",
        "description": "Set by POST /api/v2/auth/login (HttpOnly, SameSite=Lax, signed)",
    },
    "xsrfHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-XSRFToken",
        "description": "Token from GET /api/v2/csrf, bound to the session (fetch it again after"
        " signing in or out); not needed with a bearer token",
    },
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (culto_…), never in the query string",
    },
}
READ: list[dict[str, list[str]]] = [{}, {"sessionCookie": []}, {"bearerToken": []}]
"""Anonymous callers read public channels; signed-in callers read their channels too."""
WRITE: list[dict[str, list[str]]] = [
    {"sessionCookie": [], "xsrfHeader": []},
    {"bearerToken": []},
]
SIGN_IN: list[dict[str, list[str]]] = [{"xsrfHeader": []}]
BEARER: list[dict[str, list[str]]] = [{"bearerToken": []}]
SIGNED_IN: list[dict[str, list[str]]] = [{"sessionCookie": []}, {"bearerToken": []}]
"""Signed-in callers only (no anonymous access)."""

Errors = Callable[..., dict[str, Any]]


def _op(
    summary: str,
    security: list[dict[str, list[str]]],
    ok: tuple[str, str, dict[str, Any] | None],
    errors: dict[str, Any],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status, description, schema = ok
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    op: dict[str, Any] = {
        "summary": summary,
        "security": security,
        "responses": {status: response, **errors},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return op


def _path(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


def identity_paths(m: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """The identity and ingress operations (``m``: model name → schema reference)."""
    return {
        **_auth_paths(m, errors),
        **_channel_paths(m, errors),
        **_token_and_user_paths(m, errors),
        **_publish_paths(m, errors),
    }


def _auth_paths(m: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """Signing in and out, and who the caller is."""
    login_errors = errors(400, 401, 403, 422, 429, 503, 504)
    return {
        "/login": {
            "get": {
                "summary": "The page, signing in with a one-time link (/login#once=…)",
                "responses": {"200": {"description": "HTML page"}},
            }
        },
        "/api/v2/auth/login": {
            "post": _op(
                "Sign in (email + password, or a one-time secret): sets culto_session",
                SIGN_IN,
                ("204", "Signed in", None),
                login_errors,
                m["LoginRequest"],
            )
        },
        "/api/v2/auth/logout": {
            "post": _op(
                "Sign out (the session is revoked on every replica)",
                WRITE,
                ("204", "Signed out", None),
                errors(401, 403, 429, 503, 504),
            )
        },
        "/api/v2/auth/me": {
            "get": _op(
                "The signed-in user and its channels with roles",
                READ[1:],
                ("200", "The caller", m["MeDTO"]),
                errors(401, 429),
            )
        },
    }


def _channel_paths(m: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """Channels and their members."""
    channel = _path("channel_id", "^[A-Za-z0-9_-]{1,64}$")
    user = _path("user_id", "^u_[0-9a-f]{32}$")
    return {
        "/api/v2/channels": {
            "get": _op(
                "Channels the caller may read (anonymous: the public ones)",
                READ,
                ("200", "Channels", m["ChannelList"]),
                errors(401, 429),
            ),
            "post": _op(
                "Create a channel (admin)",
                WRITE,
                ("201", "Created", m["ChannelDTO"]),
                errors(400, 401, 403, 409, 422, 429, 503, 504),
                m["ChannelCreate"],
            ),
        },
        "/api/v2/channels/{channel_id}": {
            "parameters": [channel],
            "get": _op(
                "One channel (404 if the caller may not read it)",
                READ,
                ("200", "The channel", m["ChannelDTO"]),
                errors(401, 404, 429),
            ),
            "patch": _op(
                "Rename a channel or make it public or private (owner or admin); open streams"
                " follow at once",
                WRITE,
                ("200", "The channel as changed", m["ChannelDTO"]),
                errors(400, 401, 403, 404, 422, 429, 503, 504),
                m["ChannelPatch"],
            ),
        },
        "/api/v2/channels/{channel_id}/members/{user_id}": {
            "parameters": [channel, user],
            "put": _op(
                "Grant or change a role (channel owner or admin)",
                WRITE,
                ("200", "The membership", m["MemberDTO"]),
                errors(400, 401, 403, 404, 422, 429, 503, 504),
                m["MemberPut"],
            ),
            "delete": _op(
                "Remove a member (its open streams end)",
                WRITE,
                ("204", "Removed", None),
                errors(401, 403, 404, 429, 503, 504),
            ),
        },
    }


def _token_and_user_paths(m: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """API tokens, and the users (admin)."""
    token = _path("token_id", "^t_[0-9a-f]{16}$")
    return {
        "/api/v2/tokens": {
            "get": _op(
                "The caller's API tokens (admins: ?user_id=)",
                WRITE,
                ("200", "Tokens, without secrets", m["TokenList"]),
                errors(401, 403, 429),
            ),
            "post": _op(
                "Create an API token (shown once)",
                WRITE,
                ("201", "The token, this once", m["TokenCreated"]),
                errors(400, 401, 403, 404, 422, 429, 503, 504),
                m["TokenCreate"],
            ),
        },
        "/api/v2/tokens/{token_id}": {
            "parameters": [token],
            "delete": _op(
                "Revoke a token (its open streams end on every replica)",
                WRITE,
                ("204", "Revoked", None),
                errors(401, 403, 404, 429, 503, 504),
            ),
        },
        "/api/v2/users": {
            "get": _op(
                "Every user with its channels and roles (admin)",
                SIGNED_IN,
                ("200", "Users, by email", m["UserList"]),
                errors(401, 403, 429),
            ),
            "post": _op(
                "Create a user (admin); a generated password is shown once",
                WRITE,
                ("201", "Created", m["UserCreated"]),
                errors(400, 401, 403, 409, 422, 429, 503, 504),
                m["UserCreate"],
            ),
        },
    }


def _publish_paths(m: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """The HTTP ingress of events."""
    return {
        "/api/v2/events/publish": {
            "post": {
                **_op(
                    "Publish one event of a video of the token's channel (HTTP ingress)",
                    BEARER,
                    ("202", "Stored (or a duplicate of Idempotency-Key)", m["PublishAccepted"]),
                    errors(400, 401, 403, 409, 413, 422, 429, 503, 504, 507),
                    m["PublishableEvent"],
                ),
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
                        "description": "A retry with the same key is stored once",
                    }
                ],
            }
        },
    }
