"""The identity service's password verbs (declared in :mod:`mesh.rpc.verbs`):
``password_change`` (the caller's own) and ``password_reset`` (an instance admin, another
user's). Both end the user's other sessions and unused one-time links.

The service decides, not the edge: the caller's session (from its own credential) says whether
it was opened with a one-time link within the hour, the only case where the current password
may be left out.
"""

from __future__ import annotations

from typing import Any

from access.credentials import session_key
from access.principals import Credential, CredentialKind, Resolver
from culto.errors import InvalidInput, NotFound
from mesh.rpc import Call, route
from mesh.rpc import verbs as v
from mesh.rpc.server import Route
from schemas.identity import PasswordChange, PasswordResetCall, PasswordResetDone
from schemas.timestamps import utc_now
from services.identity.accounts import Accounts

CURRENT_NEEDED = "enter your current password"


def session_of(credential: Credential | None) -> str | None:
    """The session key a browser credential presents (``None`` for a token or nothing)."""
    if credential is None or credential.kind is not CredentialKind.SESSION:
        return None
    return session_key(credential.secret)


def password_routes(accounts: Accounts, resolver: Resolver) -> list[Route[Any, Any]]:
    """The two verbs' routes, added to the identity service's."""

    def link_window_open(key: str | None) -> bool:
        session = resolver.view.sessions.get(key) if key else None
        until = session.sets_password_until() if session is not None else None
        return until is not None and until > utc_now()

    async def change(call: Call[PasswordChange]) -> None:
        body, user_id = call.body, call.principal.user_id
        assert user_id is not None  # CHANGE_PASSWORD was decided: a signed-in caller
        keep = session_of(call.credential)
        if body.current_password is None and not link_window_open(keep):
            raise InvalidInput(
                CURRENT_NEEDED,
                code="wrong_password",
                details={"errors": [{"field": "current_password", "message": CURRENT_NEEDED}]},
            )
        await accounts.set_password(
            user_id, body.new_password, current=body.current_password, keep_session=keep
        )

    async def reset(call: Call[PasswordResetCall]) -> PasswordResetDone:
        body = call.body
        if body.user_id not in resolver.view.users:
            raise NotFound(f"user {body.user_id} not found")
        own = body.user_id == call.principal.user_id
        keep = session_of(call.credential) if own else None
        return await accounts.set_password(body.user_id, body.password, keep_session=keep)

    return [route(v.PASSWORD_CHANGE, change), route(v.PASSWORD_RESET, reset)]
