"""The identity buckets followed into memory: who is who, on every frontend and API replica.

Authenticating a request or an event stream reads only memory (no NATS round trip per
request). A KV watch keeps the view current, so a logout, a revoked token or a removed member
written on any replica reaches every replica within milliseconds; listeners registered with
:meth:`Directory.on_change` (the event hub) then end the streams that lost their access.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from culto.resources import AsyncResource
from mesh.connection import MeshConnection
from mesh.fence import FenceMark
from mesh.identity.store import email_key, parse_pointer
from mesh.kv_mirror import KvMirror
from mesh.subjects import IDENTITY_BUCKET, SESSIONS_BUCKET
from schemas.identity import (
    ChannelDTO,
    ChannelRole,
    MemberDTO,
    SessionRecord,
    TokenRecord,
    UserRecord,
)

log = logging.getLogger(__name__)


class ChangeKind(Enum):
    """What kind of identity entry changed."""

    USER = "user"
    CHANNEL = "channel"
    MEMBER = "member"
    TOKEN = "token"
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry changed (``key``: its id; for a membership ``<channel>.<user>``)."""

    kind: ChangeKind
    key: str
    deleted: bool


Listener = Callable[[Change], None]


class Directory(AsyncResource):
    """An in-memory, always-current view of ``culto_identity`` and ``culto_sessions``.

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self.users: dict[str, UserRecord] = {}
        self.channels: dict[str, ChannelDTO] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self._emails: dict[str, str] = {}
        self._roles: dict[str, dict[str, ChannelRole]] = {}  # user → channel → role
        self._members: dict[str, dict[str, ChannelRole]] = {}  # channel → user → role
        self._listeners: list[Listener] = []
        self._identity_keys: set[str] = set()
        self._identity = KvMirror(mesh, IDENTITY_BUCKET, self._on_identity, self._prune_identity)
        self._sessions = KvMirror(mesh, SESSIONS_BUCKET, self._on_session, self._prune_sessions)

    async def open(self) -> None:
        """Load both buckets, then follow them."""
        await self._identity.open()
        await self._sessions.open()

    async def close(self) -> None:
        """Stop following."""
        await self._sessions.close()
        await self._identity.close()

    @property
    def loaded(self) -> bool:
        """True while both views are complete (false while re-watching after a reconnect)."""
        return self._identity.loaded and self._sessions.loaded

    async def current(self, timeout: float = 2.0) -> bool:
        """Whether the view holds every identity change stored before this call: the
        buckets' last sequences are asked at their leaders, then the view has up to
        ``timeout`` seconds to reach them (it is usually there already, or milliseconds
        away, however busy the buckets are). See ``frontend_server.events.fence``.

        Raises:
            MeshError: a bucket cannot be asked (the view is then not known to be current).
        """
        stored = FenceMark(
            identity=await self._identity.stored_last(),
            sessions=await self._sessions.stored_last(),
        )
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not self.holds(stored):
            if loop.time() >= end:
                return False
            await asyncio.sleep(0.01)
        return True

    def holds(self, mark: FenceMark) -> bool:
        """Whether the view has applied the identity buckets up to ``mark``."""
        return (
            self.loaded
            and self._identity.revision >= mark.identity
            and self._sessions.revision >= mark.sessions
        )

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` after every change is applied."""
        self._listeners.append(listener)

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds (re-checked after every change); ``False`` if it
        still does not after ``timeout`` seconds. Writers use it for read-your-writes: a
        session just stored is known here before the sign-in is answered."""
        changed = asyncio.Event()

        def listener(change: Change) -> None:
            changed.set()

        self._listeners.append(listener)
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await changed.wait()
                    changed.clear()
        except TimeoutError:
            return False
        finally:
            self._listeners.remove(listener)
        return True

    # -- queries ----------------------------------------------------------------------------

    def roles_of(self, user_id: str) -> dict[str, ChannelRole]:
        """Channel id → role of ``user_id`` (a copy)."""
        return dict(self._roles.get(user_id, {}))

    def members_of(self, channel_id: str) -> dict[str, ChannelRole]:
        """User id → role in ``channel_id`` (a copy)."""
        return dict(self._members.get(channel_id, {}))

    def user_by_email(self, email: str) -> UserRecord | None:
        """The user with this email, if known."""
        user_id = self._emails.get(email_key(email))
        return self.users.get(user_id) if user_id else None

    def tokens_of(self, user_id: str) -> list[TokenRecord]:
        """``user_id``'s tokens, oldest first."""
        mine = [t for t in self.tokens.values() if t.user_id == user_id]
        return sorted(mine, key=lambda t: (t.created_at, t.id))

    # -- following the buckets ----------------------------------------------------------

    def _on_identity(self, key: str, value: bytes | None, revision: int) -> None:
        if value is None:
            self._identity_keys.discard(key)
        else:
            self._identity_keys.add(key)
        kind, _, rest = key.partition(".")
        try:
            change = self._store(kind, rest, value)
        except ValidationError as exc:
            log.warning("ignoring malformed identity entry %s: %s", key, exc.errors()[0]["msg"])
            return
        if change is not None:
            self._notify(change)

    def _store(self, kind: str, rest: str, value: bytes | None) -> Change | None:
        if kind == "email":
            if value is None:
                self._emails.pop(f"email.{rest}", None)
            else:
                self._emails[f"email.{rest}"] = parse_pointer(value)
            return None
        if kind == "user":
            _put(self.users, rest, value, UserRecord)
            return Change(ChangeKind.USER, rest, value is None)
        if kind == "channel":
            _put(self.channels, rest, value, ChannelDTO)
            return Change(ChangeKind.CHANNEL, rest, value is None)
        if kind == "token":
            _put(self.tokens, rest, value, TokenRecord)
            return Change(ChangeKind.TOKEN, rest, value is None)
        if kind == "member":
            channel_id, _, user_id = rest.partition(".")
            if value is None:
                self._roles.get(user_id, {}).pop(channel_id, None)
                self._members.get(channel_id, {}).pop(user_id, None)
            else:
                member = MemberDTO.model_validate_json(value)
                self._roles.setdefault(user_id, {})[channel_id] = member.role
                self._members.setdefault(channel_id, {})[user_id] = member.role
            return Change(ChangeKind.MEMBER, rest, value is None)
        return None

    def _on_session(self, key: str, value: bytes | None, revision: int) -> None:
        try:
            _put(self.sessions, key, value, SessionRecord)
        except ValidationError:
            log.warning("ignoring a malformed session entry")
            return
        self._notify(Change(ChangeKind.SESSION, key, value is None))

    def _prune_identity(self, seen: set[str]) -> None:
        # After a re-watch: what was deleted while this replica was cut off is absent from the
        # new snapshot; until now the view served the old entries (never an empty one).
        for key in self._identity_keys - seen:
            self._on_identity(key, None, 0)

    def _prune_sessions(self, seen: set[str]) -> None:
        for key in set(self.sessions) - seen:
            self._on_session(key, None, 0)

    def _notify(self, change: Change) -> None:
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                log.exception("identity change listener failed")


M = TypeVar("M", bound=BaseModel)


def _put(table: dict[str, M], key: str, value: bytes | None, model: type[M]) -> None:
    if value is None:
        table.pop(key, None)
    else:
        table[key] = model.model_validate_json(value)
