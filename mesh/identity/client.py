"""Typed client of the identity service (``culto.api.identity.*``), used by the HTTP edge.

Each call carries the credential of the caller it is made for; the service resolves and
authorizes it itself (the edge's own NATS user can do nothing a signed-out visitor cannot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from access.principals import Credential
from mesh.rpc import Empty, RpcClient
from mesh.rpc import verbs as v
from schemas.cursors import CursorAckCall, CursorPosition
from schemas.identity import (
    ChannelChange,
    ChannelCreate,
    ChannelDTO,
    ChannelPatch,
    ChannelRole,
    LoginRequest,
    MemberCall,
    MemberDTO,
    MemberRef,
    PasswordChange,
    PasswordReset,
    PasswordResetCall,
    PasswordResetDone,
    PublishAccepted,
    PublishCall,
    SessionOpened,
    TokenCreate,
    TokenCreated,
    TokenDTO,
    TokenRef,
    TouchCall,
    UserCreate,
    UserCreated,
)

Caller = Credential | None


class IdentityClient(RpcClient):
    """Calls the identity service; its errors come back as the :class:`CultoError` tree."""

    async def login(self, body: LoginRequest) -> SessionOpened:
        """Check credentials (or a one-time secret) and open a session."""
        return await self.call(v.LOGIN, body)

    async def logout(self, session: Credential) -> None:
        """End the session ``session`` presents."""
        await self.call(v.LOGOUT, Empty(), session)

    async def add_user(self, body: UserCreate, caller: Caller) -> UserCreated:
        """Create a user (instance admins)."""
        return await self.call(v.USER_ADD, body, caller)

    async def add_channel(self, body: ChannelCreate, caller: Caller) -> ChannelDTO:
        """Create a channel (instance admins)."""
        return await self.call(v.CHANNEL_ADD, body, caller)

    async def change_channel(
        self, channel_id: str, patch: ChannelPatch, caller: Caller
    ) -> ChannelDTO:
        """Rename a channel or change its visibility (owners, admins)."""
        change = ChannelChange(channel_id=channel_id, **patch.model_dump())
        return await self.call(v.CHANNEL_SET, change, caller)

    async def set_member(
        self, channel_id: str, user_id: str, role: ChannelRole, caller: Caller
    ) -> MemberDTO:
        """Grant or change a role."""
        call = MemberCall(channel_id=channel_id, user_id=user_id, role=role)
        return await self.call(v.MEMBER_SET, call, caller)

    async def remove_member(self, channel_id: str, user_id: str, caller: Caller) -> None:
        """Remove a membership."""
        await self.call(v.MEMBER_REMOVE, MemberRef(channel_id=channel_id, user_id=user_id), caller)

    async def create_token(self, body: TokenCreate, caller: Caller) -> TokenCreated:
        """A new token (returned once)."""
        return await self.call(v.TOKEN_CREATE, body, caller)

    async def revoke_token(self, token_id: str, caller: Caller) -> TokenDTO:
        """Delete a token."""
        return await self.call(v.TOKEN_REVOKE, TokenRef(id=token_id), caller)

    async def touch(self, used: Mapping[Credential, datetime]) -> None:
        """Report token use (``last_used_at``): each entry is the token that was used."""
        await self.call(v.TOUCH, TouchCall(used={c.header(): at for c, at in used.items()}))

    async def publish(self, call: PublishCall, caller: Caller) -> PublishAccepted:
        """The publish ingress: authorize, validate, update the record, publish the event."""
        return await self.call(v.PUBLISH, call, caller)

    async def change_password(self, body: PasswordChange, caller: Caller) -> None:
        """The caller's own new password; its other sessions end."""
        await self.call(v.PASSWORD_CHANGE, body, caller)

    async def reset_password(
        self, user_id: str, body: PasswordReset, caller: Caller
    ) -> PasswordResetDone:
        """Another user's new password (instance admins); every session of the user ends."""
        call = PasswordResetCall(user_id=user_id, **body.model_dump())
        return await self.call(v.PASSWORD_RESET, call, caller)

    async def ack_cursors(self, acks: Iterable[CursorPosition]) -> None:
        """Move these cursors forward (never back): one request for a whole flush."""
        await self.call(v.CURSOR_ACK, CursorAckCall(acks=list(acks)))
