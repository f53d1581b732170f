"""The WebSocket session without a socket or NATS (frontend_server/events/ws/session.py).

``EventSocket`` is driven through its public interface (``admit``, ``handle``, ``ended``,
``close``, ``position``) and writes to a fake outbox that decodes every frame it is given, so
each test reads the exact message sequence a client would. The hub is a small fake that
authorises and registers connections as ``EventHub.connect`` does and writes live events to the
attached outbox; history comes from the real ``SocketHistory`` over an in-memory event list.
Each test names the rule of docs/contracts.md §10 (or of the session's docstring) it checks.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import struct
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import BaseModel
from tornado.web import RequestHandler

from access.policy import Principal
from access.principals import Credential
from culto.buckets import TokenBuckets
from culto.errors import MeshUnavailable, Unauthenticated
from frontend_server.events.access import HubAccess
from frontend_server.events.conn import (
    CloseReason,
    Connection,
    DirectSink,
    Framing,
    Owner,
    Phase,
    Subscription,
)
from frontend_server.events.cursors import CursorAcks
from frontend_server.events.hub import EventHub
from frontend_server.events.ws import session as session_module
from frontend_server.events.ws.codes import MAX_ERRORS, CloseCode
from frontend_server.events.ws.frames import Opcode
from frontend_server.events.ws.handler import SocketRegistry
from frontend_server.events.ws.history import SocketHistory
from frontend_server.events.ws.session import EventSocket, SocketState
from frontend_server.events.ws.socket import MAX_PENDING_MESSAGES, WsStream
from frontend_server.events.ws.wire import encode_message, encode_ws_event
from frontend_server.security.limits import WS_BURST, ClientLimits
from mesh.events import StoredEvent
from ops.http import RequestRecord
from schemas import new_video_id
from schemas.cursors import WsError
from tests.frontend_server.events.fakes import (
    PRIVATE,
    PUBLIC,
    FakeDirectory,
    FakeReader,
    error,
    status,
)
from tests.frontend_server.events.ws.test_socket import frame

pytestmark = pytest.mark.timeout(5)

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

    async def send(self, data: bytes) -> None:
        if self.hold is not None:
            await self.hold.wait()
        self.messages += decode_frames(data)

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
        self.attached: dict[Connection, DirectSink] = {}

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
        conn = Connection(sub, 100, None, client_key, fresh, channels, framing)
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

    def attach(self, conn: Connection, sink: DirectSink, owner: Owner) -> None:
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


def _subscribed(messages: list[Message]) -> Message:
    assert messages and messages[0]["op"] == "subscribed", messages
    return messages[0]


def _events(messages: list[Message], video: str | None = None) -> list[int]:
    return [
        m["seq"]
        for m in messages
        if m["op"] == "event" and (video is None or m["event"]["video_id"] == video)
    ]


# -- subscribe ------------------------------------------------------------------------------


async def test_subscribe_answers_subscribed_then_the_current_state_then_live() -> None:
    """§10 "subscribed … head"; without since, the current state as a new SSE connection
    gets it (§7); then live, ascending."""
    rig = Rig()
    video = rig.video()
    rig.stored(video, 2)
    failed = rig.store.store(error(video), PRIV).seq
    latest = rig.stored(video)[0]
    got = await rig.send(op="subscribe", videos=[video])
    assert _subscribed(got) == {
        "op": "subscribed",
        "videos": [video],
        "channels": [],
        "all": False,
        "head": latest,
    }
    assert _events(got) == [failed, latest]  # the latest of each type, ascending
    assert got[1]["event"]["type"] == "error"
    assert rig.session.state is SocketState.LIVE and rig.session.position == latest
    seq = rig.live(video)
    assert rig.outbox.seqs() == [seq] and rig.session.position == seq


async def test_since_replays_what_the_added_videos_missed() -> None:
    """§10: a subscribe with since replays the added videos' history after it, then live."""
    rig = Rig()
    video, other = rig.video(), rig.video()
    seqs = rig.stored(video, 2)
    rig.stored(other)
    more = rig.stored(video, 2)
    got = await rig.send(op="subscribe", videos=[video], since=seqs[0])
    assert _events(got) == [seqs[1], *more]


async def test_per_video_since_is_an_exact_resume_point_for_each_video() -> None:
    """§10: since may be per video, {"<video id>": seq}: each video's highest seq received."""
    rig = Rig()
    a, b, c = rig.video(), rig.video(), rig.video()
    for _ in range(3):
        rig.stored(a)
        rig.stored(b)
    rig.stored(c)  # no position: its current state
    a_seqs = [e.seq for e in rig.store.events if e.video_id == a]
    b_seqs = [e.seq for e in rig.store.events if e.video_id == b]
    since = {a: a_seqs[1], b: b_seqs[0]}
    got = await rig.send(op="subscribe", videos=[a, b, c], since=since)
    assert _events(got, a) == a_seqs[2:]
    assert _events(got, b) == b_seqs[1:]
    assert _events(got, c) == [rig.store.last]


async def test_per_video_since_naming_another_video_is_refused_and_changes_nothing() -> None:
    """§10: per-video positions name videos of this subscribe only."""
    rig = Rig()
    video = rig.video()
    for message in (
        {"op": "subscribe", "videos": [video], "since": {rig.video(): 1}},
        {"op": "subscribe", "since": {video: 1}},  # no videos named
    ):
        got = await rig.send(**message)
        assert [(m["op"], m["code"]) for m in got] == [("error", "invalid_message")]
    assert not rig.hub.conns and rig.session.state is SocketState.IDLE


async def test_a_trimmed_since_is_reset_then_the_current_state() -> None:
    """§10 {"op":"reset",…as stream.reset…}: a since retention trimmed is said in-band (no
    seq), then the current state follows; nothing is silently skipped."""
    rig = Rig()
    video = rig.video()
    rig.stored(video, 5)
    rig.store.trim(4)
    got = await rig.send(op="subscribe", videos=[video], since=1)
    assert [m["op"] for m in got] == ["subscribed", "reset", "event"]
    reset = got[1]
    assert (reset["requested"], reset["first_available"], reset["last"]) == (1, 4, 5)
    assert reset["reason"] == "trimmed" and "seq" not in reset
    assert _events(got) == [5]


async def test_a_since_beyond_a_recreated_stream_is_an_unknown_id_reset() -> None:
    rig = Rig()
    video = rig.video()
    rig.stored(video, 2)
    got = await rig.send(op="subscribe", videos=[video], since=40)
    assert [m["op"] for m in got] == ["subscribed", "reset", "event"]
    assert got[1]["reason"] == "unknown_id" and got[1]["requested"] == 40


async def test_an_unreadable_channel_is_refused_as_an_unknown_one_and_changes_nothing() -> None:
    """§10: a channel the caller may not read is an error not_found, word for word as an
    unknown one, and changes nothing."""
    rig = Rig()
    video = rig.video()
    await rig.send(op="subscribe", videos=[video])
    conn = rig.hub.live
    answers = []
    for channel in (OTHER, "no-such-channel"):
        [answer] = await rig.send(op="subscribe", channels=[channel])
        assert (answer["op"], answer["code"]) == ("error", "not_found")
        answers.append(answer["message"].replace(channel, "C"))
    assert answers[0] == answers[1]
    # An unreadable video: the same answer, and the socket still follows what it did.
    [answer] = await rig.send(op="subscribe", videos=[rig.video(OTHER)])
    assert answer["code"] == "not_found"
    assert rig.hub.live is conn and conn.close_reason is None and len(rig.hub.conns) == 1
    assert rig.outbox.closed is None


async def test_adding_a_video_keeps_the_first_without_gap_or_duplicate() -> None:
    """The hand-off (module docstring, steps 2-5): the kept video's events the old
    connection had not written are sent once, the added one's history after since, then both
    live; nothing twice (§10 "without duplicates")."""
    rig = Rig()
    first, added = rig.video(), rig.video()
    early = rig.stored(added, 2)
    await rig.send(op="subscribe", videos=[first])
    sent = rig.live(first)
    unsent = rig.stored(first)  # stored, not yet written by the old connection
    got = await rig.send(op="subscribe", videos=[added], since=0)
    assert _subscribed(got)["videos"] == sorted([first, added])
    assert _events(got, first) == unsent  # (L, H] of what was kept, not `sent` again
    assert _events(got, added) == early
    assert rig.hub.conns[0].close_reason is CloseReason.CLIENT_GONE  # the old one let go
    live = [rig.live(first), rig.live(added)]
    assert rig.outbox.seqs() == live and rig.outbox.closed is None
    assert sent not in _events(got)


async def test_a_video_of_a_followed_channel_is_not_sent_twice() -> None:
    """§10: what the socket already followed (a video of an added channel) is not sent
    again."""
    rig = Rig()
    video, sibling = rig.video(PRIV), rig.video(PRIV)
    rig.stored(video, 2)
    theirs = rig.stored(sibling, 2)
    await rig.send(op="subscribe", videos=[video], since=0)
    got = await rig.send(op="subscribe", channels=[PRIV], since=0)
    assert _subscribed(got)["channels"] == [PRIV]
    assert _events(got) == theirs  # the channel's other video only


async def test_subscribing_to_everything_sends_history_only_with_since() -> None:
    """§10: neither videos nor channels: every readable video."""
    rig = Rig()
    mine, public, hidden = rig.video(PRIV), rig.video(PUB), rig.video(OTHER)
    for video in (mine, public, hidden):
        rig.stored(video)
    got = await rig.send(op="subscribe")
    assert _subscribed(got)["all"] is True and _events(got) == []
    await rig.send(op="unsubscribe")
    got = await rig.send(op="subscribe", since=0)
    assert _events(got, mine) and _events(got, public) and not _events(got, hidden)


async def test_a_cursor_resumes_after_its_acknowledged_position() -> None:
    """§10: reconnecting with the cursor resumes after the last acknowledged sequence."""
    rig = Rig()
    video = rig.video()
    seqs = rig.stored(video, 3)
    rig.cursors.positions[(rig.user, "tab")] = seqs[0]
    got = await rig.send(op="subscribe", videos=[video], cursor="tab")
    assert _events(got) == seqs[1:]


# -- unsubscribe ----------------------------------------------------------------------------


async def test_unsubscribe_narrows_then_empties_the_socket() -> None:
    """§10 unsubscribe: named videos, or everything (no videos, no channels)."""
    rig = Rig()
    a, b = rig.video(), rig.video()
    await rig.send(op="subscribe", videos=[a, b])
    got = await rig.send(op="unsubscribe", videos=[a])
    assert _subscribed(got)["videos"] == [b] and _events(got) == []
    rig.live(a)
    assert rig.outbox.seqs() == []  # no longer followed
    seq = rig.live(b)
    got = await rig.send(op="unsubscribe")
    assert got == [{"op": "subscribed", "videos": [], "channels": [], "all": False, "head": seq}]
    assert rig.session.state is SocketState.IDLE and rig.session.position == seq
    assert not rig.hub.attached


async def test_unsubscribing_a_video_while_following_everything_is_refused() -> None:
    rig = Rig()
    await rig.send(op="subscribe")
    [answer] = await rig.send(op="unsubscribe", videos=[rig.video()])
    assert (answer["op"], answer["code"]) == ("error", "not_subscribed")
    assert rig.hub.live.close_reason is None


# -- bad messages, the rate, acks -----------------------------------------------------------


async def test_bad_messages_are_answered_then_the_tenth_closes_1008() -> None:
    """§10 {"op":"error","code","message"}; a socket that keeps sending bad messages is
    closed with 1008."""
    rig = Rig()
    bad: list[str | bytes] = ["{", '{"op":"nope"}', b"\xff", json.dumps({"op": "ack"})]
    answers = []
    for raw in bad:
        await rig.session.handle(raw)
        answers += rig.outbox.take()
    assert [(m["op"], m["code"]) for m in answers] == [("error", "invalid_message")] * 4
    assert all(m["message"] for m in answers)
    got = await rig.send(op="subscribe", videos=[rig.video()], types=["no.such.type"])
    assert got[0]["op"] == "error" and got[0]["code"] == "invalid_input"
    for _ in range(MAX_ERRORS - 6):
        await rig.session.handle("{")
    assert rig.outbox.closed is None
    await rig.session.handle("{")
    assert rig.outbox.closed == (CloseCode.POLICY, f"{MAX_ERRORS} bad messages")
    assert rig.session.state is SocketState.CLOSED
    assert await rig.send(op="subscribe") == []  # a closed socket ignores messages


async def test_over_the_message_rate_each_message_is_refused_then_1008(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """§9 quotas: 50 messages per second (bursts of 200), then rate_limited errors, then
    close 1008. The clock stands still: only the burst is available."""
    monkeypatch.setattr(
        session_module, "TokenBuckets", functools.partial(TokenBuckets, clock=lambda: 0.0)
    )
    rig = Rig()
    assert all(rig.session.admit() is None for _ in range(WS_BURST))
    refusals = [rig.session.admit() for _ in range(MAX_ERRORS)]
    assert all(r is not None and r.code == "rate_limited" for r in refusals)
    assert rig.outbox.closed == (CloseCode.POLICY, f"{MAX_ERRORS} bad messages")


async def test_an_ack_during_history_stores_the_position_not_the_highest_seq() -> None:
    """While an added video's older history is sent, the highest seq received is no resume
    point: an ack stores the socket's position instead (at least once, never a gap)."""
    rig = Rig()
    video = rig.video()
    seqs = rig.stored(video, 4)
    rig.outbox.hold = asyncio.Event()
    subscribing = asyncio.ensure_future(
        rig.session.handle(json.dumps({"op": "subscribe", "videos": [video], "since": seqs[0]}))
    )
    for _ in range(5):
        await asyncio.sleep(0)
    assert rig.session.position == seqs[0]
    await rig.session.handle(json.dumps({"op": "ack", "cursor": "tab", "seq": seqs[-1]}))
    rig.outbox.hold.set()
    await subscribing
    await rig.session.handle(json.dumps({"op": "ack", "cursor": "tab", "seq": seqs[-1]}))
    assert rig.cursors.acks == [("tab", seqs[0]), ("tab", seqs[-1])]


# -- how a socket ends ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (CloseReason.REVOKED, CloseCode.FORBIDDEN),
        (CloseReason.EXPIRED, CloseCode.EXPIRED),
        (CloseReason.SLOW, CloseCode.SLOW),
        (CloseReason.SHUTDOWN, CloseCode.GOING_AWAY),
        (CloseReason.NATS_DISCONNECTED, CloseCode.TRY_AGAIN),
        (CloseReason.FAILED, CloseCode.INTERNAL),
    ],
)
async def test_the_hub_ending_the_connection_closes_with_its_code(
    reason: CloseReason, code: CloseCode
) -> None:
    """§9/§10: losing access closes with 4003, expiry 4001, too slow 4008, shutdown 1001,
    NATS gone 1013, a failed history 1011."""
    rig = Rig()
    await rig.send(op="subscribe", videos=[rig.video()])
    rig.hub.drop(rig.hub.live, reason)
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == code
    assert rig.session.state is SocketState.CLOSED


async def test_the_client_leaving_or_a_hand_off_closes_nothing() -> None:
    rig = Rig()
    await rig.send(op="subscribe", videos=[rig.video()])
    await rig.send(op="subscribe", videos=[rig.video()])  # the first connection is let go
    rig.hub.drop(rig.hub.live, CloseReason.CLIENT_GONE)
    assert rig.outbox.closed is None
    rig.session.close()
    assert rig.session.state is SocketState.CLOSED and not rig.hub.attached
    assert rig.outbox.closed is None  # the socket closed itself: nothing to send


async def test_access_lost_during_the_history_closes_with_its_code_at_attach() -> None:
    rig = Rig()
    video = rig.video()
    rig.stored(video, 4)
    rig.outbox.hold = asyncio.Event()
    subscribing = asyncio.ensure_future(
        rig.session.handle(json.dumps({"op": "subscribe", "videos": [video], "since": 0}))
    )
    for _ in range(5):
        await asyncio.sleep(0)
    rig.hub.drop(rig.hub.conns[-1], CloseReason.REVOKED)  # while the history is written
    rig.outbox.hold.set()
    await subscribing
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.FORBIDDEN
    assert rig.outbox.seqs() == [1, 2]  # the batch in flight, nothing after


async def test_a_client_that_does_not_take_its_history_is_closed_4008() -> None:
    rig = Rig(batch_timeout=0.01)
    video = rig.video()
    rig.stored(video, 3)
    rig.outbox.hold = asyncio.Event()  # never set
    await rig.session.handle(json.dumps({"op": "subscribe", "videos": [video], "since": 0}))
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.SLOW


async def test_a_revoked_credential_closes_4003_at_its_next_message() -> None:
    rig = Rig()
    await rig.send(op="subscribe", videos=[rig.video()])
    rig.directory.revoke_token(rig.principal)
    assert await rig.send(op="ack", cursor="tab", seq=1) == []
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.FORBIDDEN
    assert rig.cursors.acks == []


async def test_an_expired_credential_closes_4001_at_its_next_message() -> None:
    from datetime import timedelta

    from schemas.timestamps import utc_now

    rig = Rig()
    expired = rig.directory.add_token(rig.user, expires_at=utc_now() - timedelta(seconds=1))
    rig.session = rig.new_session(expired)
    assert await rig.send(op="subscribe", videos=[rig.video()]) == []
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.EXPIRED


async def test_nats_down_at_subscribe_closes_1013_with_the_position_to_resume() -> None:
    """An open socket carrying nothing would leave the client stuck: 1013, and the
    ``since`` it resumes from (its position) when it has one."""
    rig = Rig()
    video = rig.video()
    await rig.send(op="subscribe", videos=[video])
    seq = rig.live(video)
    rig.hub.down = True
    assert await rig.send(op="subscribe", videos=[rig.video()]) == []
    reason = f"live events unavailable; retry; since={seq}"
    assert rig.outbox.closed == (CloseCode.TRY_AGAIN, reason)
    fresh = Rig()
    fresh.hub.down = True
    await fresh.send(op="subscribe")
    assert fresh.outbox.closed == (CloseCode.TRY_AGAIN, "live events unavailable; retry")


# -- the queue in front of the session (frontend_server/events/ws/socket.py) ----------------


class QueuedSession:
    """A session whose every ``handle`` waits until the test lets it finish."""

    def __init__(self) -> None:
        self.started: list[bytes] = []
        self.running = 0
        self.most = 0
        self.finished = 0
        self.progress = asyncio.Event()  # set as each message finishes
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.refuse = False
        self.closed = False

    async def handle(self, raw: str | bytes) -> None:
        assert isinstance(raw, bytes)
        self.started.append(raw)
        self.running += 1
        self.most = max(self.most, self.running)
        self.arrived.set()
        await self.release.wait()
        self.running -= 1
        self.finished += 1
        self.progress.set()

    async def until_finished(self, count: int) -> None:
        while self.finished < count:
            self.progress.clear()
            await self.progress.wait()

    def admit(self) -> WsError | None:
        return WsError(code="rate_limited", message="slow down") if self.refuse else None

    def close(self) -> None:
        self.closed = True


class _App:
    def log_request(self, record: object) -> None:
        pass


class _Limits:
    def close_stream(self, key: str) -> None:
        pass


class Peer:
    """The client end of a socket pair served by a real ``WsStream``."""

    def __init__(self) -> None:
        server, self.client = socket.socketpair()
        server.setblocking(False)
        self.client.setblocking(False)
        self.registry = SocketRegistry()
        handler = cast(RequestHandler, SimpleNamespace(application=_App()))
        self.stream = WsStream(
            server,
            cast(RequestRecord, object()),
            handler,
            cast(ClientLimits, _Limits()),
            "k",
            registry=self.registry,
            max_message=1024,
        )
        self.session = QueuedSession()
        self.stream.start(self.session, b"", self.registry.wheel(3600.0))

    def send(self, *payloads: bytes) -> None:
        self.client.sendall(b"".join(frame(Opcode.TEXT, p) for p in payloads))

    async def frames(self) -> list[tuple[int, bytes]]:
        data = await asyncio.get_running_loop().sock_recv(self.client, 65536)
        out = []
        while data:
            size, at = data[1] & 0x7F, 2
            if size == 126:
                size, at = struct.unpack_from("!H", data, 2)[0], 4
            out.append((data[0] & 0x0F, data[at : at + size]))
            data = data[at + size :]
        return out

    def close(self) -> None:
        self.stream.abort()
        self.client.close()


async def test_messages_read_while_one_is_handled_wait_their_turn_in_order() -> None:
    """A change runs to its end before the next message is handled (one at a time); the
    socket goes on reading meanwhile (socket.py's docstring)."""
    peer = Peer()
    try:
        peer.send(b"1", b"2", b"3")
        async with asyncio.timeout(2):
            await peer.session.arrived.wait()
        # One read took the three frames: the first is handled, the others wait their turn.
        assert peer.registry.stats.messages_in == 3 and peer.session.started == [b"1"]
        peer.session.release.set()
        async with asyncio.timeout(2):
            await peer.session.until_finished(3)
        assert peer.session.started == [b"1", b"2", b"3"] and peer.session.most == 1
    finally:
        peer.close()
    assert peer.session.closed


async def test_a_client_queueing_too_many_messages_is_closed_1008() -> None:
    peer = Peer()
    try:
        peer.send(*(b"m" for _ in range(MAX_PENDING_MESSAGES + 2)))
        async with asyncio.timeout(2):
            [(opcode, payload)] = await peer.frames()
        assert opcode == Opcode.CLOSE
        assert struct.unpack_from("!H", payload)[0] == CloseCode.POLICY
        assert peer.session.started == [b"m"]  # the rest was never handed over
    finally:
        peer.close()


async def test_a_refused_message_is_answered_at_once_and_never_queued() -> None:
    """§9 quotas: over the rate, each message is answered with rate_limited."""
    peer = Peer()
    try:
        peer.session.refuse = True
        peer.send(b"x")
        async with asyncio.timeout(2):
            [(opcode, payload)] = await peer.frames()
        assert opcode == Opcode.TEXT
        refusal = {"op": "error", "code": "rate_limited", "message": "slow down"}
        assert json.loads(payload) == refusal
        assert peer.session.started == [] and peer.registry.stats.errors_out == 1
    finally:
        peer.close()
