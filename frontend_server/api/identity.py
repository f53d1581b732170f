"""REST handlers of identity: sign-in, the caller, channels, members, tokens, users.

Each handler asks ``access.policy`` (through :func:`~access.policy.require`) to answer fast,
then calls the identity service over NATS with the caller's own credential: the service decides
again, and only its decision counts. The edge itself cannot write an identity record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import RootModel, ValidationError

from access.credentials import session_key
from access.policy import Action, require
from access.token_rules import check_new_token, may_manage_token, owner_of_new_token
from culto.errors import NotFound
from frontend_server.api.rest import ApiHandler
from frontend_server.security.auth import SESSION_COOKIE, SESSION_COOKIE_DAYS
from frontend_server.security.limits import ClientLimits
from mesh.identity.client import IdentityClient
from ops.http import ApiError, validation_error
from schemas.identity import (
    USER_ID_PATTERN,
    ChannelCreate,
    ChannelDTO,
    ChannelPatch,
    LoginRequest,
    MeChannel,
    MeDTO,
    MemberPut,
    TokenCreate,
    TokenDTO,
    UserCreate,
    UserEntry,
)
from schemas.timestamps import utc_now

SETTLE_TIMEOUT = 2.0
"""Seconds a sign-in or sign-out waits for this replica's directory to reflect it."""


class ChannelList(RootModel[list[ChannelDTO]]):
    """``GET /api/v2/channels``: the channels the caller may read."""


class TokenList(RootModel[list[TokenDTO]]):
    """``GET /api/v2/tokens``: the caller's tokens (never their secrets)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityDeps:
    """What the identity routes use, one per application (Tornado passes it as ``deps``)."""

    identity: IdentityClient
    limits: ClientLimits


class IdentityHandler(ApiHandler):
    """Shared plumbing: the identity client and the limits."""

    def initialize(self, deps: IdentityDeps) -> None:
        """Per-application dependencies (no globals)."""
        self.identity = deps.identity
        self.limits = deps.limits

    def no_content(self, status: int = 204) -> None:
        """Finish with an empty body."""
        self.set_status(status)
        self.finish()


class LoginHandler(IdentityHandler):
    """``POST /api/v2/auth/login``: email and password (or a one-time secret) → session cookie."""

    async def post(self) -> None:
        """204 with ``culto_session``; 401 ``login_failed``; 429 when attempts run out."""
        body = self.parse_body(LoginRequest)
        wait = self.limits.login_attempt(self.request.remote_ip or "", body.email)
        if wait:
            raise ApiError(
                429,
                "too_many_logins",
                f"too many sign-in attempts; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        previous = self.caller.credential if self.caller.session_key else None
        opened = await self.identity.login(body)
        if previous is not None:
            await self.identity.logout(previous)  # a new session id at every sign-in
        # Answer once this replica knows the session (milliseconds, through the KV watch): the
        # browser's next request, e.g. the new XSRF token, must already find it.
        sessions = self.authenticator.directory.sessions
        key = session_key(opened.session_id)
        await self.authenticator.directory.until(lambda: key in sessions, SETTLE_TIMEOUT)
        self.set_signed_cookie(
            SESSION_COOKIE,
            opened.session_id,
            expires_days=SESSION_COOKIE_DAYS,
            httponly=True,
            samesite="Lax",
        )
        self.no_content()


class LogoutHandler(IdentityHandler):
    """``POST /api/v2/auth/logout``: revoke the session on every replica, drop the cookie."""

    async def post(self) -> None:
        """204 (also without a session: signing out twice is not an error)."""
        key, credential = self.caller.session_key, self.caller.credential
        if key is not None and credential is not None:
            await self.identity.logout(credential)
            sessions = self.authenticator.directory.sessions
            await self.authenticator.directory.until(lambda: key not in sessions, SETTLE_TIMEOUT)
        self.clear_cookie(SESSION_COOKIE)
        self.no_content()


class MeHandler(IdentityHandler):
    """``GET /api/v2/auth/me``: the signed-in user and its channels with roles."""

    def get(self) -> None:
        """200 ``MeDTO``; 401 when not signed in."""
        principal = self.principal
        require(principal, Action.LIST_CHANNELS)
        directory = self.authenticator.directory
        user = directory.users.get(principal.user_id or "")
        if user is None:
            raise NotFound("user not found")
        channels = [
            MeChannel(id=c.id, name=c.name, role=role, visibility=c.visibility)
            for cid, role in sorted(principal.roles.items())
            if (c := directory.channels.get(cid)) is not None
            and principal.token_channel in (None, cid)
        ]
        self.write_json(
            MeDTO(user=user.public(), channels=channels, set_password_until=self._link_window())
        )

    def _link_window(self) -> datetime | None:
        """Until when this session may set a password without the current one (a session
        opened with a one-time link, in its first hour)."""
        key = self.caller.session_key
        session = self.authenticator.directory.sessions.get(key) if key else None
        until = session.sets_password_until() if session is not None else None
        return until if until is not None and until > utc_now() else None


class ChannelsHandler(IdentityHandler):
    """``GET`` (readable channels) and ``POST`` (admin: create) ``/api/v2/channels``."""

    def get(self) -> None:
        """The channels the caller may read, by name (anonymous callers: the public ones)."""
        readable = self.authenticator.readable_channels(self.principal)
        channels = self.authenticator.directory.channels.values()
        items = [c for c in channels if readable is None or c.id in readable]
        self.write_json(ChannelList(sorted(items, key=lambda c: (c.name.lower(), c.id))))

    async def post(self) -> None:
        """201 ``ChannelDTO``; 409 ``channel_exists`` for a taken id."""
        require(self.principal, Action.CREATE_CHANNEL)
        body = self.parse_body(ChannelCreate)
        channel = await self.identity.add_channel(body, self.caller.credential)
        self.set_header("Location", f"/api/v2/channels/{channel.id}")
        self.write_json(channel, status=201)


class ChannelHandler(IdentityHandler):
    """``GET`` and ``PATCH /api/v2/channels/{channel_id}``: one channel; rename it or change its
    visibility (owners and admins; open streams follow a visibility change at once)."""

    def get(self, channel_id: str) -> None:
        """200 ``ChannelDTO``; 404 for a channel the caller may not read."""
        channel = self.authenticator.channel(channel_id)
        require(self.principal, Action.READ, channel, what=f"channel {channel_id}")
        self.write_json(self.authenticator.directory.channels[channel_id])

    async def patch(self, channel_id: str) -> None:
        """200 ``ChannelDTO`` as changed."""
        channel = self.authenticator.channel(channel_id)
        require(self.principal, Action.MANAGE_CHANNEL, channel, what=f"channel {channel_id}")
        body = self.parse_body(ChannelPatch)
        changed = await self.identity.change_channel(channel_id, body, self.caller.credential)
        # Answer once this replica sees the change: the next request must already follow it.
        channels = self.authenticator.directory.channels
        await self.authenticator.directory.until(
            lambda: channels.get(channel_id) == changed, SETTLE_TIMEOUT
        )
        self.write_json(changed)


class MemberHandler(IdentityHandler):
    """``PUT`` / ``DELETE /api/v2/channels/{channel_id}/members/{user_id}`` (owners, admins)."""

    def _allowed(self, channel_id: str, user_id: str) -> None:
        channel = self.authenticator.channel(channel_id)
        require(self.principal, Action.MANAGE_MEMBERS, channel, what=f"channel {channel_id}")
        if not re.fullmatch(USER_ID_PATTERN, user_id):
            raise ApiError(
                400,
                "invalid_user_id",
                f"invalid user id {user_id[:40]!r}: expected u_ and 32 hex digits",
            )

    async def put(self, channel_id: str, user_id: str) -> None:
        """Grant or change ``user_id``'s role: 200 ``MemberDTO``."""
        self._allowed(channel_id, user_id)
        body = self.parse_body(MemberPut)
        self.write_json(
            await self.identity.set_member(channel_id, user_id, body.role, self.caller.credential)
        )

    async def delete(self, channel_id: str, user_id: str) -> None:
        """Remove the membership: 204 (its streams end on every replica)."""
        self._allowed(channel_id, user_id)
        await self.identity.remove_member(channel_id, user_id, self.caller.credential)
        self.no_content()


class TokensHandler(IdentityHandler):
    """``GET`` (list) and ``POST`` (create) ``/api/v2/tokens``: the caller's API tokens."""

    def get(self) -> None:
        """The caller's tokens (an instance admin may pass ``?user_id=``); a token bound to a
        channel lists only the tokens bound to that channel."""
        require(self.principal, Action.MANAGE_TOKENS)
        try:
            body = TokenCreate(user_id=self.get_query_argument("user_id", None) or None)
        except ValidationError as exc:
            raise validation_error(exc, "query") from None
        user_id = owner_of_new_token(self.principal, body)
        tokens = [
            t.public()
            for t in self.authenticator.directory.tokens_of(user_id)
            if may_manage_token(self.principal, t.user_id, t.channel_id)
        ]
        self.write_json(TokenList(tokens))

    async def post(self) -> None:
        """201 ``TokenCreated``: the token is in the reply this once, never again."""
        require(self.principal, Action.MANAGE_TOKENS)
        body = self.parse_body(TokenCreate)
        owner_of_new_token(self.principal, body)
        channel = self.authenticator.channel(body.channel_id)
        check_new_token(self.principal, body, channel, utc_now())
        created = await self.identity.create_token(body, self.caller.credential)
        self.write_json(created, status=201)


class TokenHandler(IdentityHandler):
    """``DELETE /api/v2/tokens/{token_id}``: revoke (open streams end on every replica)."""

    async def delete(self, token_id: str) -> None:
        """204; 404 for a token the caller may not manage."""
        require(self.principal, Action.MANAGE_TOKENS)
        token = self.authenticator.directory.tokens.get(token_id)
        if token is None or not may_manage_token(self.principal, token.user_id, token.channel_id):
            raise NotFound(f"token {token_id[:40]} not found")
        await self.identity.revoke_token(token.id, self.caller.credential)
        self.no_content()


class UserList(RootModel[list[UserEntry]]):
    """``GET /api/v2/users`` (admin): every user, by email, with its channels and roles."""


class UsersHandler(IdentityHandler):
    """``GET`` (list) and ``POST`` (create; a generated password is shown once)
    ``/api/v2/users``: admins only."""

    def get(self) -> None:
        """200 ``UserList``."""
        require(self.principal, Action.LIST_USERS)
        directory = self.authenticator.directory
        entries = []
        for user in sorted(directory.users.values(), key=lambda u: (u.email, u.id)):
            channels = [
                MeChannel(id=c.id, name=c.name, role=role, visibility=c.visibility)
                for cid, role in sorted(directory.roles_of(user.id).items())
                if (c := directory.channels.get(cid)) is not None
            ]
            entries.append(UserEntry(**user.public().model_dump(), channels=channels))
        self.write_json(UserList(entries))

    async def post(self) -> None:
        """201 ``UserCreated``; 409 ``email_taken``."""
        require(self.principal, Action.CREATE_USER)
        body = self.parse_body(UserCreate)
        self.write_json(await self.identity.add_user(body, self.caller.credential), status=201)
