"""The WebSocket session's test rig (see test_session.py): a fake outbox that decodes every
frame it is given, a fake hub that authorises and registers connections as ``EventHub.connect``
does and writes live events to the attached outbox, fake cursors, and a session of a viewer of a
private channel whose history is the real ``SocketHistory`` over an in-memory event list."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import BaseModel

from access.policy import Principal
from access.principals import Credential
from culto.errors import MeshUnavailable, Unauthenticated
from frontend_server.events.access import HubAccess
from frontend_server.events.conn import (
    CloseReason,
    Connection,
    Framing,
    Owner,
    Phase,
    Sink,
    Subscription,
)
from frontend_server.events.cursors import CursorAcks
from frontend_server.events.hub import EventHub
from frontend_server.events.ws.history import SocketHistory
from frontend_server.events.ws.session import EventSocket
from frontend_server.events.ws.wire import encode_message, encode_ws_event
from mesh.events import StoredEvent
from schemas import new_video_id
from tests.frontend_server.events.fakes import (
    PRIVATE,
    PUBLIC,
    FakeDirectory,
    FakeReader,
    status,
)

PUB, PRIV, OTHER = "pub", "priv", "other"
Message = dict[str, Any]


def decode_frames(data: bytes) -> list[Message]:
    """The JSON of each unmasked server text frame in ``data``."""
    out = []
    while data:
        assert data[0] == 0x81, data[:2]  # final text frame
        size, at = data[1], 2
        if size == 126:
            size, at = struct.unpack_from("!H", data, 2)[0], 4
        elif size == 127:
            size, at = struct.unpack_from("!Q", data, 2)[0], 10
        out.append(json.loads(data[at : at + size]))
        data = data[at + size :]
    return out


class Outbox:
    """The socket: records every message in order, and the close."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.closed: tuple[int, str] | None = None
        self.hold: asyncio.Event | None = None  # set: history writes wait on it

    async def send(self, data: bytes) -> bool:
        if self.hold is not None:
            await self.hold.wait()
        self.messages += decode_frames(data)
        return self.closed is None

    async def send_message(self, message: BaseModel) -> None:
        self.messages += decode_frames(encode_message(message))

    def push(self, data: bytes) -> asyncio.Future[None] | None:
        self.messages += decode_frames(data)
        return None

    def close(self, code: int, reason: str) -> None:
        assert self.closed is None, "closed twice"
        self.closed = (code, reason)

    def ops(self) -> list[str]:
        return [m["op"] for m in self.messages]

    def seqs(self, video: str | None = None) -> list[int]:
        return [
            m["seq"]
            for m in self.messages
            if m["op"] == "event" and (video is None or m["event"]["video_id"] == video)
        ]

    def take(self) -> list[Message]:
        taken, self.messages = self.messages, []
        return taken


class FakeHub:
    """What a session asks of ``EventHub``: the head, ``connect`` (refreshed, authorised and
    registered at the head as the hub does), ``disconnect``, ``attach``; ``drop`` plays the
    hub ending a connection and ``dispatch`` its live fan-out to attached sockets."""

    def __init__(self, access: HubAccess) -> None:
        self.access = access
        self.head = 0
        self.down = False
        self.conns: list[Connection] = []
        self.attached: dict[Connection, Sink] = {}

    def connect(
        self,
        sub: Subscription,
        *,
        principal: Principal,
        video_channels: Mapping[str, str | None] | None = None,
        client_key: str = "",
        framing: Framing = Framing.SSE,
        credential: Credential | None = None,
    ) -> Connection:
        if self.down:
            raise MeshUnavailable("live events are unavailable: not connected to NATS")
        fresh = self.access.refresh(principal)
        if fresh is None:
            raise Unauthenticated("this credential was revoked or has expired")
        known = video_channels or {}
        channels = {v: known.get(v) for v in sub.videos or ()}
        self.access.authorize(fresh, channels, sub.channels or ())
        conn = Connection(
            sub,
            limit=100,
            abort=None,
            key=client_key,
            principal=fresh,
            video_channels=channels,
            framing=framing,
        )
        conn.credential = credential
        conn.horizon = self.head
        self.conns.append(conn)
        return conn

    def disconnect(self, conn: Connection) -> None:
        self.drop(conn, CloseReason.CLIENT_GONE)

    def drop(self, conn: Connection, reason: CloseReason) -> None:
        if conn.close_reason is not None:
            return
        conn.close_reason = reason
        self.attached.pop(conn, None)
        owner, conn.owner = conn.owner, None
        if owner is not None:
            owner.ended(reason)

    def attach(self, conn: Connection, sink: Sink, owner: Owner) -> None:
        conn.owner = owner
        if conn.close_reason is not None:
            conn.owner = None
            owner.ended(conn.close_reason)
            return
        conn.phase = Phase.LIVE  # its history from the head is empty: it stands there
        conn.last_sent_seq = max(conn.last_sent_seq, conn.horizon)
        self.attached[conn] = sink

    def dispatch(self, event: StoredEvent) -> None:
        self.head = event.seq
        for conn, sink in list(self.attached.items()):
            types = conn.sub.types
            if (
                conn.sub.matches(event.video_id, event.channel_id)
                and (types is None or event.event_type in types)
                and self.access.may_read(conn.principal, event.channel_id)
            ):
                sink.push(encode_ws_event(event))
                conn.last_sent_seq = event.seq

    @property
    def live(self) -> Connection:
        [conn] = self.attached
        return conn


class FakeCursors:
    def __init__(self) -> None:
        self.acks: list[tuple[str, int]] = []
        self.positions: dict[tuple[str, str], int] = {}

    async def ack(
        self, caller: Principal, credential: Credential | None, name: str, seq: int
    ) -> None:
        self.acks.append((name, seq))

    async def position(self, user_id: str, name: str) -> int | None:
        return self.positions.get((user_id, name))


class Rig:
    """A session of a viewer of ``PRIV`` (``OTHER`` is private and not theirs)."""

    def __init__(self, batch_timeout: float = 5.0) -> None:
        self.directory = FakeDirectory()
        for channel, visibility in ((PUB, PUBLIC), (PRIV, PRIVATE), (OTHER, PRIVATE)):
            self.directory.set_channel(channel, visibility)
        self.user = self.directory.add_user()
        self.directory.grant(PRIV, self.user)
        self.principal = self.directory.add_token(self.user)
        self.access = self.directory.access()
        self.store = FakeReader(batch=2)
        self.hub = FakeHub(self.access)
        self.outbox = Outbox()
        self.cursors = FakeCursors()
        self.channel_of: dict[str, str] = {}
        self.session = self.new_session(self.principal, batch_timeout)

    def new_session(self, principal: Principal, batch_timeout: float = 5.0) -> EventSocket:
        return EventSocket(
            hub=cast(EventHub, self.hub),
            access=self.access,
            principal=principal,
            credential=None,
            client_key=self.user,
            outbox=self.outbox,
            lookup=self.lookup,
            cursors=cast(CursorAcks, self.cursors),
            history=SocketHistory(self.store.reader()),
            batch_timeout=batch_timeout,
        )

    async def lookup(self, videos: Iterable[str]) -> dict[str, str | None]:
        return {v: self.channel_of.get(v) for v in videos}

    def video(self, channel: str = PRIV) -> str:
        video = new_video_id()
        self.channel_of[video] = channel
        return video

    def stored(self, video: str, n: int = 1) -> list[int]:
        """Events stored while the socket did not follow them (history)."""
        events = [self.store.store(status(video, i), self.channel_of[video]) for i in range(n)]
        self.hub.head = self.store.last
        return [e.seq for e in events]

    def live(self, video: str) -> int:
        """An event stored and dispatched live."""
        event = self.store.store(status(video), self.channel_of[video])
        self.hub.dispatch(event)
        return event.seq

    async def send(self, **message: Any) -> list[Message]:
        """One client message handled; what the socket was sent meanwhile."""
        self.outbox.take()
        await self.session.handle(json.dumps(message))
        return self.outbox.take()


def subscribed(messages: list[Message]) -> Message:
    assert messages and messages[0]["op"] == "subscribed", messages
    return messages[0]


def event_seqs(messages: list[Message], video: str | None = None) -> list[int]:
    return [
        m["seq"]
        for m in messages
        if m["op"] == "event" and (video is None or m["event"]["video_id"] == video)
    ]
