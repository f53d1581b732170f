"""Typed client of the identity service (``culto.api.identity.*``), used by the HTTP edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from mesh.catalog_client import ServiceClient
from mesh.subjects import identity_subject
from schemas.cursors import CursorAckCall, CursorPosition
from schemas.identity import (
    ChannelCreate,
    ChannelDTO,
    ChannelRole,
    ChannelUpdate,
    ChannelUpdateCall,
    LoginRequest,
    MemberCall,
    MemberDTO,
    PasswordCall,
    PasswordResetDone,
    PublishAccepted,
    PublishCall,
    SessionOpened,
    SessionRef,
    TokenCall,
    TokenCreate,
    TokenCreated,
    TokenDTO,
    TokenRef,
    TouchCall,
    UserCreate,
    UserCreated,
)


class IdentityClient(ServiceClient):
    """Calls the identity service; its errors come back as the :class:`CultoError` tree."""

    async def _call(self, verb: str, body: BaseModel) -> Any:
        return await self._request(identity_subject(verb), f"identity {verb}", body)

    async def login(self, body: LoginRequest) -> SessionOpened:
        """Check credentials (or a one-time secret) and open a session."""
        return SessionOpened.model_validate(await self._call("login", body))

    async def logout(self, key: str) -> None:
        """Revoke the session stored under ``key``."""
        await self._call("logout", SessionRef(key=key))

    async def add_user(self, body: UserCreate) -> UserCreated:
        """Create a user."""
        return UserCreated.model_validate(await self._call("user_add", body))

    async def add_channel(self, body: ChannelCreate) -> ChannelDTO:
        """Create a channel."""
        return ChannelDTO.model_validate(await self._call("channel_add", body))

    async def set_member(self, channel_id: str, user_id: str, role: ChannelRole) -> MemberDTO:
        """Grant or change a role."""
        call = MemberCall(channel_id=channel_id, user_id=user_id, role=role)
        return MemberDTO.model_validate(await self._call("member", call))

    async def remove_member(self, channel_id: str, user_id: str) -> None:
        """Remove a membership."""
        await self._call("member", MemberCall(channel_id=channel_id, user_id=user_id))

    async def create_token(self, user_id: str, body: TokenCreate) -> TokenCreated:
        """A new token of ``user_id`` (returned once)."""
        call = TokenCall(**body.model_dump(exclude={"user_id"}), user_id=user_id)
        return TokenCreated.model_validate(await self._call("token_create", call))

    async def revoke_token(self, token_id: str) -> TokenDTO:
        """Delete a token."""
        return TokenDTO.model_validate(await self._call("token_revoke", TokenRef(id=token_id)))

    async def touch(self, used: Mapping[str, datetime]) -> None:
        """Report token use (``last_used_at``)."""
        await self._call("touch", TouchCall(used=dict(used)))

    async def publish(self, call: PublishCall) -> PublishAccepted:
        """The publish ingress: validate, update the record, publish the event."""
        return PublishAccepted.model_validate(await self._call("publish", call))

    # -- management (the page's Channels and password views) --------------------------------

    async def update_channel(self, channel_id: str, body: ChannelUpdate) -> ChannelDTO:
        """Rename a channel and/or change its visibility."""
        call = ChannelUpdateCall(channel_id=channel_id, **body.model_dump(exclude_none=True))
        return ChannelDTO.model_validate(await self._call("channel_update", call))

    async def set_password(self, call: PasswordCall) -> PasswordResetDone:
        """A user's new password (checked against the current one when given); the user's
        other sessions end."""
        return PasswordResetDone.model_validate(await self._call("password", call))

    async def ack_cursors(self, acks: Iterable[CursorPosition]) -> None:
        """Move these cursors forward (never back): one request for a whole flush."""
        await self._call("cursor_ack", CursorAckCall(acks=list(acks)))
