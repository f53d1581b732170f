"""The account operations, shared by the identity service (API role) and the ``culto`` CLI.

Authorization is not decided here but by the callers: the identity service, which resolves each
request's own credential and asks ``access.policy`` (docs/security.md "Trust boundary"), and
the CLI, the instance operator's tool with its own NATS user. What is kept here are the
invariants of the records: emails are unique, passwords and token secrets are stored only
hashed, a token names an existing channel, a session expires, a one-time login link works once.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from access.credentials import (
    DUMMY_HASH,
    hash_password,
    new_password,
    new_session_id,
    new_token,
    session_key,
    verify_password,
)
from culto.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from mesh.identity.store import (
    IdentityStore,
    channel_key,
    member_key,
    token_key,
    user_key,
)
from mesh.subjects import SESSIONS_BUCKET
from schemas.identity import (
    DEFAULT_CHANNEL_ID,
    ChannelDTO,
    ChannelRole,
    MemberDTO,
    PasswordResetDone,
    SessionRecord,
    TokenCreated,
    TokenRecord,
    TokenScope,
    UserCreated,
    UserRecord,
    Visibility,
)
from schemas.timestamps import utc_now

SESSION_DAYS = 14.0
"""A browser session lasts this long (the ``culto_sessions`` bucket forgets it soon after)."""
ONCE_MINUTES = 60.0
"""A one-time login link works for this long."""
LOGIN_FAILED = "wrong email or password"


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: ``session_id`` goes into the signed cookie, nowhere else."""

    session_id: str
    user_id: str
    expires_at: datetime


def new_user_id() -> str:
    """``u_`` + 32 hex digits."""
    return "u_" + secrets.token_hex(16)


def new_channel_id(name: str) -> str:
    """A readable, unique id: a slug of ``name`` and 6 random hex digits."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "channel"
    return f"{slug}-{secrets.token_hex(3)}"


class Accounts:
    """Account operations over the identity buckets.

    Args:
        store: The identity buckets.
    """

    def __init__(self, store: IdentityStore) -> None:
        self.store = store

    # -- users ------------------------------------------------------------------------------

    async def add_user(
        self, email: str, password: str | None = None, *, admin: bool = False
    ) -> UserCreated:
        """Create a user; without ``password`` one is generated and returned (shown once).

        Raises:
            Conflict: ``email_taken``.
        """
        generated = None if password else new_password()
        hashed = await asyncio.to_thread(hash_password, password or generated or "")
        user = UserRecord(id=new_user_id(), email=email, admin=admin, password_hash=hashed)
        await self.store.create_user(user)
        return UserCreated(user=user.public(), password=generated)

    async def user(self, user_id: str) -> UserRecord:
        """One user; :class:`NotFound` if unknown."""
        found = await self.store.read(user_key(user_id), UserRecord)
        if found is None:
            raise NotFound(f"user {user_id} not found")
        return found

    async def set_password(
        self,
        user_id: str,
        password: str | None = None,
        *,
        current: str | None = None,
        keep_session: str | None = None,
    ) -> PasswordResetDone:
        """Give ``user_id`` a new password (generated and returned once when ``None``), then
        end every session of the user but ``keep_session`` (the key of the caller's own).

        Args:
            current: When given, it must be the user's password now (a user changing their
                own); the caller has decided whether it is needed.

        Raises:
            NotFound: no such user.
            InvalidInput: ``wrong_password`` (the field ``current_password``).
        """
        user = await self.user(user_id)
        if current is not None:
            ok = await asyncio.to_thread(verify_password, current, user.password_hash)
            if not ok:
                message = "the current password is not right"
                raise InvalidInput(
                    message,
                    code="wrong_password",
                    details={"errors": [{"field": "current_password", "message": message}]},
                )
        generated = None if password else new_password()
        hashed = await asyncio.to_thread(hash_password, password or generated or "")
        at = utc_now()
        updated = await self.store.update(
            user_key(user_id),
            UserRecord,
            lambda u: u.model_copy(update={"password_hash": hashed, "password_set_at": at}),
        )
        await self.end_sessions(user_id, keep=keep_session)  # fenced there
        if keep_session is not None:
            await self._close_link_window(keep_session)
        return PasswordResetDone(user=updated.public(), password=generated)

    async def _close_link_window(self, key: str) -> None:
        """A password chosen, the session that chose it needs the current one from now on."""

        def close(session: SessionRecord) -> SessionRecord | None:
            return session.model_copy(update={"via_link": False}) if session.via_link else None

        try:
            await self.store.update(key, SessionRecord, close, bucket=SESSIONS_BUCKET)
        except NotFound:
            return  # signed out meanwhile

    async def end_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """Revoke every session and one-time link of ``user_id`` but ``keep``; how many."""
        ended = 0
        for key in await self.store.session_keys_of(user_id):
            if key != keep and await self.store.delete_session(key):
                ended += 1
        await self.store.fence()
        return ended

    async def user_by_email(self, email: str) -> UserRecord:
        """The user with ``email``; :class:`NotFound` if none."""
        found = await self.store.user_by_email(email)
        if found is None:
            raise NotFound(f"no user with email {email}")
        return found

    # -- channels ---------------------------------------------------------------------------

    async def add_channel(
        self, name: str, visibility: Visibility, *, channel_id: str | None = None
    ) -> ChannelDTO:
        """Create a channel; :class:`Conflict` if ``channel_id`` is taken."""
        channel = ChannelDTO(
            id=channel_id or new_channel_id(name), name=name, visibility=visibility
        )
        try:
            await self.store.create(channel_key(channel.id), channel)
        except Conflict:
            raise Conflict(f"channel {channel.id} exists", code="channel_exists") from None
        return channel

    async def ensure_default_channel(self) -> bool:
        """Create the public default channel unless it exists; True if it was created."""
        if await self.store.channel(DEFAULT_CHANNEL_ID) is not None:
            return False
        try:
            await self.add_channel("Default", Visibility.PUBLIC, channel_id=DEFAULT_CHANNEL_ID)
        except Conflict:
            return False  # another replica made it meanwhile
        return True

    async def channel(self, channel_id: str) -> ChannelDTO:
        """One channel; :class:`NotFound` if unknown."""
        found = await self.store.channel(channel_id)
        if found is None:
            raise NotFound(f"channel {channel_id} not found")
        return found

    async def change_channel(
        self, channel_id: str, *, name: str | None = None, visibility: Visibility | None = None
    ) -> ChannelDTO:
        """Rename a channel or change its visibility (streams follow the change at once: every
        replica's directory sees it and re-checks the open streams).

        Raises:
            NotFound: no such channel.
        """
        changes = {k: v for k, v in (("name", name), ("visibility", visibility)) if v is not None}

        def change(channel: ChannelDTO) -> ChannelDTO | None:
            changed = channel.model_copy(update=changes)
            return None if changed == channel else changed

        try:
            changed = await self.store.update(channel_key(channel_id), ChannelDTO, change)
        except NotFound:
            raise NotFound(f"channel {channel_id} not found") from None
        await self.store.fence()  # made private: its anonymous readers lose it
        return changed

    async def grant(self, channel_id: str, user_id: str, role: ChannelRole) -> MemberDTO:
        """Give ``user_id`` ``role`` in ``channel_id`` (or change it)."""
        await self.channel(channel_id)
        await self.user(user_id)
        member = MemberDTO(channel_id=channel_id, user_id=user_id, role=role)
        await self.store.set_member(member)
        await self.store.fence()  # a role may be lowered
        return member

    async def remove_member(self, channel_id: str, user_id: str) -> None:
        """Take ``user_id``'s role in ``channel_id`` away; :class:`NotFound` if it had none."""
        if not await self.store.delete(member_key(channel_id, user_id)):
            raise NotFound(f"user {user_id} is not a member of channel {channel_id}")
        await self.store.fence()

    # -- tokens -----------------------------------------------------------------------------

    async def create_token(
        self,
        user_id: str,
        *,
        scope: TokenScope,
        name: str = "",
        channel_id: str | None = None,
        expires_in: timedelta | None = None,
    ) -> TokenCreated:
        """A new token of ``user_id``; the reply holds the token itself, shown only this once."""
        await self.user(user_id)
        if channel_id is not None:
            await self.channel(channel_id)
        token_id, secret_hash, token = new_token()
        now = utc_now()
        record = TokenRecord(
            id=token_id,
            user_id=user_id,
            name=name,
            scope=scope,
            channel_id=channel_id,
            expires_at=now + expires_in if expires_in else None,
            created_at=now,
            secret_hash=secret_hash,
        )
        await self.store.create(token_key(token_id), record)
        return TokenCreated(**record.public().model_dump(), token=token)

    async def revoke_token(self, token_id: str) -> TokenRecord:
        """Delete a token (every replica stops accepting it); :class:`NotFound` if unknown."""
        found = await self.store.token(token_id)
        if found is None or not await self.store.delete(token_key(token_id)):
            raise NotFound(f"token {token_id} not found")
        await self.store.fence()
        return found

    async def touch_token(self, token_id: str, at: datetime) -> None:
        """Record that the token was used at ``at`` (never moves backwards)."""

        def later(token: TokenRecord) -> TokenRecord | None:
            if token.last_used_at is not None and token.last_used_at >= at:
                return None
            return token.model_copy(update={"last_used_at": at})

        try:
            await self.store.update(token_key(token_id), TokenRecord, later)
        except NotFound:
            return  # revoked meanwhile

    # -- sessions ---------------------------------------------------------------------------

    async def login(self, email: str, password: str) -> NewSession:
        """Check the password and open a session.

        A wrong password and an unknown email fail alike, after one KDF run each, so neither
        the answer nor its timing tells whether the email exists.

        Raises:
            Unauthenticated: ``login_failed``.
        """
        user = await self.store.user_by_email(email)
        stored = user.password_hash if user is not None else DUMMY_HASH
        ok = await asyncio.to_thread(verify_password, password, stored)
        if user is None or not ok:
            raise Unauthenticated(LOGIN_FAILED, code="login_failed")
        return await self._open_session(user.id)

    async def login_once(self, once: str) -> NewSession:
        """Exchange a one-time login secret for a session (the secret stops working).

        Raises:
            Unauthenticated: ``login_failed`` for an unknown, used or expired secret.
        """
        key = session_key(once)
        record = await self.store.session(key)
        if record is None or not record.once:
            raise Unauthenticated(
                "this login link is invalid, used or expired; ask for a new one",
                code="login_failed",
            )
        taken = await self.store.take_session(key)
        if taken is None or taken.expired(utc_now()):
            raise Unauthenticated(
                "this login link is invalid, used or expired; ask for a new one",
                code="login_failed",
            )
        return await self._open_session(taken.user_id, via_link=True)

    async def once_link(self, user_id: str) -> str:
        """A secret for ``/login#once=…`` that opens one session within :data:`ONCE_MINUTES`."""
        secret = new_session_id()
        expires = utc_now() + timedelta(minutes=ONCE_MINUTES)
        record = SessionRecord(user_id=user_id, expires_at=expires, once=True)
        await self.store.put_session(session_key(secret), record)
        return secret

    async def logout(self, key: str) -> None:
        """Revoke the session stored under ``key`` (idempotent)."""
        await self.store.delete_session(key)
        await self.store.fence()

    async def _open_session(self, user_id: str, *, via_link: bool = False) -> NewSession:
        session_id = new_session_id()
        expires = utc_now() + timedelta(days=SESSION_DAYS)
        record = SessionRecord(user_id=user_id, expires_at=expires, via_link=via_link)
        await self.store.put_session(session_key(session_id), record)
        return NewSession(session_id, user_id, expires)

    # -- first run --------------------------------------------------------------------------

    async def never_chose_password(self, email: str) -> bool:
        """Whether the user with ``email`` exists and still has the password it was created
        with (the first run's admin: generated, shown to nobody)."""
        user = await self.store.user_by_email(email)
        return user is not None and user.password_set_at is None

    async def bootstrap(self, admin_email: str) -> str | None:
        """First run: a public default channel and, when there is no user yet, an admin.

        Returns:
            A one-time login secret for the new admin, or ``None`` when users existed.
        """
        await self.ensure_default_channel()
        if await self.store.any_user():
            return None
        try:
            created = await self.add_user(admin_email, admin=True)
        except Conflict:
            return None  # a concurrent first run made it
        return await self.once_link(created.user.id)
