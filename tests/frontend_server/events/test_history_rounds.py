"""History rounds without NATS (frontend_server/events/history.py): where a resume point leads
(replay, ``stream.reset`` trimmed/unknown_id), the frame cache, catch-up rounds that converge
or drop a slow reader, one read shared by several clients, a client that leaves mid-round, and
the reset queued for a live client of a recreated stream. The stored events are a list
(``FakeReader``), the DTOs, policy and connections are the real ones; every rule checked is
stated in docs/contracts.md §7 or in the module's docstring (its invariant)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable

import pytest

from access.policy import ANONYMOUS, Principal
from frontend_server.events.conn import CloseReason, Connection, Framing, Phase, Subscription
from frontend_server.events.history import (
    REPLAYS_PER_CLIENT,
    FrameCache,
    History,
    Reset,
    queue_reset,
    resume_point,
)
from frontend_server.events.shared import MAX_EVENTS
from frontend_server.events.writes import RESET
from schemas import new_video_id
from tests.frontend_server.events.fakes import (
    PRIVATE,
    PUBLIC,
    FakeDirectory,
    FakeReader,
    error,
    status,
)

pytestmark = pytest.mark.timeout(5)

PUB, PRIV = "pub", "priv"


class Sink:
    """Records SSE writes; ``hook`` runs after each one (what the hub does meanwhile)."""

    def __init__(self, hook: Callable[[], None] | None = None) -> None:
        self.chunks: list[bytes] = []
        self.hook = hook
        self.hold: asyncio.Event | None = None  # set: writes wait on it (a full socket)

    def push(self, data: bytes) -> asyncio.Future[None] | None:
        if self.hold is None:
            self._keep(data)
            return None
        return asyncio.ensure_future(self._held(data))  # a full socket: pending until released

    async def _held(self, data: bytes) -> None:
        assert self.hold is not None
        await self.hold.wait()
        self._keep(data)

    def _keep(self, data: bytes) -> None:
        self.chunks.append(data)
        if self.hook is not None:
            self.hook()

    def ids(self) -> list[int]:
        text = b"".join(self.chunks).decode()
        return [int(line[4:]) for line in text.split("\n") if line.startswith("id: ")]

    def resets(self) -> list[dict[str, object]]:
        frames = b"".join(self.chunks).decode().split("\n\n")
        resets = [f for f in frames if f.startswith("event: stream.reset")]
        return [json.loads(f.split("data: ", 1)[1]) for f in resets]


class Rig:
    """A ``History`` over a ``FakeReader`` with the hub's head and drop played by the test."""

    def __init__(self, batch: int = 2, batch_timeout: float = 5.0) -> None:
        self.store = FakeReader(batch)
        self.directory = FakeDirectory()
        self.directory.set_channel(PUB, PUBLIC)
        self.directory.set_channel(PRIV, PRIVATE)
        self.head = 0
        self.dropped: list[tuple[Connection, CloseReason]] = []
        self.sent: Counter[str] = Counter()
        self.history = History(
            self.store.reader(),
            self.directory.access(),
            batch_timeout=batch_timeout,
            head=lambda: self.head,
            drop=self.drop,
            sent_by_type=self.sent,
        )

    def drop(self, conn: Connection, reason: CloseReason) -> None:
        conn.close_reason = reason  # what EventHub._drop does to the connection
        self.dropped.append((conn, reason))

    def publish(self, video: str, channel: str = PUB, n: int = 1) -> list[int]:
        seqs = [self.store.store(status(video, i % 100), channel).seq for i in range(n)]
        self.head = self.store.last
        return seqs

    def connect(
        self,
        videos: list[str],
        after: int | None,
        *,
        principal: Principal = ANONYMOUS,
        key: str = "client",
        channel: str = PUB,
    ) -> Connection:
        sub = Subscription.parse(videos, (), after)
        conn = Connection(
            sub,
            limit=100,
            abort=None,
            key=key,
            principal=principal,
            video_channels=dict.fromkeys(videos, channel),
        )
        conn.horizon = self.head  # EventHub.connect: registered at the head
        return conn


# -- resume points (docs/contracts.md §7: stream.reset) -------------------------------------


async def test_resume_point_inside_the_stream_is_honoured() -> None:
    rig = Rig()
    seqs = rig.publish(new_video_id(), n=6)
    rig.store.trim(3)  # holds 3..6
    reader = rig.store.reader()
    assert await resume_point(reader, 2, rig.head) == 2  # the event after it is still held
    assert await resume_point(reader, 4, rig.head) == 4
    assert await resume_point(reader, seqs[-1], rig.head) == seqs[-1]  # at the head
    # An id of 0 asks for whatever the stream holds: never a reset, whatever was trimmed.
    assert await resume_point(reader, 0, rig.head) == 0


async def test_a_trimmed_resume_point_is_a_trimmed_reset() -> None:
    rig = Rig()
    rig.publish(new_video_id(), n=6)
    rig.store.trim(4)  # 1..3 are gone: resuming after 1 would skip 2 and 3
    point = await resume_point(rig.store.reader(), 1, rig.head)
    assert point == Reset(requested=1, first_available=4, last=6, reason="trimmed")
    rig.store.trim(7)  # everything is gone: the stream starts again after its last sequence
    point = await resume_point(rig.store.reader(), 2, rig.head)
    assert point == Reset(requested=2, first_available=7, last=6, reason="trimmed")


async def test_an_id_beyond_the_stream_is_an_unknown_id_reset_ahead_of_the_hub_is_not() -> None:
    rig = Rig()
    rig.publish(new_video_id(), n=5)
    # Another replica saw newer events: ahead of this hub's head, within the stream.
    assert await resume_point(rig.store.reader(), 5, 3) == 5
    rig.store.recreate()
    rig.publish(new_video_id(), n=2)  # the new stream holds 1..2
    point = await resume_point(rig.store.reader(), 5, rig.head)
    assert point == Reset(requested=5, first_available=1, last=2, reason="unknown_id")


def test_reset_frames_carry_no_id() -> None:
    reset = Reset(7, 9, 12, "trimmed")
    sse = reset.frame(Framing.SSE).decode()
    assert sse.startswith("event: stream.reset\ndata: ") and "\nid:" not in sse
    body = json.loads(sse.split("data: ", 1)[1])
    assert body["type"] == "stream.reset"
    assert (body["requested"], body["first_available"], body["last"]) == (7, 9, 12)
    ws = json.loads(reset.frame(Framing.WS)[2:])
    assert ws["op"] == "reset" and ws["reason"] == "trimmed" and "seq" not in ws


# -- the frame cache ------------------------------------------------------------------------


def test_frame_cache_frames_an_event_once_per_transport() -> None:
    store = FakeReader()
    video = new_video_id()
    first, second, third = (store.store(status(video, i), PUB) for i in range(3))
    cache = FrameCache(2)
    sse = cache.get(Framing.SSE, first)
    assert cache.get(Framing.SSE, first) is sse  # the same bytes object: framed once
    assert sse.startswith(b"id: 1\nevent: video.status\n")
    ws = cache.get(Framing.WS, first)
    assert ws is not sse and b'{"op":"event","seq":1,' in ws
    # A hit only for the very event object: another event with the same sequence (a recreated
    # stream) is framed anew.
    again = store.store(status(video, 9), PUB)
    clone = type(again)(1, again.subject, video, again.event_type, PUB, again.data, again.event)
    assert cache.get(Framing.SSE, clone) is not sse
    assert b'"progress":9' in cache.get(Framing.SSE, clone)
    # Bounded: the oldest frame is evicted.
    kept = cache.get(Framing.SSE, second)
    cache.get(Framing.SSE, third)
    assert cache.get(Framing.SSE, second) is kept
    assert cache.get(Framing.SSE, clone) is not cache.get(Framing.SSE, third)


def test_frame_cache_is_bounded_by_bytes_too() -> None:
    """Large frames (a summary's) do not hold the count's worth of memory; a frame larger than
    the whole cache is sent but not kept; the byte count follows evictions."""
    store = FakeReader()
    video = new_video_id()
    events = [store.store(status(video, i), PUB) for i in range(4)]
    size = len(FrameCache(1).get(Framing.SSE, events[0]))
    cache = FrameCache(100, max_bytes=2 * size)
    frames = [cache.get(Framing.SSE, e) for e in events]
    assert len(cache) == 2 and cache.bytes == 2 * size
    assert cache.get(Framing.SSE, events[3]) is frames[3]
    assert cache.get(Framing.SSE, events[0]) is not frames[0]  # evicted, framed anew
    tiny = FrameCache(100, max_bytes=size - 1)
    assert tiny.get(Framing.SSE, events[0]) == frames[0]
    assert len(tiny) == 0 and tiny.bytes == 0


# -- one client's history -------------------------------------------------------------------


async def test_replay_sends_what_follows_the_id_up_to_the_horizon_then_live() -> None:
    rig = Rig()
    video, other = new_video_id(), new_video_id()
    rig.publish(video, n=2)
    rig.publish(other)
    after = rig.publish(video, n=3)
    conn = rig.connect([video], 2)
    rig.publish(video)  # above the horizon: the live queue's, not history's
    sink = Sink()
    await rig.history.send(conn, sink)
    assert sink.ids() == after  # (2, horizon], its video only, ascending
    assert conn.phase is Phase.LIVE and conn.last_sent_seq == after[-1]
    assert rig.history.replays == 1 and not rig.dropped


async def test_history_sends_only_what_the_caller_may_read() -> None:
    """docs/contracts.md §9: replay and current state obey the caller's channels."""
    rig = Rig()
    video = new_video_id()
    readable = rig.publish(video, PUB)
    rig.publish(video, PRIV)  # the video moved to a private channel
    conn = rig.connect([video], 0, channel=PUB)
    sink = Sink()
    await rig.history.send(conn, sink)
    assert sink.ids() == readable
    assert conn.last_sent_seq == rig.head  # it stands at the horizon all the same


async def test_no_id_sends_the_current_state() -> None:
    """docs/contracts.md §7: without Last-Event-ID, the latest event of each type."""
    rig = Rig()
    video = new_video_id()
    rig.publish(video, n=3)
    failed = rig.store.store(error(video), PUB).seq
    latest = rig.publish(video)[0]
    conn = rig.connect([video], None)
    sink = Sink()
    await rig.history.send(conn, sink)
    assert sink.ids() == [failed, latest]
    assert conn.last_sent_seq == rig.head and conn.phase is Phase.LIVE


async def test_a_trimmed_id_gets_a_reset_then_the_current_state() -> None:
    """docs/contracts.md §7: a reset without id, then the state, nothing silently skipped."""
    rig = Rig()
    video = new_video_id()
    rig.publish(video, n=5)
    rig.store.trim(4)
    conn = rig.connect([video], 1)
    sink = Sink()
    await rig.history.send(conn, sink)
    [reset] = sink.resets()
    assert (reset["requested"], reset["first_available"], reset["reason"]) == (1, 4, "trimmed")
    assert sink.ids() == [5]  # the state: the latest video.status
    assert rig.history.resets == 1 and rig.sent["stream.reset"] == 1


async def test_retention_trimming_a_short_shared_read_resets_then_state() -> None:
    rig = Rig(batch=2)
    video = new_video_id()
    rig.publish(video, n=6)
    rig.store.trim_mid_replay = 5  # after the read's first batch (1, 2), 3 and 4 are trimmed
    conn = rig.connect([video], 0)
    sink = Sink()
    await rig.history.send(conn, sink)
    # A short replay is read whole before anything is written: nothing of it was sent.
    [reset] = sink.resets()
    assert (reset["requested"], reset["first_available"], reset["reason"]) == (0, 5, "trimmed")
    assert sink.ids() == [6]  # then the current state
    assert conn.last_sent_seq == rig.head and conn.phase is Phase.LIVE


async def test_retention_trimming_a_streamed_replay_resets_never_a_silent_gap() -> None:
    rig = Rig(batch=256)
    video = new_video_id()
    rig.publish(video, n=MAX_EVENTS + 88)  # too long to share: streamed batch by batch
    conn = rig.connect([video], 0)

    def trimmed_while_writing() -> None:  # retention runs while the first batch is written
        rig.store.trim_mid_replay = 400

    sink = Sink(trimmed_while_writing)
    await rig.history.send(conn, sink)
    [reset] = sink.resets()
    assert (reset["requested"], reset["first_available"], reset["reason"]) == (256, 400, "trimmed")
    assert sink.ids() == [*range(1, 257), rig.head]  # what was sent, the reset, the state
    assert conn.last_sent_seq == rig.head and conn.phase is Phase.LIVE


# -- rounds (the module docstring's invariant and convergence) ------------------------------


async def test_an_overflowed_round_is_followed_by_one_up_to_the_new_head() -> None:
    rig = Rig(batch=2)
    video = new_video_id()
    rig.publish(video, n=4)
    conn = rig.connect([video], 0)
    published: list[int] = []

    def meanwhile() -> None:  # live events arrive while the first batch is written
        if not published:
            published.extend(rig.publish(video, n=3))
            conn.queue.clear()  # EventHub._overflow: the queue hit its bound
            conn.phase = Phase.OVERFLOWED

    sink = Sink(meanwhile)
    await rig.history.send(conn, sink)
    assert sink.ids() == [1, 2, 3, 4, *published]  # no gap, no duplicate, ascending
    assert rig.history.rounds == 1
    assert conn.phase is Phase.LIVE and conn.horizon == rig.head == published[-1]


async def test_a_reader_slower_than_the_event_rate_is_dropped_as_slow() -> None:
    rig = Rig(batch=2)
    video = new_video_id()
    rig.publish(video, n=4)
    conn = rig.connect([video], 0)

    def meanwhile() -> None:  # every batch written, twice as many events are published
        rig.publish(video, n=4)
        conn.phase = Phase.OVERFLOWED

    await rig.history.send(conn, Sink(meanwhile))
    assert rig.dropped == [(conn, CloseReason.SLOW)]  # the second round's gap is not shorter
    assert conn.phase is not Phase.LIVE


async def test_a_client_that_does_not_take_a_batch_is_dropped_as_slow() -> None:
    rig = Rig(batch_timeout=0.01)
    video = new_video_id()
    rig.publish(video, n=3)
    conn = rig.connect([video], 0)
    sink = Sink()
    sink.hold = asyncio.Event()  # never set: the client stopped reading
    await rig.history.send(conn, sink)
    assert rig.dropped == [(conn, CloseReason.SLOW)] and not sink.chunks


async def test_a_client_that_leaves_mid_round_is_sent_nothing_more() -> None:
    rig = Rig(batch=256)
    video = new_video_id()
    rig.publish(video, n=MAX_EVENTS + 88)  # streamed batch by batch
    conn = rig.connect([video], 0, key="one")
    sink = Sink(lambda: rig.drop(conn, CloseReason.CLIENT_GONE))
    await rig.history.send(conn, sink)
    assert sink.ids() == list(range(1, 257))  # the first batch, then it was gone
    assert conn.phase is not Phase.LIVE


async def test_a_client_waiting_for_a_slot_that_leaves_reads_nothing() -> None:
    rig = Rig()
    video = new_video_id()
    rig.publish(video, n=2)
    gate = rig.store.gate = asyncio.Event()  # every read waits: the slots stay taken
    busy = [rig.connect([video], 0) for _ in range(REPLAYS_PER_CLIENT)]
    sinks = [Sink() for _ in busy]
    tasks = [
        asyncio.ensure_future(rig.history.send(c, s)) for c, s in zip(busy, sinks, strict=True)
    ]
    late = rig.connect([video], 0)  # the same client: it waits for one of its slots
    late_sink = Sink()
    late_task = asyncio.ensure_future(rig.history.send(late, late_sink))
    for _ in range(5):
        await asyncio.sleep(0)
    assert rig.store.replays == 1  # the first read runs; the other busy ones share it
    rig.drop(late, CloseReason.CLIENT_GONE)
    gate.set()
    await asyncio.gather(*tasks, late_task)
    assert all(s.ids() == [1, 2] for s in sinks)
    assert not late_sink.chunks and late.phase is not Phase.LIVE
    # Its slot was let go: the client's next stream is served at once.
    again = rig.connect([video], 0)
    again_sink = Sink()
    await rig.history.send(again, again_sink)
    assert again_sink.ids() == [1, 2]


async def test_one_read_serves_every_client_resuming_from_the_same_point() -> None:
    rig = Rig()
    video = new_video_id()
    rig.publish(video, n=3)
    gate = rig.store.gate = asyncio.Event()
    conns = [rig.connect([video], 1, key=f"c{i}") for i in range(3)]
    sinks = [Sink() for _ in conns]
    tasks = [
        asyncio.ensure_future(rig.history.send(c, s)) for c, s in zip(conns, sinks, strict=True)
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert rig.store.replays == 1
    assert [s.ids() for s in sinks] == [[2, 3]] * 3
    # Later, with a horizon beyond the shared read: the shared part, then the rest read alone.
    more = rig.publish(video, n=2)
    late = rig.connect([video], 1, key="late")
    late_sink = Sink()
    await rig.history.send(late, late_sink)
    assert late_sink.ids() == [2, 3, *more] and rig.store.replays == 2


# -- a recreated stream while live ----------------------------------------------------------


def test_queue_reset_announces_the_recreated_stream_after_what_was_sent() -> None:
    rig = Rig()
    video = new_video_id()
    conn = rig.connect([video], None)
    conn.last_sent_seq = 40
    assert queue_reset(conn, 1, 3) is True  # the queue was empty: the writer must be woken
    seq, kind, frame = conn.queue[0]
    assert (seq, kind, conn.resets) == (RESET, "stream.reset", 1)
    body = json.loads(frame.decode().split("data: ", 1)[1])
    assert (body["requested"], body["first_available"], body["last"]) == (40, 1, 3)
    assert body["reason"] == "unknown_id"
    ws = rig.connect([video], None)
    ws.framing = Framing.WS
    ws.queue.append((41, "video.status", b"queued"))
    assert queue_reset(ws, 1, 3) is False  # behind a queued frame: already awake
    assert json.loads(ws.queue[-1][2][2:])["op"] == "reset"
