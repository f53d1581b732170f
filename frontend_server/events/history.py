"""What a joining client receives before its live queue: replay, snapshot or a reset, in rounds
that converge.

A connection starts in :attr:`~frontend_server.events.conn.Phase.CATCHING_UP` with ``horizon`` =
the hub's head at registration: its queue collects every matching live event above it. History
then comes from JetStream (:class:`~mesh.replay.EventReader`, no consumer):

* ``Last-Event-ID`` ``L`` inside the stream: every matching event in ``(L, horizon]``;
* ``L`` older than the oldest event the stream holds (retention trimmed it), or beyond the
  stream's last sequence (the stream was recreated): a ``stream.reset`` frame without id, then
  the current state, as for a new connection (docs/contracts.md §7);
* no ``L``, with video or channel filters: the latest stored event of each type for each video
  at or below the horizon (the current state); after it the client stands at ``horizon``. A
  followed channel's videos are its :data:`~frontend_server.events.follow.SNAPSHOT_VIDEOS`
  newest (listed after the horizon is fixed, so a video created before it is listed), and only
  their events that carry the channel count (a video moved in keeps its older events' channel).

Every history event also passes the subscription's own test (``Subscription.matches``): a
channel filter replays every video's events (the channel is not in the subject) and keeps
those that carry a followed channel.

**Rounds.** Live frames that arrive while history is written would once count against the
client's buffer, so a client reading as fast as the server sends was dropped again and again at
a high event rate. Instead, when a catching-up client's queue reaches its bound the hub discards
the queue and marks the client ``OVERFLOWED`` (``EventHub._overflow``). When a round ends
overflowed, the next round starts, in one synchronous step: the queue is cleared and ``horizon``
becomes the hub's head, then ``(last_sent_seq, horizon]`` is replayed. A round that ends without
overflow hands off: in the same synchronous step the client becomes ``LIVE`` and the pump sends
its queue.

**Invariant** (no gap, no duplicate, ascending): at the start of every round the queue is empty
and holds, from then on, every matching event above ``horizon`` (dispatch and this step both run
synchronously on the event loop, and every event dispatched so far is at or below the head);
the round sends exactly the matching events in ``(last_sent_seq, horizon]``, ascending. If the
queue overflows, what it lost is at or below the head at that instant, hence at or below the
next round's horizon, and is replayed. If it does not, the queue holds everything above the
horizon and the pump skips anything at or below ``last_sent_seq``.

**Convergence.** A client that reads faster than its events are published replays a shorter gap
each round (the gap of round ``n + 1`` is what was published during round ``n``) until a round
fits in its buffer. A round whose gap (in stream sequences) is not shorter than the previous one
means the client reads slower than the event rate: it is dropped as slow, and so is one that
does not take a batch within ``replay_batch_timeout``. Either resumes with ``Last-Event-ID`` and
loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import cast

from prometheus_client import Histogram

from access.principals import Credential
from culto.bounded import BoundedCache
from culto.errors import HistoryTrimmed
from frontend_server.events.access import HubAccess
from frontend_server.events.conn import (
    CloseReason,
    Connection,
    Framing,
    Phase,
    Sink,
    Subscription,
)
from frontend_server.events.follow import ChannelVideos, no_channel_videos
from frontend_server.events.framing import RESET_EVENT, frame_event, frame_reset
from frontend_server.events.shared import SharedReplays
from frontend_server.events.writes import RESET
from mesh.events import StoredEvent
from mesh.replay import EventReader
from schemas.events import ResetReason, StreamResetEventDTO

REPLAYS_PER_CLIENT = 8
"""Histories one client (user id, else address) is sent at once. It was one while a replay held
a JetStream consumer for as long as its client took to read (so stalled resumes could hold every
slot); reads are now bounded requests that never wait on a client, and a few at once let a
reconnect storm from one address overlap its round trips."""


SHARED_BATCH = 256
"""Events per write when a shared read is sent."""
FRAME_CACHE = 2048
"""History frames kept (the newest, both transports together): clients resuming from the same
point are sent the same events, framed once."""
FRAME_CACHE_BYTES = 4 << 20
"""And at most this many bytes of frames (both transports): a summary's frame is tens of KiB."""


class FrameCache:
    """Frames of stored events by (transport, sequence), the newest ``size`` frames and at most
    ``max_bytes`` of them; a hit only for the very event object (the reader shares decoded
    events, see ``mesh.replay``)."""

    __slots__ = ("_frames",)

    def __init__(self, size: int, max_bytes: int = FRAME_CACHE_BYTES) -> None:
        self._frames: BoundedCache[tuple[Framing, int], tuple[StoredEvent, bytes]]
        self._frames = BoundedCache(size, max_bytes)

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, framing: Framing, event: StoredEvent) -> bytes:
        """``event`` framed for ``framing``."""
        key = (framing, event.seq)
        hit = self._frames.get(key)
        if hit is not None and hit[0] is event:
            return hit[1]
        frame = frame_event(framing, event)
        self._frames.put(key, (event, frame), len(frame))
        return frame

    # After the methods that return the builtin ``bytes``: the name is the class's from here.
    @property
    def bytes(self) -> int:
        """Bytes of the frames kept."""
        return self._frames.bytes


class _ClientSlot:
    __slots__ = ("semaphore", "users")

    def __init__(self) -> None:
        self.semaphore = asyncio.Semaphore(REPLAYS_PER_CLIENT)
        self.users = 0


@dataclass(frozen=True, slots=True)
class Reset:
    """A resume point that cannot be honoured (see :class:`StreamResetEventDTO`)."""

    requested: int
    first_available: int
    last: int
    reason: ResetReason

    def frame(self, framing: Framing = Framing.SSE) -> bytes:
        """The ``stream.reset`` frame of ``framing`` (no id: it is no stored event)."""
        dto = StreamResetEventDTO(
            requested=self.requested,
            first_available=self.first_available,
            last=self.last,
            reason=self.reason,
        )
        return frame_reset(framing, dto)


def queue_reset(client: Connection, first: int, last: int) -> bool:
    """Queue an ``unknown_id`` ``stream.reset`` for a live client of a recreated stream, after
    what it was sent and before the new stream's events, whose lower ids the writer then
    accepts (:meth:`~frontend_server.events.writes.Writes.take`); True if its queue was empty."""
    reset = Reset(client.last_sent_seq, first, last, "unknown_id")
    client.resets += 1
    client.queue.append((RESET, RESET_EVENT, reset.frame(client.framing)))
    return len(client.queue) == 1


async def resume_point(reader: EventReader, last_event_id: int, horizon: int) -> int | Reset:
    """Where to resume after ``last_event_id`` (the hub's head being ``horizon``), or why it
    cannot be honoured. Shared with the WebSocket's ``since`` (``ws_history``). An id of 0
    asks for everything the stream holds: nothing it had can be gone, whatever retention or
    the purge of a deleted video removed from the stream's head."""
    if last_event_id == 0:
        return 0
    if last_event_id < horizon:
        first = await reader.first_seq()
        if first is None:  # everything is gone: where the stream starts again
            first = (await reader.bounds()).first
        if last_event_id < first - 1:
            return Reset(last_event_id, first, horizon, "trimmed")
        return last_event_id
    if last_event_id == horizon:
        return last_event_id
    # Ahead of this hub: normal when another replica saw newer events, but an id beyond the
    # stream's end means the stream was recreated.
    bounds = await reader.bounds()
    if last_event_id <= bounds.last:
        return last_event_id
    return Reset(last_event_id, bounds.first, bounds.last, "unknown_id")


async def current_state(
    reader: EventReader,
    channel_videos: ChannelVideos,
    sub: Subscription,
    horizon: int,
    credential: Credential | None,
) -> list[StoredEvent]:
    """The latest event of each type of each video ``sub`` names and of each followed channel's
    newest videos (listed with the caller's ``credential``), at or below ``horizon``, ascending;
    only events ``sub`` matches (still to be authorised). Shared with the WebSocket
    (``ws_history``).

    Raises:
        MeshError: if JetStream or the video API cannot be read.
    """
    videos = set(sub.videos or ())
    if sub.channels:
        videos.update(await channel_videos(sub.channels, credential))
    if not videos:
        return []
    latest = await reader.latest(sorted(videos), sub.types or (), up_to=horizon)
    return [e for e in latest if sub.matches(e.video_id, e.channel_id)]


class History:
    """Brings a joining client up to its live queue (see the module docstring).

    Args:
        reader: Reads stored events.
        access: Rules on each history event (the same policy as live dispatch).
        batch_timeout: Seconds a client may take to accept one batch of history.
        head: The hub's highest dispatched sequence, read synchronously.
        drop: Ends a connection (the hub's).
        sent_by_type: The hub's counter of frames sent, by event type.
        channel_videos: Lists followed channels' newest videos (the snapshot).
    """

    def __init__(
        self,
        reader: EventReader,
        access: HubAccess,
        *,
        batch_timeout: float,
        head: Callable[[], int],
        drop: Callable[[Connection, CloseReason], None],
        sent_by_type: Counter[str],
        channel_videos: ChannelVideos = no_channel_videos,
    ) -> None:
        self._reader = reader
        self._channel_videos = channel_videos
        self._access = access
        self._batch_timeout = batch_timeout
        self._head = head
        self._drop = drop
        self._sent_by_type = sent_by_type
        self._replaying: dict[str, _ClientSlot] = {}
        self._frames = FrameCache(FRAME_CACHE)
        self._shared = SharedReplays(reader)
        self.replays = 0
        self.resets = 0
        self.rounds = 0
        self.replay_seconds = Histogram(
            "culto_sse_replay_duration_seconds",
            "Time to replay history to a resuming client (until it is live)",
            registry=None,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

    async def send(self, client: Connection, sink: Sink) -> None:
        """Send ``client``'s history, round after round, and make it ``LIVE`` (or dropped)."""
        if client.phase is Phase.LIVE:
            return  # no history to send (live from the start, see Connection)
        started = time.monotonic()
        async with self._client_slot(client.key):
            if client.close_reason is not None:
                return  # it left while waiting for a slot: nothing to read for it
            replayed = await self._first_round(client, sink)
            replayed = await self._catch_up(client, sink) or replayed
        if replayed:
            self.replay_seconds.observe(time.monotonic() - started)

    async def _first_round(self, client: Connection, sink: Sink) -> bool:
        """History up to the connection's horizon; True if it replayed after an id."""
        sub, horizon = client.sub, client.horizon
        if sub.last_event_id is not None:
            point = await self._resume_point(sub.last_event_id, horizon)
            if isinstance(point, int):
                client.last_sent_seq = point
                if point >= horizon:
                    return False
                self.replays += 1
                await self._replay(client, sink, point, horizon)
                return True
            self.resets += 1
            self._sent_by_type[RESET_EVENT] += 1
            if not await self._write(client, sink, point.frame(client.framing)):
                return False
        if not sub.wide:
            latest = await self.current_state(sub, horizon, client.credential)
            if client.close_reason is None:
                await self._send_events(client, sink, latest, horizon)
        # The state at `horizon` is sent: the client stands there, whatever ids it saw.
        client.last_sent_seq = max(client.last_sent_seq, horizon)
        return False

    async def current_state(
        self, sub: Subscription, horizon: int, credential: Credential | None
    ) -> list[StoredEvent]:
        """:func:`current_state` with this hub's reader and catalog."""
        return await current_state(self._reader, self._channel_videos, sub, horizon, credential)

    async def _catch_up(self, client: Connection, sink: Sink) -> bool:
        """Rounds until one ends without overflow, then ``LIVE``; True if any round ran."""
        gap: int | None = None
        while client.close_reason is None:
            if client.phase is not Phase.OVERFLOWED:
                client.phase = Phase.LIVE  # synchronous with the check: the queue is complete
                return gap is not None
            # One synchronous step (see the invariant): empty queue, horizon = head.
            client.queue.clear()
            client.phase = Phase.CATCHING_UP
            client.horizon = self._head()
            new_gap = client.horizon - client.last_sent_seq
            if gap is not None and new_gap >= gap:
                self._drop(client, CloseReason.SLOW)  # reads slower than events are published
                return True
            gap = new_gap
            self.rounds += 1
            await self._replay(client, sink, client.last_sent_seq, client.horizon)
        return gap is not None

    @contextlib.asynccontextmanager
    async def _client_slot(self, key: str) -> AsyncIterator[None]:
        """At most :data:`REPLAYS_PER_CLIENT` histories of one client at once (fairness: its
        streams share the reader's request slots with everyone else's)."""
        slot = self._replaying.get(key)
        if slot is None:
            slot = self._replaying[key] = _ClientSlot()
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if not slot.users:
                del self._replaying[key]  # nobody else of this client holds or waits on it

    async def _resume_point(self, last_event_id: int, horizon: int) -> int | Reset:
        return await resume_point(self._reader, last_event_id, horizon)

    async def _replay(self, client: Connection, sink: Sink, after: int, horizon: int) -> None:
        try:
            await self._replay_range(client, sink, after, horizon)
        except HistoryTrimmed as gone:
            # Retention trimmed what this (slow) replay still had to send: never a silent gap.
            await self._trimmed(client, sink, gone.first_available, horizon)

    async def _trimmed(self, client: Connection, sink: Sink, first: int, horizon: int) -> None:
        """A ``stream.reset`` (``trimmed``) mid-replay, then the current state at ``horizon``:
        the client stands at the horizon afterwards, as after a reset at connect."""
        reset = Reset(client.last_sent_seq, first, horizon, "trimmed")
        self.resets += 1
        self._sent_by_type[RESET_EVENT] += 1
        if not await self._write(client, sink, reset.frame(client.framing)):
            return
        if not client.sub.wide:
            latest = await self.current_state(client.sub, horizon, client.credential)
            client.last_sent_seq = 0  # the state may hold events below what was sent: whole
            if client.close_reason is None:
                await self._send_events(client, sink, latest, horizon)
        client.last_sent_seq = max(client.last_sent_seq, horizon)

    async def _replay_range(self, client: Connection, sink: Sink, after: int, horizon: int) -> None:
        shared = await self._shared.read(client.sub.filters, after, horizon)
        if shared is not None:
            events, reach = shared
            for start in range(0, len(events), SHARED_BATCH):
                batch = events[start : start + SHARED_BATCH]
                if not await self._send_events(client, sink, batch, horizon):
                    break
            if reach < horizon and client.close_reason is None:
                await self._stream(client, sink, max(after, reach), horizon)
        else:
            await self._stream(client, sink, after, horizon)
        if client.close_reason is None:
            # Everything up to the horizon is sent (the rest did not match or may not be read):
            # the client stands there, so the next round's gap is measured from it.
            client.last_sent_seq = max(client.last_sent_seq, horizon)

    async def _stream(self, client: Connection, sink: Sink, after: int, horizon: int) -> None:
        """The replay of ``(after, horizon]``, batch by batch as JetStream answers."""
        # aclosing: leaving early ends the reader's requests now, not at GC time.
        replay = cast(
            AsyncGenerator[list[StoredEvent], None],
            self._reader.replay(list(client.sub.filters), after, until=horizon, gapless=True),
        )
        async with contextlib.aclosing(replay) as batches:
            async for batch in batches:
                if client.close_reason is not None:
                    return
                if not await self._send_events(client, sink, batch, horizon):
                    break

    async def _send_events(
        self, client: Connection, sink: Sink, events: list[StoredEvent], horizon: int
    ) -> bool:
        """Send history events in ``(last_sent_seq, horizon]`` the caller may read; False once
        past the horizon or dropped."""
        frames: list[bytes] = []
        within = True
        for event in events:
            if event.seq > horizon:
                within = False  # the live queue holds everything above the horizon
                break
            if event.seq <= client.last_sent_seq:
                continue
            if not client.sub.matches(event.video_id, event.channel_id):
                continue  # a channel filter replays every video: keep its channels' events
            if not self._access.may_read(client.principal, event.channel_id):
                continue  # history obeys the same rule as live dispatch, event by event
            frames.append(self._frames.get(client.framing, event))
            client.last_sent_seq = event.seq
            self._sent_by_type[event.event_type] += 1
        if frames and not await self._write(client, sink, b"".join(frames)):
            return False
        return within and client.last_sent_seq < horizon

    async def _write(self, client: Connection, sink: Sink, data: bytes) -> bool:
        """Write history; a client that does not take it within the batch timeout holds a
        replay slot for nothing and is dropped as slow, as a live client over its buffer is."""
        try:
            if (pending := sink.push(data)) is not None:
                # The sink took it or says when it will (no task per batch); shielded: others
                # may wait on the same drain.
                await asyncio.wait_for(asyncio.shield(pending), self._batch_timeout)
        except TimeoutError:
            self._drop(client, CloseReason.SLOW)
            return False
        return client.close_reason is None
