"""REST handlers of passwords: a user changing their own, an admin resetting another's.

Both end the user's other sessions (on every replica, through the sessions bucket); API tokens
are not affected (revoke them on their own). Checking a current password counts as a sign-in
attempt (the same per-address and per-account limits), so the route cannot be used to guess.
The identity service decides (the caller's credential goes with the call): whether the current
password may be left out, whether it is right.
"""

from __future__ import annotations

import re

from access.policy import Action, require
from culto.errors import NotFound
from frontend_server.api.identity import SETTLE_TIMEOUT, IdentityHandler
from ops.http import ApiError
from schemas.identity import USER_ID_PATTERN, PasswordChange, PasswordReset


class PasswordHandler(IdentityHandler):
    """``POST /api/v2/auth/password``: the caller's new password → 204."""

    async def post(self) -> None:
        """422 ``wrong_password`` (field ``current_password``) when the current one is wrong
        or missing; it may be left out only within the hour after signing in with a one-time
        link (``set_password_until`` in ``/auth/me``)."""
        principal = self.principal
        require(principal, Action.CHANGE_PASSWORD)
        body = self.parse_body(PasswordChange)
        user = self.authenticator.directory.users.get(principal.user_id or "")
        if user is None:
            raise NotFound("user not found")
        if body.current_password is not None:
            self._spend_attempt(user.email)
        await self.identity.change_password(body, self.caller.credential)
        key = self.caller.session_key
        if key is not None:  # the page asks /auth/me next: the window must read closed
            sessions = self.authenticator.directory.sessions
            await self.authenticator.directory.until(
                lambda: not getattr(sessions.get(key), "via_link", False), SETTLE_TIMEOUT
            )
        self.no_content()

    def _spend_attempt(self, email: str) -> None:
        wait = self.limits.login_attempt(self.request.remote_ip or "", email)
        if wait:
            raise ApiError(
                429,
                "too_many_logins",
                f"too many password attempts; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )


class UserPasswordHandler(IdentityHandler):
    """``PUT /api/v2/users/{user_id}/password`` (admin): set or generate another user's
    password → 200 ``PasswordResetDone`` (a generated password is in it, this once)."""

    async def put(self, user_id: str) -> None:
        """Every session of the user ends (the caller's own is kept when it resets itself)."""
        require(self.principal, Action.RESET_PASSWORD)
        if not re.fullmatch(USER_ID_PATTERN, user_id):
            raise ApiError(400, "invalid_user_id", "a user id is u_ and 32 hex digits")
        if user_id not in self.authenticator.directory.users:
            raise NotFound(f"user {user_id} not found")
        body = self.parse_body(PasswordReset)
        done = await self.identity.reset_password(user_id, body, self.caller.credential)
        self.write_json(done)
