"""In-process fan-out of the live event feed to SSE clients, with gapless replay hand-off.

One :class:`~mesh.feed.LiveFeed` per process follows ``CULTO_EVENTS``; every event is encoded
once per transport (:class:`~frontend_server.events.conn.Framing`: SSE bytes, WebSocket JSON) and
the same bytes object is queued for each matching client of that transport. Clients are indexed
by the videos they name, by the channels they follow (``?channel_id=``: every video of the
channel, by the channel each event carries), and unfiltered ones by the channels they may read
(:mod:`frontend_server.events.index`), so dispatching an event costs O(matching clients).

Authorization (docs/contracts.md §9 "Event streams"): a connection carries its caller's
:class:`~access.policy.Principal`. Named videos are checked before the stream starts; live events
reach a client only through the groups its principal may read; history (replay and snapshot) is
filtered event by event with the same policy, so nothing of another channel reaches the wire.
:class:`~frontend_server.events.access.AccessGuard` ends streams whose caller loses access.

Joining (:meth:`EventHub.connect`, then :meth:`EventHub.attach`) is the heart of the module:

1. The client is registered first. ``horizon`` is the highest sequence the hub has dispatched at
   that moment; registration and dispatch both run synchronously on the event loop, so every
   event with sequence ``> horizon`` reaches the client's queue and none ``<= horizon`` does.
2. History ``<= horizon`` then comes from JetStream, without consumers
   (:mod:`frontend_server.events.history`): a replay after ``Last-Event-ID``, the current state of
   the named videos, or a ``stream.reset`` then the current state when the resume point is gone.
   While it is written, a full queue is discarded rather than fatal, and further rounds replay
   what it lost until one fits (``Phase.OVERFLOWED``): a client that reads fast enough always
   becomes live.
3. The writer remembers ``last_sent_seq`` and skips queued frames at or below it, so ids on a
   connection are strictly ascending with no gap and no duplicate.

A live client whose queue exceeds ``HubConfig.client_buffer`` frames is disconnected (it resumes
with ``Last-Event-ID``); the others are never slowed by it.

Writing live frames (the hot path): dispatch only appends the shared frame to each matching
client's queue. A live client's :class:`Sink` (a socket detached from Tornado,
:mod:`frontend_server.events.live`) is then marked dirty, and once per burst of events (one
``call_soon`` after the feed's callbacks, so a burst read from NATS in one go is coalesced)
:mod:`frontend_server.events.writes` writes each dirty client's whole queue in one write,
straight to its socket: no task switch, future or coroutine per client and event. A write the
socket does not take at once blocks that client (its frames wait in its bounded queue) until
the transport drains it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping

from access.policy import ANONYMOUS, Principal
from access.principals import Credential
from culto.errors import CultoError, MeshUnavailable, Unauthenticated
from culto.resources import AsyncResource
from frontend_server.config import HubConfig
from frontend_server.events.access import AccessGuard, HubAccess
from frontend_server.events.beats import NOWHERE, HeartbeatWheel
from frontend_server.events.conn import (
    MAX_VIDEOS_PER_CLIENT,
    CloseReason,
    Connection,
    Framing,
    Owner,
    Phase,
    Sink,
    Subscription,
)
from frontend_server.events.fence import IdentityFence
from frontend_server.events.follow import ChannelVideos, no_channel_videos
from frontend_server.events.framing import ENCODERS
from frontend_server.events.history import History, queue_reset
from frontend_server.events.index import StreamIndex
from frontend_server.events.sse.wire import encode_event
from frontend_server.events.stats import HubStats
from frontend_server.events.writes import HEARTBEAT, Writes
from frontend_server.security.auth import Authenticator
from mesh.connection import MeshConnection
from mesh.events import StoredEvent
from mesh.feed import LiveFeed
from mesh.replay import EventReader
from schemas.events import HeartbeatEventDTO

__all__ = [
    "MAX_VIDEOS_PER_CLIENT",
    "CloseReason",
    "Connection",
    "EventHub",
    "Framing",
    "HubStats",
    "Owner",
    "Sink",
    "Subscription",
]

log = logging.getLogger(__name__)


class EventHub(AsyncResource):
    """Owns the live feed and fans events out to connected SSE clients.

    Use as ``async with EventHub(mesh, config, authenticator=auth) as hub:``; :meth:`close`
    ends every stream.

    Args:
        mesh: The process's connection (the hub does not close it).
        config: ``client_buffer`` bounds each client's queue (frames).
        authenticator: The replica's authenticator; its directory must be open before the hub.
        reader: Reads history; defaults to an :class:`EventReader` on ``mesh``.
        channel_videos: Lists a followed channel's newest videos for a new connection's
            current state (:mod:`~frontend_server.events.follow`); by default none are listed.
    """

    def __init__(
        self,
        mesh: MeshConnection,
        config: HubConfig,
        *,
        authenticator: Authenticator,
        reader: EventReader | None = None,
        channel_videos: ChannelVideos = no_channel_videos,
    ) -> None:
        self._mesh = mesh
        self._limit = config.client_buffer
        self._reader = reader or EventReader(mesh)
        self._index = StreamIndex()
        self._clients: set[Connection] = set()
        self._access = HubAccess(authenticator)
        self._guard = AccessGuard(self._access, self._index, self._clients, self._drop)
        # Live events pass the identity fence: held while the directory is not known current.
        self._fence = IdentityFence(
            authenticator.directory,
            dispatch=self._dispatch,
            overflow=self._fence_overflow,
            settle=self._guard.settle,
        )
        self._feed = LiveFeed(
            mesh, self._fence.offer, on_recreated=self._recreated, on_fence=self._fence.require
        )
        self.stream_resets = 0
        self._head = 0
        self._started = False
        self._closed = False
        self._dispatched = 0
        self._slow_drops = 0
        self._sent_by_type: Counter[str] = Counter()
        self._history = History(
            self._reader,
            self._access,
            batch_timeout=config.replay_batch_timeout,
            head=lambda: self._head,
            drop=self._drop,
            sent_by_type=self._sent_by_type,
            channel_videos=channel_videos,
        )
        self._writes = Writes(self._sent_by_type, self._drop, config.write_timeout)
        self._wheels: dict[float, HeartbeatWheel[Connection]] = {}  # by heartbeat interval
        self._catching_up: set[asyncio.Task[None]] = set()  # history of attached connections
        self.replay_seconds = self._history.replay_seconds
        mesh.on_disconnect(self._on_disconnect)

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Follow the stream from its current end: history is served by replay, not the feed."""
        bounds = await self._reader.bounds()
        self._head = bounds.last
        self._guard.start()
        self._fence.start()
        await self._feed.start(self._head, created=bounds.created)
        self._started = True

    async def close(self) -> None:
        """End every open stream (clients resume elsewhere by ``Last-Event-ID``), stop the feed."""
        self._closed = True
        self._guard.stop()
        for client in list(self._clients):
            self._drop(client, CloseReason.SHUTDOWN)
        for wheel in self._wheels.values():
            wheel.close()
        for task in list(self._catching_up):
            task.cancel()
        await self._feed.stop()
        await self._fence.stop()

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
    def ws_frames_sent(self) -> int:
        """Live frames written to WebSocket connections (their ``messages_sent`` figure)."""
        return self._writes.ws_frames_sent

    @property
    def access(self) -> HubAccess:
        """The hub's policy questions (shared with its WebSocket sessions)."""
        return self._access

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
            replays=self._history.replays,
            resets=self._history.resets,
            catch_up_rounds=self._history.rounds,
            slow_client_drops=self._slow_drops,
            nats_reconnects=self._mesh.reconnects,
            healthy=self.healthy,
            revoked=self._guard.revoked,
            feed_resubscribes=self._feed.resubscribes,
            held_events=self._fence.holding,
            fence_marks_waited=self._fence.marks_waited,
        )

    # -- serving one client ------------------------------------------------------------------

    def connect(
        self,
        sub: Subscription,
        *,
        principal: Principal = ANONYMOUS,
        video_channels: Mapping[str, str | None] | None = None,
        heartbeat_interval: float | None = None,
        abort: Callable[[], None] | None = None,
        client_key: str = "",
        framing: Framing = Framing.SSE,
        credential: Credential | None = None,
    ) -> Connection:
        """Authorise and register a client; from this instant its queue collects every matching
        live event it may read.

        Args:
            sub: The client's filters and resume point.
            principal: Who streams (refreshed here: a credential revoked while the caller
                looked its videos up is refused).
            video_channels: The channel of each video of ``sub`` (missing or ``None``: the
                video has no record, which only a principal reading everything may name).
            heartbeat_interval: Seconds between heartbeat frames (``None``: none).
            abort: Called when the client is dropped as slow, to break a write that is stuck
                on a full socket (e.g. close the connection).
            client_key: Who the client is (user id, else address): one client is sent a few
                histories at a time (``hub_history.REPLAYS_PER_CLIENT``).
            framing: The client's transport (how its events are encoded).
            credential: The caller's credential as presented (``None``: anonymous), for the
                video catalog, which lists a followed channel's videos as the caller may read
                them (the current state).

        Raises:
            MeshUnavailable: if the hub is not serving (closed or NATS down).
            Unauthenticated: the credential is gone, or an anonymous caller named a video or
                channel it may not read.
            NotFound: a signed-in caller named a video or channel it may not read (or that does
                not exist: the same answer, word for word).
        """
        if not self.healthy:
            raise MeshUnavailable("live events are unavailable: not connected to NATS")
        fresh = self._access.refresh(principal)
        if fresh is None:
            raise Unauthenticated("this credential was revoked or has expired")
        known = video_channels or {}
        channels = {video: known.get(video) for video in sub.videos or ()}
        self._access.authorize(fresh, channels, sub.channels or ())
        conn = Connection(
            sub,
            limit=self._limit,
            abort=abort,
            key=client_key,
            principal=fresh,
            video_channels=channels,
            framing=framing,
        )
        conn.credential = credential
        # Synchronous: no event can be dispatched between reading the head and indexing, and
        # no identity change between the checks above and indexing.
        conn.horizon = self._head
        self._clients.add(conn)
        placement = self._access.placement(fresh) if sub.wide else conn.placement
        self._index.add(conn, placement)
        if heartbeat_interval:
            self._wheel(heartbeat_interval).add(conn)
        return conn

    def attach(self, conn: Connection, sink: Sink, owner: Owner) -> None:
        """Serve ``conn`` into ``sink`` with no task of its own once it is live.

        History (if any) is sent by a short-lived task; then the hub writes ``sink`` straight
        from its dispatch (``Writes.flush``) and no coroutine, future or timer of this connection
        is left: an idle stream costs the objects it is made of. ``owner.ended`` is called
        once, when the hub drops the connection for any reason (``CLIENT_GONE`` after
        :meth:`disconnect` or a failed write; ``FAILED`` when its history cannot be read).
        """
        conn.owner = owner
        if conn.close_reason is not None:
            conn.owner = None
            owner.ended(conn.close_reason)
            return
        if conn.phase is Phase.LIVE:  # nothing to replay: live at once, synchronously
            conn.direct = sink
            self._writes.write(conn)
            return
        task = asyncio.get_running_loop().create_task(self._catch_up(conn, sink))
        self._catching_up.add(task)
        task.add_done_callback(self._catching_up.discard)

    async def _catch_up(self, conn: Connection, sink: Sink) -> None:
        try:
            await self._history.send(conn, sink)
        except CultoError as exc:
            log.warning("event stream history failed: %s", exc.message)
            self._drop(conn, CloseReason.FAILED)
            return
        except OSError:
            self._drop(conn, CloseReason.CLIENT_GONE)  # the socket failed mid-write
            return
        except asyncio.CancelledError:
            self._drop(conn, CloseReason.CLIENT_GONE)
            raise
        if conn.close_reason is None:
            conn.direct = sink  # LIVE (synchronous with the last check of its history)
            self._writes.write(conn)

    def disconnect(self, conn: Connection) -> None:
        """The client went away: unregister it (its owner is told, see :meth:`attach`)."""
        self._drop(conn, CloseReason.CLIENT_GONE)

    def _drop(self, client: Connection, reason: CloseReason) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        self._index.remove(client)
        client.close_reason = reason
        client.queue.clear()
        client.direct = None
        if client.stall_timer is not None:
            client.stall_timer.cancel()
            client.stall_timer = None
        if client.beat_slot != NOWHERE:
            for wheel in self._wheels.values():
                wheel.remove(client)
        if reason is CloseReason.SLOW:
            self._slow_drops += 1
            if client.abort is not None:
                client.abort()
        owner, client.owner = client.owner, None
        if owner is not None:
            owner.ended(reason)

    # -- live feed ---------------------------------------------------------------------------

    def _dispatch(self, event: StoredEvent) -> None:
        self._head = event.seq
        self._dispatched += 1
        channel = event.channel_id
        groups = self._index.wide_groups(channel)  # disjoint from each other and from `named`
        named = self._index.named(event.video_id, channel)
        if named:
            groups.append(named)
        if not groups:
            return
        # Encoded once per transport, lazily (ENCODERS), and the bytes shared by its clients.
        entries: dict[Framing, tuple[int, str, bytes]] = {}
        slow: list[Connection] = []
        for group in groups:
            for client in group:
                types = client.sub.types
                if types is not None and event.event_type not in types:
                    continue
                queue = client.queue
                if len(queue) >= client.limit:
                    slow.append(client)
                    continue
                entry = entries.get(client.framing)
                if entry is None:
                    frame = ENCODERS[client.framing](event)
                    entry = entries[client.framing] = (event.seq, event.event_type, frame)
                queue.append(entry)
                if len(queue) == 1:
                    self._writes.wake(client)
        for client in slow:
            self._overflow(client)

    def _overflow(self, client: Connection) -> None:
        """``client``'s queue is full: drop it if live, else discard the queue and let its
        history replay what was discarded (``hub_history``: the catch-up converges)."""
        if client.phase is Phase.LIVE:
            log.info("dropping slow SSE client (%d frames behind)", len(client.queue))
            self._drop(client, CloseReason.SLOW)
            return
        client.queue.clear()
        client.phase = Phase.OVERFLOWED

    def _wheel(self, interval: float) -> HeartbeatWheel[Connection]:
        wheel = self._wheels.get(interval)
        if wheel is None:
            wheel = self._wheels[interval] = HeartbeatWheel(interval, self._beat)
        return wheel

    def _beat(self, due: list[Connection]) -> None:
        """One bucket's heartbeats: one frame (one timestamp) for all of them."""
        entry = (HEARTBEAT, "heartbeat", _heartbeat_frame())
        for client in due:
            # A client with frames pending is getting data anyway; a heartbeat would only
            # lengthen the backlog of one that is stuck.
            if client.close_reason is None and not client.queue:
                client.queue.append(entry)
                self._writes.wake(client)

    def _recreated(self, first: int, last: int) -> None:
        """``CULTO_EVENTS`` was recreated (the feed follows it from its first event): a live
        client gets a ``stream.reset`` before the new stream's events (:func:`queue_reset`);
        one still catching up is ended (its resume point is judged anew on reconnect)."""
        self._head = 0
        self.stream_resets += 1
        for client in list(self._clients):
            if client.phase is not Phase.LIVE:
                self._drop(client, CloseReason.NATS_DISCONNECTED)
            elif queue_reset(client, first, last):
                self._writes.wake(client)

    def _fence_overflow(self) -> None:
        for client in list(self._clients):  # they resume once the directory is current again
            self._drop(client, CloseReason.NATS_DISCONNECTED)
        self._feed.rewind(self._head)  # the discarded events come again

    def _on_disconnect(self) -> None:
        # Clients reconnect (to any replica) with Last-Event-ID and lose nothing; holding
        # streams open would only make them wait on a feed that is not moving.
        for client in list(self._clients):
            self._drop(client, CloseReason.NATS_DISCONNECTED)


def _heartbeat_frame() -> bytes:
    return encode_event(HeartbeatEventDTO().model_dump_json(), event="heartbeat")
