"""In-process fan-out of the live event feed to SSE clients, with gapless replay hand-off.

One :class:`~mesh.feed.LiveFeed` per process follows ``CULTO_EVENTS``; every event is encoded to
SSE bytes once and the same bytes object is queued for each matching client. Clients are indexed
by video id (plus one set for "all videos"), so dispatching an event costs O(matching clients).

Joining (see :meth:`EventHub.serve`) is the heart of the module:

1. The client is registered first. ``H`` is the highest sequence the hub has dispatched at that
   moment; registration and dispatch both run synchronously on the event loop, so every event
   with sequence ``> H`` reaches the client's queue and none ``<= H`` does.
2. History ``<= H`` then comes from JetStream: with a ``Last-Event-ID`` ``L``, every matching
   event in ``(L, H]``; without one but with video filters, the latest stored event of each
   type for each video (only those ``<= H``: anything newer arrives live, in full).
3. The writer remembers ``last_sent_seq`` and skips queued frames at or below it, so ids on a
   connection are strictly ascending with no gap and no duplicate.

A client whose queue exceeds ``HubConfig.client_buffer`` frames is disconnected (it resumes
with ``Last-Event-ID``); the others are never slowed by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, cast

from prometheus_client import Histogram

from culto.errors import InvalidInput, MeshUnavailable
from culto.resources import AsyncResource
from frontend_server.config import HubConfig
from frontend_server.sse import encode_event
from mesh.connection import MeshConnection
from mesh.events import StoredEvent
from mesh.feed import LiveFeed
from mesh.replay import EventReader
from mesh.subjects import event_filters
from schemas.events import HeartbeatEventDTO

log = logging.getLogger(__name__)


class CloseReason(Enum):
    """Why the hub ended a connection."""

    SLOW = "slow"
    """Fell more than ``client_buffer`` frames behind: dropped so others are not slowed."""
    SHUTDOWN = "shutdown"
    """The hub is closing (server shutdown): the client resumes on another replica."""
    NATS_DISCONNECTED = "nats_disconnected"
    """The live feed lost NATS: the client resumes once it is back."""
    CLIENT_GONE = "client_gone"
    """The client left (or its socket failed)."""


MAX_VIDEOS_PER_CLIENT = 200
"""Upper bound on video filters of one connection (each becomes a replay filter subject)."""

_HEARTBEAT = 0  # queue entries with sequence 0 are heartbeats: never skipped, never counted


class Sink(Protocol):
    """Where a client's bytes go (the HTTP response in production, a list in unit tests)."""

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait until the transport has taken it (this paces the writer)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """What one connection asked for; build it with :meth:`parse` (which validates)."""

    videos: frozenset[str] | None
    types: frozenset[str] | None
    last_event_id: int | None
    filters: tuple[str, ...] = field(repr=False)

    @classmethod
    def parse(
        cls,
        video_ids: Iterable[str] = (),
        event_types: Iterable[str] = (),
        last_event_id: int | None = None,
    ) -> Subscription:
        """Validate filters; empty ``video_ids``/``event_types`` mean all.

        Raises:
            InvalidInput: for a malformed video id, an unknown type, too many videos or a
                negative ``last_event_id``.
        """
        videos = frozenset(video_ids)
        types = frozenset(event_types)
        if len(videos) > MAX_VIDEOS_PER_CLIENT:
            raise InvalidInput(f"at most {MAX_VIDEOS_PER_CLIENT} videos per event stream")
        if last_event_id is not None and last_event_id < 0:
            raise InvalidInput("last event id must be a non-negative integer")
        filters = tuple(event_filters(videos, types))  # the single place ids are validated
        return cls(videos or None, types or None, last_event_id, filters)


@dataclass(frozen=True, slots=True)
class HubStats:
    """A snapshot of the hub's counters for metrics and health."""

    connected_clients: int
    events_dispatched: int
    events_sent_by_type: dict[str, int]
    replays: int
    slow_client_drops: int
    nats_reconnects: int
    healthy: bool


class Connection:
    """One client's queue and cursor, made by :meth:`EventHub.connect` (slotted: thousands of
    these live at once)."""

    __slots__ = (
        "abort",
        "close_reason",
        "heartbeat_timer",
        "horizon",
        "key",
        "last_sent_seq",
        "limit",
        "queue",
        "sub",
        "wakeup",
    )

    def __init__(
        self, sub: Subscription, limit: int, abort: Callable[[], None] | None, key: str
    ) -> None:
        self.sub = sub
        self.key = key
        self.limit = limit
        self.abort = abort
        self.queue: deque[tuple[int, str, bytes]] = deque()
        self.wakeup = asyncio.Event()
        self.last_sent_seq = 0
        self.close_reason: CloseReason | None = None
        self.heartbeat_timer: asyncio.TimerHandle | None = None
        self.horizon = 0


class EventHub(AsyncResource):
    """Owns the live feed and fans events out to connected SSE clients.

    Use as ``async with EventHub(mesh, config) as hub:``; :meth:`close` ends every stream.

    Args:
        mesh: The process's connection (the hub does not close it).
        config: ``client_buffer`` bounds each client's queue (frames).
        reader: Reads history; defaults to an :class:`EventReader` on ``mesh``.
    """

    def __init__(
        self, mesh: MeshConnection, config: HubConfig, *, reader: EventReader | None = None
    ) -> None:
        self._mesh = mesh
        self._limit = config.client_buffer
        self._batch_timeout = config.replay_batch_timeout
        self._replaying: dict[str, asyncio.Lock] = {}
        self._reader = reader or EventReader(mesh)
        self._feed = LiveFeed(mesh, self._dispatch)
        self._by_video: dict[str, set[Connection]] = {}
        self._all_videos: set[Connection] = set()
        self._clients: set[Connection] = set()
        self._head = 0
        self._started = False
        self._closed = False
        self._dispatched = 0
        self._replays = 0
        self._slow_drops = 0
        self._sent_by_type: Counter[str] = Counter()
        self.replay_seconds = Histogram(
            "culto_sse_replay_duration_seconds",
            "Time to replay history to a resuming client (until it is live)",
            registry=None,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        mesh.on_disconnect(self._on_disconnect)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Follow the stream from its current end: history is served by replay, not the feed."""
        self._head = await self._reader.last_seq()
        await self._feed.start(self._head)
        self._started = True

    async def close(self) -> None:
        """End every open stream (clients resume elsewhere by ``Last-Event-ID``), stop the feed."""
        self._closed = True
        for client in list(self._clients):
            self._drop(client, CloseReason.SHUTDOWN)
        await self._feed.stop()

    @property
    def healthy(self) -> bool:
        """True while the hub runs, NATS is connected and the live feed is subscribed."""
        return (
            self._started
            and not self._closed
            and self._mesh.is_connected
            and self._feed.is_subscribed
        )

    @property
    def head(self) -> int:
        """The highest sequence dispatched so far."""
        return self._head

    def stats(self) -> HubStats:
        """Counters for the Prometheus collector and the health endpoint."""
        return HubStats(
            connected_clients=len(self._clients),
            events_dispatched=self._dispatched,
            events_sent_by_type=dict(self._sent_by_type),
            replays=self._replays,
            slow_client_drops=self._slow_drops,
            nats_reconnects=self._mesh.reconnects,
            healthy=self.healthy,
        )

    # -- serving one client ------------------------------------------------------------------

    def connect(
        self,
        sub: Subscription,
        *,
        heartbeat_interval: float | None = None,
        abort: Callable[[], None] | None = None,
        client_key: str = "",
    ) -> Connection:
        """Register a client; from this instant its queue collects every matching live event.

        Args:
            sub: The client's filters and resume point.
            heartbeat_interval: Seconds between heartbeat frames (``None``: none).
            abort: Called when the client is dropped as slow, to break a write that is stuck
                on a full socket (e.g. close the connection).
            client_key: Who the client is (its address): one client replays one stream at a
                time, so many stalled resumes of one client cannot hold every replay slot.

        Raises:
            MeshUnavailable: if the hub is not serving (closed or NATS down).
        """
        if not self.healthy:
            raise MeshUnavailable("live events are unavailable: not connected to NATS")
        conn = Connection(sub, self._limit, abort, client_key)
        # Synchronous: no event can be dispatched between reading the head and indexing.
        conn.horizon = self._head
        self._clients.add(conn)
        if sub.videos is None:
            self._all_videos.add(conn)
        else:
            for video in sub.videos:
                self._by_video.setdefault(video, set()).add(conn)
        if heartbeat_interval:
            self._schedule_heartbeat(conn, heartbeat_interval)
        return conn

    async def stream(self, conn: Connection, sink: Sink) -> CloseReason:
        """Send history then live frames into ``sink`` until the connection ends.

        Returns:
            Why it ended (``CLIENT_GONE`` after :meth:`disconnect`, cancellation or a failing
            sink).

        Raises:
            MeshError: if reading history from JetStream fails.
        """
        try:
            await self._send_history(conn, sink)
            await self._pump(conn, sink)
        finally:
            self._drop(conn, CloseReason.CLIENT_GONE)
        return conn.close_reason or CloseReason.CLIENT_GONE

    async def serve(
        self,
        sub: Subscription,
        sink: Sink,
        *,
        heartbeat_interval: float | None = None,
        abort: Callable[[], None] | None = None,
    ) -> CloseReason:
        """:meth:`connect` then :meth:`stream` (for callers that cancel the task to stop)."""
        conn = self.connect(sub, heartbeat_interval=heartbeat_interval, abort=abort)
        return await self.stream(conn, sink)

    def disconnect(self, conn: Connection) -> None:
        """The client went away: unregister it and let its :meth:`stream` return."""
        self._drop(conn, CloseReason.CLIENT_GONE)

    def _drop(self, client: Connection, reason: CloseReason) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        self._all_videos.discard(client)
        for video in client.sub.videos or ():
            bucket = self._by_video.get(video)
            if bucket is not None:
                bucket.discard(client)
                if not bucket:
                    del self._by_video[video]
        client.close_reason = reason
        client.queue.clear()
        client.wakeup.set()
        if client.heartbeat_timer is not None:
            client.heartbeat_timer.cancel()
            client.heartbeat_timer = None
        if reason is CloseReason.SLOW:
            self._slow_drops += 1
            if client.abort is not None:
                client.abort()

    async def _send_history(self, client: Connection, sink: Sink) -> None:
        sub, horizon = client.sub, client.horizon
        if sub.last_event_id is not None:
            after = await self._resume_point(sub.last_event_id, horizon)
            client.last_sent_seq = after
            if after >= horizon:
                return
            self._replays += 1
            started = time.monotonic()
            async with self._one_replay_per_client(client.key):
                await self._replay(client, sink, after, horizon)
            self.replay_seconds.observe(time.monotonic() - started)
        elif sub.videos is not None:
            latest = await self._reader.latest(sub.videos, sub.types or ())
            if client.close_reason is None:
                await self._send_events(client, sink, latest, horizon)

    @contextlib.asynccontextmanager
    async def _one_replay_per_client(self, key: str) -> AsyncIterator[None]:
        lock = self._replaying.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._replaying.get(key) is lock:
                del self._replaying[key]  # nobody else of this client waits on it

    async def _replay(self, client: Connection, sink: Sink, after: int, horizon: int) -> None:
        # aclosing: leaving early must delete the replay consumer now, not at GC time.
        replay = cast(
            AsyncGenerator[list[StoredEvent], None],
            self._reader.replay(list(client.sub.filters), after, until=horizon),
        )
        async with contextlib.aclosing(replay) as batches:
            async for batch in batches:
                if client.close_reason is not None:
                    return
                if not await self._send_events(client, sink, batch, horizon, replay=True):
                    return

    async def _resume_point(self, last_event_id: int, horizon: int) -> int:
        if last_event_id <= horizon:
            return last_event_id
        # Ahead of this hub: normal when another replica saw newer events, but an id beyond the
        # stream's end means the stream was recreated; then serve live from now instead of
        # waiting forever for sequences that will not come.
        end = await self._reader.last_seq()
        return last_event_id if last_event_id <= end else horizon

    async def _send_events(
        self,
        client: Connection,
        sink: Sink,
        events: list[StoredEvent],
        horizon: int,
        *,
        replay: bool = False,
    ) -> bool:
        """Send history events in ``(last_sent_seq, horizon]``; False once past the horizon.

        During a replay the client holds a replay slot: one that does not take a batch within
        ``replay_batch_timeout`` is dropped as slow, as a live client over its buffer is.
        """
        frames: list[bytes] = []
        within = True
        for event in events:
            if event.seq > horizon:
                within = False  # the live queue holds everything above the horizon
                break
            if event.seq <= client.last_sent_seq:
                continue
            frames.append(_frame(event))
            client.last_sent_seq = event.seq
            self._sent_by_type[event.event_type] += 1
        if frames:
            if not replay:
                await sink.send(b"".join(frames))
            else:
                try:
                    await asyncio.wait_for(sink.send(b"".join(frames)), self._batch_timeout)
                except TimeoutError:
                    self._drop(client, CloseReason.SLOW)
                    return False
        return within and client.last_sent_seq < horizon

    async def _pump(self, client: Connection, sink: Sink) -> None:
        while client.close_reason is None:
            if not client.queue:
                client.wakeup.clear()
                await client.wakeup.wait()
                continue
            # Take the whole queue: one write per wake-up, whatever the backlog.
            pending, client.queue = client.queue, deque()
            out: list[bytes] = []
            last = client.last_sent_seq
            for seq, event_type, frame in pending:
                if seq != _HEARTBEAT:
                    if seq <= last:
                        continue  # already sent by replay/snapshot
                    last = seq
                    self._sent_by_type[event_type] += 1
                out.append(frame)
            client.last_sent_seq = last
            if out:
                await sink.send(out[0] if len(out) == 1 else b"".join(out))

    # -- live feed ---------------------------------------------------------------------------

    def _dispatch(self, event: StoredEvent) -> None:
        self._head = event.seq
        self._dispatched += 1
        bucket = self._by_video.get(event.video_id)
        if not bucket and not self._all_videos:
            return
        entry = (event.seq, event.event_type, _frame(event))  # encoded once, shared
        slow: list[Connection] = []
        for group in (bucket or (), self._all_videos):
            for client in group:
                types = client.sub.types
                if types is not None and event.event_type not in types:
                    continue
                if len(client.queue) >= client.limit:
                    slow.append(client)
                    continue
                client.queue.append(entry)
                if len(client.queue) == 1:
                    client.wakeup.set()
        for client in slow:
            log.info("dropping slow SSE client (%d frames behind)", len(client.queue))
            self._drop(client, CloseReason.SLOW)

    def _schedule_heartbeat(self, client: Connection, interval: float) -> None:
        loop = asyncio.get_running_loop()

        def beat() -> None:
            if client.close_reason is not None:
                return
            # A client with frames pending is getting data anyway; a heartbeat would only
            # lengthen the backlog of one that is stuck.
            if not client.queue:
                data = HeartbeatEventDTO().model_dump_json()
                client.queue.append(
                    (_HEARTBEAT, "heartbeat", encode_event(data, event="heartbeat"))
                )
                client.wakeup.set()
            client.heartbeat_timer = loop.call_later(interval, beat)

        client.heartbeat_timer = loop.call_later(interval, beat)

    def _on_disconnect(self) -> None:
        # Clients reconnect (to any replica) with Last-Event-ID and lose nothing; holding
        # streams open would only make them wait on a feed that is not moving.
        for client in list(self._clients):
            self._drop(client, CloseReason.NATS_DISCONNECTED)


def _frame(event: StoredEvent) -> bytes:
    return encode_event(event.data, event=event.event_type, id=event.seq)
