"""The identity service (API role): the ``culto.api.identity.*`` verbs of :mod:`mesh.rpc.verbs`.

The HTTP edge cannot write the identity buckets (its NATS user may only read them): logins,
logouts and every management change come here as requests, and so does the HTTP publish
ingress (the edge may not publish events either). Each request carries its caller's own
credential; this service resolves it against its own directory and decides with
``access.policy`` itself — the edge's checks are only there to answer fast.
"""

from __future__ import annotations

import logging

from access.credentials import session_key
from access.policy import Action, require
from access.principals import Credential, CredentialKind
from access.token_rules import check_new_token, may_manage_token, owner_of_new_token
from culto.errors import CultoError, NotFound, QuotaExceeded, Unauthenticated
from culto.resources import AsyncResource
from mesh.connection import MeshConnection
from mesh.cursors import CursorStore
from mesh.principals import MeshAuthenticator
from mesh.rpc import Call, Empty, RpcService, route
from mesh.rpc import verbs as v
from schemas.cursors import CursorAckCall
from schemas.identity import (
    ChannelChange,
    ChannelCreate,
    ChannelDTO,
    LoginRequest,
    MemberCall,
    MemberDTO,
    MemberRef,
    SessionOpened,
    TokenCreate,
    TokenCreated,
    TokenDTO,
    TokenRef,
    TouchCall,
    UserCreate,
    UserCreated,
)
from schemas.timestamps import utc_now
from services.identity.accounts import Accounts
from services.identity.ingress import Ingress
from services.identity.management import password_routes

log = logging.getLogger(__name__)

MAX_TOKENS_PER_USER = 100
"""API tokens one user may hold (the bucket's ``max_bytes`` is the backstop)."""


class IdentityService(AsyncResource):
    """Serves ``culto.api.identity.*`` until closed.

    Args:
        mesh: The process's connection (the API role's).
        authenticate: The role's credential resolver (its own directory).
        accounts: The account operations.
        cursors: The acknowledged cursors (with their per-user quota).
    """

    def __init__(
        self,
        mesh: MeshConnection,
        *,
        authenticate: MeshAuthenticator,
        accounts: Accounts,
        cursors: CursorStore,
    ) -> None:
        self._authenticate = authenticate
        self._resolver = authenticate.resolver
        self._channels = authenticate.channel
        self.accounts = accounts
        self._ingress = Ingress(mesh, authenticate)
        self._cursors = cursors
        self._service = RpcService(
            mesh.nc,
            v.IDENTITY,
            [
                route(v.LOGIN, self._login),
                route(v.LOGOUT, self._logout),
                route(v.USER_ADD, self._user_add),
                route(v.CHANNEL_ADD, self._channel_add),
                route(v.CHANNEL_SET, self._channel_set),
                route(v.MEMBER_SET, self._member_set),
                route(v.MEMBER_REMOVE, self._member_remove),
                route(v.TOKEN_CREATE, self._token_create),
                route(v.TOKEN_REVOKE, self._token_revoke),
                route(v.TOUCH, self._touch),
                route(v.PUBLISH, self._ingress.publish),
                route(v.CURSOR_ACK, self._cursor_ack),
                *password_routes(accounts, self._resolver),
            ],
            authenticate,
        )

    @property
    def rpc(self) -> RpcService:
        """The micro service (its stats feed ``/metrics``)."""
        return self._service

    async def open(self) -> None:
        """Start answering."""
        await self._service.start()

    async def close(self) -> None:
        """Stop answering (in-flight requests finish)."""
        await self._service.stop()

    # -- sessions ---------------------------------------------------------------------------

    async def _login(self, call: Call[LoginRequest]) -> SessionOpened:
        body = call.body
        if body.once is not None:
            opened = await self.accounts.login_once(body.once)
        elif body.email is not None and body.password is not None:
            opened = await self.accounts.login(body.email, body.password)
        else:
            raise Unauthenticated(
                "give email and password, or the secret of a one-time link", code="login_failed"
            )
        return SessionOpened(
            session_id=opened.session_id, user_id=opened.user_id, expires_at=opened.expires_at
        )

    async def _logout(self, call: Call[Empty]) -> None:
        # The credential is the session it ends: only its holder can end it.
        credential = call.credential
        if credential is None or credential.kind is not CredentialKind.SESSION:
            raise Unauthenticated("sign out ends a browser session: send its credential")
        await self.accounts.logout(session_key(credential.secret))

    # -- users and channels -----------------------------------------------------------------

    async def _user_add(self, call: Call[UserCreate]) -> UserCreated:
        body = call.body
        return await self.accounts.add_user(body.email, body.password, admin=body.admin)

    async def _channel_add(self, call: Call[ChannelCreate]) -> ChannelDTO:
        body = call.body
        return await self.accounts.add_channel(body.name, body.visibility, channel_id=body.id)

    async def _channel_set(self, call: Call[ChannelChange]) -> ChannelDTO:
        body = call.body
        channel = await self._channels(body.channel_id)
        call.require(channel, what=f"channel {body.channel_id}")
        return await self.accounts.change_channel(
            body.channel_id, name=body.name, visibility=body.visibility
        )

    async def _member_set(self, call: Call[MemberCall]) -> MemberDTO:
        body = call.body
        call.require(await self._channels(body.channel_id), what=f"channel {body.channel_id}")
        return await self.accounts.grant(body.channel_id, body.user_id, body.role)

    async def _member_remove(self, call: Call[MemberRef]) -> None:
        body = call.body
        call.require(await self._channels(body.channel_id), what=f"channel {body.channel_id}")
        await self.accounts.remove_member(body.channel_id, body.user_id)

    # -- tokens -----------------------------------------------------------------------------

    async def _token_create(self, call: Call[TokenCreate]) -> TokenCreated:
        body, principal = call.body, call.principal
        owner = owner_of_new_token(principal, body)
        check_new_token(principal, body, await self._channels(body.channel_id), utc_now())
        held = sum(1 for t in self._resolver.view.tokens.values() if t.user_id == owner)
        if held >= MAX_TOKENS_PER_USER:
            raise QuotaExceeded(
                f"this user already has {MAX_TOKENS_PER_USER} tokens: revoke unused ones first",
                code="too_many_tokens",
            )
        return await self.accounts.create_token(
            owner,
            scope=body.scope,
            name=body.name,
            channel_id=body.channel_id,
            expires_in=body.lifetime(),
        )

    async def _token_revoke(self, call: Call[TokenRef]) -> TokenDTO:
        token = self._resolver.view.tokens.get(call.body.id)
        if token is None or not may_manage_token(call.principal, token.user_id, token.channel_id):
            raise NotFound(f"token {call.body.id} not found")
        return (await self.accounts.revoke_token(token.id)).public()

    async def _touch(self, call: Call[TouchCall]) -> None:
        # Each entry is the token itself: a report names only tokens its sender holds.
        for text, at in call.body.used.items():
            try:
                credential = Credential.from_header(text)
            except Unauthenticated:
                continue
            if credential is None or credential.kind is not CredentialKind.BEARER:
                continue
            record = self._resolver.token_record(credential.secret)
            if record is not None:
                await self.accounts.touch_token(record.id, min(at, utc_now()))

    async def _cursor_ack(self, call: Call[CursorAckCall]) -> None:
        # Forward-only per cursor (CursorStore.advance), each ack as its own caller: one that
        # is refused (revoked credential, publish token, quota) does not fail the others.
        for ack in call.body.acks:
            try:
                principal = await self._authenticate(Credential.from_header(ack.credential))
                require(principal, Action.ACK_CURSOR)
                assert principal.user_id is not None  # require() refused anonymous callers
                await self._cursors.advance(principal.user_id, ack.cursor, ack.seq)
            except CultoError as exc:
                log.info("cursor ack refused: %s", exc.message)
