"""Small in-memory stand-ins for the event edge's unit tests (no nats-server): the replica's
identity view (what ``mesh.directory.Directory`` holds, with its change notifications) and the
stored events ``mesh.replay.EventReader`` reads. The policy, the resolver, the authenticator and
the DTOs they carry are the real ones."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import cast

from access.policy import Principal
from access.principals import Resolver
from culto.errors import HistoryTrimmed
from frontend_server.events.access import HubAccess
from frontend_server.security.auth import Authenticator
from mesh.directory import Change, ChangeKind, Directory, Listener
from mesh.events import StoredEvent
from mesh.replay import EventReader, StreamBounds
from mesh.subjects import event_subject
from schemas import ErrorEventDTO, VideoStatusEventDTO
from schemas.identity import (
    ChannelDTO,
    ChannelRole,
    SessionRecord,
    TokenRecord,
    TokenScope,
    UserRecord,
    Visibility,
)

PUBLIC, PRIVATE = Visibility.PUBLIC, Visibility.PRIVATE


class FakeDirectory:
    """The identity view (``access.principals.IdentityView``) plus ``on_change``; every
    mutation notifies the listeners as the KV watch does after applying an entry."""

    def __init__(self) -> None:
        self.users: dict[str, UserRecord] = {}
        self.channels: dict[str, ChannelDTO] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self._roles: dict[str, dict[str, ChannelRole]] = {}
        self._listeners: list[Listener] = []

    def roles_of(self, user_id: str) -> Mapping[str, ChannelRole]:
        return dict(self._roles.get(user_id, {}))

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _notify(self, kind: ChangeKind, key: str, deleted: bool = False) -> None:
        for listener in list(self._listeners):
            listener(Change(kind, key, deleted))

    # -- what the identity service writes ----------------------------------------------------

    def set_channel(self, channel_id: str, visibility: Visibility) -> None:
        dto = ChannelDTO(id=channel_id, name=channel_id, visibility=visibility)
        self.channels[channel_id] = dto
        self._notify(ChangeKind.CHANNEL, channel_id)

    def delete_channel(self, channel_id: str) -> None:
        del self.channels[channel_id]
        self._notify(ChangeKind.CHANNEL, channel_id, deleted=True)

    def add_user(self, *, admin: bool = False) -> str:
        user_id = "u_" + secrets.token_hex(16)
        self.users[user_id] = UserRecord(
            id=user_id, email=f"{user_id}@example.org", admin=admin, password_hash="x"
        )
        self._notify(ChangeKind.USER, user_id)
        return user_id

    def delete_user(self, user_id: str) -> None:
        del self.users[user_id]
        self._notify(ChangeKind.USER, user_id, deleted=True)

    def grant(self, channel_id: str, user_id: str, role: ChannelRole = ChannelRole.VIEWER) -> None:
        self._roles.setdefault(user_id, {})[channel_id] = role
        self._notify(ChangeKind.MEMBER, f"{channel_id}.{user_id}")

    def remove_member(self, channel_id: str, user_id: str, *, notify: bool = True) -> None:
        """``notify=False``: the entry is applied but its change not announced yet."""
        self._roles.get(user_id, {}).pop(channel_id, None)
        if notify:
            self.announce_member(channel_id, user_id)

    def announce_member(self, channel_id: str, user_id: str) -> None:
        self._notify(ChangeKind.MEMBER, f"{channel_id}.{user_id}")

    def add_token(
        self,
        user_id: str,
        *,
        channel: str | None = None,
        scope: TokenScope = TokenScope.READ,
        expires_at: datetime | None = None,
    ) -> Principal:
        """A token of ``user_id``; its principal, as a request carrying it resolves to."""
        token_id = "t_" + secrets.token_hex(8)
        record = TokenRecord(
            id=token_id,
            user_id=user_id,
            scope=scope,
            channel_id=channel,
            expires_at=expires_at,
            secret_hash="0" * 64,
        )
        self.tokens[token_id] = record
        self._notify(ChangeKind.TOKEN, token_id)
        principal = Resolver(self).token_principal(record)
        assert principal is not None
        return principal

    def revoke_token(self, principal: Principal) -> None:
        token_id = principal.credential.removeprefix("token:")
        del self.tokens[token_id]
        self._notify(ChangeKind.TOKEN, token_id, deleted=True)

    def access(self) -> HubAccess:
        """The hub's policy questions, answered from this view by the real authenticator."""
        return HubAccess(Authenticator(cast(Directory, self), "cookie-secret-for-unit-tests"))


def status(video: str, progress: int = 5) -> VideoStatusEventDTO:
    return VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress)


def error(video: str) -> ErrorEventDTO:
    return ErrorEventDTO(video_id=video, code="c", message="failed")


class FakeReader:
    """``CULTO_EVENTS`` as a list: replay by filter subject in batches, the latest event per
    (video, type), the stream's bounds; retention trims its head.

    Attributes:
        replays: Replays started (a shared read is one).
        trim_mid_replay: When set, a replay that has yielded one batch finds the stream trimmed
            up to this sequence and ends with ``HistoryTrimmed``, as the real reader's gapless
            check does.
        gate: When set, every replay waits on it before its first batch (holds readers
            mid-round so others can join).
    """

    def __init__(self, batch: int = 2) -> None:
        self.events: list[StoredEvent] = []
        self.last = 0
        self.batch = batch
        self.replays = 0
        self.trim_mid_replay: int | None = None
        self.gate: asyncio.Event | None = None

    def store(self, dto: VideoStatusEventDTO | ErrorEventDTO, channel: str) -> StoredEvent:
        """Append an event of ``channel`` (its ``Culto-Channel``); the stored event."""
        self.last += 1
        data = dto.model_dump_json().encode()
        subject = event_subject(dto.video_id, dto.type)
        event = StoredEvent(self.last, subject, dto.video_id, dto.type, channel, data, dto)
        self.events.append(event)
        return event

    def trim(self, first: int) -> None:
        """Retention: the stream now holds sequences ``first`` and up only."""
        self.events = [e for e in self.events if e.seq >= first]

    def recreate(self) -> None:
        """The stream is deleted and created again: empty, its sequences start over."""
        self.events, self.last = [], 0

    def reader(self) -> EventReader:
        return cast(EventReader, self)

    # -- what EventReader answers ------------------------------------------------------------

    async def first_seq(self) -> int | None:
        return self.events[0].seq if self.events else None

    async def bounds(self) -> StreamBounds:
        first = self.events[0].seq if self.events else self.last + 1
        return StreamBounds(first, self.last)

    async def replay(
        self, filters: list[str], after: int, *, until: int | None = None, gapless: bool = False
    ) -> AsyncIterator[list[StoredEvent]]:
        self.replays += 1
        if self.gate is not None:
            await self.gate.wait()
        matched = [
            e
            for e in self.events
            if e.seq > after
            and (until is None or e.seq <= until)
            and any(_matches(f, e.subject) for f in filters)
        ]
        for start in range(0, len(matched), self.batch):
            if start and self.trim_mid_replay is not None:
                self.trim(self.trim_mid_replay)
                raise HistoryTrimmed(self.trim_mid_replay)
            yield matched[start : start + self.batch]

    async def latest(
        self, video_ids: Iterable[str], event_types: Iterable[str] = (), *, up_to: int | None = None
    ) -> list[StoredEvent]:
        videos, types = set(video_ids), set(event_types)
        found: dict[tuple[str, str], StoredEvent] = {}
        for e in self.events:
            if up_to is not None and e.seq > up_to:
                break
            if e.video_id in videos and (not types or e.event_type in types):
                found[(e.video_id, e.event_type)] = e
        return sorted(found.values(), key=lambda e: e.seq)


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching (``*`` one token, ``>`` the rest)."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)
