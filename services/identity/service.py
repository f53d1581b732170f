"""The identity service (API role): ``culto.api.identity.<verb>`` over NATS.

The HTTP edge cannot write the identity buckets (its NATS user may only read them): logins,
logouts and every management change come here as requests, already authorized by the edge's
policy (``access.policy``). So does the HTTP publish ingress (``publish``): the edge may not
publish events either.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from nats.micro.service import Service
from pydantic import BaseModel

from culto.errors import InvalidInput
from culto.resources import AsyncResource
from mesh.connection import MeshConnection
from mesh.cursors import CursorStore
from mesh.identity_store import IdentityStore
from mesh.subjects import identity_subject
from mesh.videos import VideoStore
from schemas.cursors import CursorAckCall
from schemas.identity import (
    ChannelCreate,
    LoginRequest,
    MemberCall,
    SessionOpened,
    SessionRef,
    TokenCall,
    TokenRef,
    TouchCall,
    UserCreate,
)
from services.api.endpoints import EndpointStats, Handler, parse_request, start_service
from services.identity.accounts import Accounts
from services.identity.ingress import Ingress
from services.identity.management import management_routes

SERVICE_NAME = "culto-identity"


class IdentityService(AsyncResource):
    """Serves ``culto.api.identity.*`` until closed.

    Args:
        mesh: The process's connection (the API role's).
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh
        self.accounts = Accounts(IdentityStore(mesh))
        self._ingress = Ingress(mesh, VideoStore(mesh))
        self._cursors = CursorStore(mesh)
        self._service: Service | None = None
        self.stats = EndpointStats()

    async def open(self) -> None:
        """Start answering."""
        routes: dict[str, Handler] = {
            "login": self._login,
            "logout": self._logout,
            "user_add": self._user_add,
            "channel_add": self._channel_add,
            "member": self._member,
            "token_create": self._token_create,
            "token_revoke": self._token_revoke,
            "touch": self._touch,
            "publish": self._ingress.publish,
            "cursor_ack": self._cursor_ack,
            **management_routes(self.accounts),
        }
        self._service = await start_service(
            self._mesh.nc,
            name=SERVICE_NAME,
            description="CultoTranscript accounts, HTTP publish ingress and cursor acks",
            routes=routes,
            subject=identity_subject,
            stats=self.stats,
        )
        await self._mesh.nc.flush()

    async def close(self) -> None:
        """Stop answering (in-flight requests finish)."""
        service, self._service = self._service, None
        if service is not None:
            with contextlib.suppress(Exception):
                await service.stop()

    async def _login(self, data: bytes) -> BaseModel:
        body = parse_request(LoginRequest, data)
        if body.once is not None:
            opened = await self.accounts.login_once(body.once)
        elif body.email is not None and body.password is not None:
            opened = await self.accounts.login(body.email, body.password)
        else:
            raise InvalidInput("give email and password, or the secret of a one-time link")
        return SessionOpened(
            session_id=opened.session_id, user_id=opened.user_id, expires_at=opened.expires_at
        )

    async def _logout(self, data: bytes) -> None:
        await self.accounts.logout(parse_request(SessionRef, data).key)

    async def _user_add(self, data: bytes) -> BaseModel:
        body = parse_request(UserCreate, data)
        return await self.accounts.add_user(body.email, body.password, admin=body.admin)

    async def _channel_add(self, data: bytes) -> BaseModel:
        body = parse_request(ChannelCreate, data)
        return await self.accounts.add_channel(body.name, body.visibility, channel_id=body.id)

    async def _member(self, data: bytes) -> BaseModel | None:
        call = parse_request(MemberCall, data)
        if call.role is None:
            await self.accounts.remove_member(call.channel_id, call.user_id)
            return None
        return await self.accounts.grant(call.channel_id, call.user_id, call.role)

    async def _token_create(self, data: bytes) -> BaseModel:
        call = parse_request(TokenCall, data)
        days = call.expires_in_days
        return await self.accounts.create_token(
            call.user_id,
            scope=call.scope,
            name=call.name,
            channel_id=call.channel_id,
            expires_in=timedelta(days=days) if days else None,
        )

    async def _token_revoke(self, data: bytes) -> BaseModel:
        return (await self.accounts.revoke_token(parse_request(TokenRef, data).id)).public()

    async def _touch(self, data: bytes) -> None:
        for token_id, at in parse_request(TouchCall, data).used.items():
            await self.accounts.touch_token(token_id, at)

    async def _cursor_ack(self, data: bytes) -> None:
        # Forward-only per cursor (CursorStore.advance); one cursor losing every CAS race does
        # not fail the others: the edge's next flush carries its ack again only if it asks.
        for ack in parse_request(CursorAckCall, data).acks:
            await self._cursors.advance(ack.user_id, ack.cursor, ack.seq)
