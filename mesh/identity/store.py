"""Users, channels, memberships, API tokens and sessions in NATS KV, written with CAS.

Two buckets (created by ``culto provision``):

- ``culto_identity``: ``user.<user id>``, ``email.<sha256 of the email>`` (→ user id; a
  ``create`` makes the email unique), ``channel.<channel id>``,
  ``member.<channel id>.<user id>``, ``token.<token id>``;
- ``culto_sessions``: ``<sha256 of the session id>`` → the session (the bucket's ``max_age``
  drops sessions nobody logged out of).

Every write of an existing key is a compare-and-set on its revision (like video records), so
two replicas granting, revoking or touching at once never lose an update. Readers that need
every entry follow the buckets with :class:`mesh.directory.Directory` instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from typing import TypeVar

from nats.js.kv import KeyValue
from pydantic import BaseModel

from culto.errors import Conflict, NotFound
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.fence import fence_after_write
from mesh.kv_scan import scan
from mesh.subjects import IDENTITY_BUCKET, SESSIONS_BUCKET
from schemas.identity import (
    ChannelDTO,
    MemberDTO,
    SessionRecord,
    TokenRecord,
    UserRecord,
)

M = TypeVar("M", bound=BaseModel)

MAX_ATTEMPTS = 50


def user_key(user_id: str) -> str:
    """``user.<id>``."""
    return f"user.{user_id}"


def email_key(email: str) -> str:
    """``email.<sha256>``: KV keys cannot hold ``@``, and the hash keeps them short."""
    return f"email.{hashlib.sha256(email.strip().lower().encode()).hexdigest()}"


def channel_key(channel_id: str) -> str:
    """``channel.<id>``."""
    return f"channel.{channel_id}"


def member_key(channel_id: str, user_id: str) -> str:
    """``member.<channel id>.<user id>``."""
    return f"member.{channel_id}.{user_id}"


def token_key(token_id: str) -> str:
    """``token.<id>``."""
    return f"token.{token_id}"


class IdentityStore:
    """Typed reads and CAS writes of the identity buckets.

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    async def _kv(self, name: str = IDENTITY_BUCKET) -> KeyValue:
        return await self._mesh.key_value(name)

    async def fence(self) -> None:
        """After a write that may take access away, before answering: order it among the
        events (:mod:`mesh.fence`)."""
        await fence_after_write(self._mesh)

    # -- generic ---------------------------------------------------------------------------

    async def read(self, key: str, model: type[M], *, bucket: str = IDENTITY_BUCKET) -> M | None:
        """The record at ``key`` (``None`` if absent)."""
        found = await self._read(key, bucket)
        return None if found is None else model.model_validate_json(found[0])

    async def _read(self, key: str, bucket: str) -> tuple[bytes, int] | None:
        kv = await self._kv(bucket)
        try:
            with nats_errors(f"reading {key}"):
                entry = await kv.get(key)
        except NotFound:
            return None
        if entry.value is None:
            return None
        return entry.value, entry.revision or 0

    async def create(self, key: str, record: BaseModel, *, bucket: str = IDENTITY_BUCKET) -> int:
        """Store a new record; :class:`Conflict` if ``key`` exists."""
        kv = await self._kv(bucket)
        with nats_errors(f"creating {key}"):
            return await kv.create(key, record.model_dump_json().encode())

    async def put(self, key: str, record: BaseModel, *, bucket: str = IDENTITY_BUCKET) -> int:
        """Store ``record`` whatever was there (for keys with one writer: memberships)."""
        kv = await self._kv(bucket)
        with nats_errors(f"writing {key}"):
            return await kv.put(key, record.model_dump_json().encode())

    async def update(
        self,
        key: str,
        model: type[M],
        mutate: Callable[[M], M | None],
        *,
        bucket: str = IDENTITY_BUCKET,
    ) -> M:
        """Apply the pure ``mutate`` with compare-and-set, retrying lost races.

        Raises:
            NotFound: no record at ``key``.
            Conflict: still losing after :data:`MAX_ATTEMPTS`.
        """
        kv = await self._kv(bucket)
        for attempt in range(MAX_ATTEMPTS):
            found = await self._read(key, bucket)
            if found is None:
                raise NotFound(f"{key.split('.', 1)[0]} not found")
            current = model.model_validate_json(found[0])
            changed = mutate(current)
            if changed is None:
                return current
            try:
                with nats_errors(f"updating {key}"):
                    await kv.update(key, changed.model_dump_json().encode(), last=found[1])
            except Conflict:
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return changed
        raise Conflict(f"{key.split('.', 1)[0]} is being updated concurrently; try again")

    async def delete(self, key: str, *, bucket: str = IDENTITY_BUCKET) -> bool:
        """Remove ``key`` and its history; False if it was not there."""
        if await self._read(key, bucket) is None:
            return False
        kv = await self._kv(bucket)
        with nats_errors(f"deleting {key}"):
            await kv.purge(key)
        return True

    # -- typed -----------------------------------------------------------------------------

    async def create_user(self, user: UserRecord) -> None:
        """Store a new user; :class:`Conflict` (``email_taken``) if its email is in use."""
        try:
            await self.create(email_key(user.email), _Pointer(id=user.id))
        except Conflict:
            raise Conflict(f"a user with email {user.email} exists", code="email_taken") from None
        await self.create(user_key(user.id), user)

    async def user_by_email(self, email: str) -> UserRecord | None:
        """The user with this email, if any."""
        pointer = await self.read(email_key(email), _Pointer)
        return None if pointer is None else await self.read(user_key(pointer.id), UserRecord)

    async def any_user(self) -> bool:
        """Whether at least one user exists (one stream-info call, no key scan)."""
        prefix = f"$KV.{IDENTITY_BUCKET}.user."
        with nats_errors("counting users"):
            info = await self._mesh.jsm.stream_info(
                f"KV_{IDENTITY_BUCKET}", subjects_filter=prefix + ">"
            )
        return bool(info.state.subjects)

    async def channel(self, channel_id: str) -> ChannelDTO | None:
        """One channel."""
        return await self.read(channel_key(channel_id), ChannelDTO)

    async def set_member(self, member: MemberDTO) -> None:
        """Grant or change a role (last write wins: owners act one at a time)."""
        await self.put(member_key(member.channel_id, member.user_id), member)

    async def token(self, token_id: str) -> TokenRecord | None:
        """One token."""
        return await self.read(token_key(token_id), TokenRecord)

    async def session(self, key: str) -> SessionRecord | None:
        """A session by its key (the SHA-256 of its id)."""
        return await self.read(key, SessionRecord, bucket=SESSIONS_BUCKET)

    async def put_session(self, key: str, session: SessionRecord) -> None:
        """Store a new session."""
        await self.create(key, session, bucket=SESSIONS_BUCKET)

    async def take_session(self, key: str) -> SessionRecord | None:
        """Read and delete a session in one compare-and-set: of two concurrent takers of a
        one-time link, exactly one gets the record."""
        found = await self._read(key, SESSIONS_BUCKET)
        if found is None:
            return None
        kv = await self._kv(SESSIONS_BUCKET)
        try:
            with nats_errors(f"taking session {key[:8]}"):
                await kv.delete(key, last=found[1])
        except Conflict:
            return None  # someone else took it first
        return SessionRecord.model_validate_json(found[0])

    async def delete_session(self, key: str) -> bool:
        """Revoke a session."""
        return await self.delete(key, bucket=SESSIONS_BUCKET)

    async def session_keys_of(self, user_id: str) -> list[str]:
        """The keys of ``user_id``'s sessions and one-time links: one pass over the bucket
        (a watch that stops after the current values; sessions number in the thousands at
        most, and this runs only when a password changes)."""
        entries = await scan(self._mesh, SESSIONS_BUCKET)
        return [e.key for e in entries if _session_user(e.value) == user_id]


class _Pointer(BaseModel):
    """``email.<hash>`` → the user's id."""

    id: str


def _session_user(data: bytes) -> str | None:
    try:
        return SessionRecord.model_validate_json(data).user_id
    except ValueError:
        return None  # not a session of ours: never anyone's


def parse_pointer(data: bytes) -> str:
    """The user id an ``email.<hash>`` entry points to."""
    return _Pointer.model_validate_json(data).id
