"""What one event-stream connection is: its filters, its caller, its queue and why it ended.

Split out of :mod:`frontend_server.events.hub` so the hub's index
(:mod:`frontend_server.events.index`)
and its access rules (:mod:`frontend_server.events.access`) can name a connection without importing
the hub itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from access.policy import Principal
from access.principals import Credential
from culto.errors import InvalidInput
from mesh.subjects import event_filters
from schemas.identity import CHANNEL_ID_PATTERN

MAX_VIDEOS_PER_CLIENT = 200
"""Upper bound on video filters of one connection (each becomes a replay filter subject)."""
MAX_CHANNELS_PER_CLIENT = 50
"""Upper bound on channel filters of one connection (each costs a video list for the late
joiner's snapshot; a church follows one, a diocese a few dozen)."""
_CHANNEL_ID = re.compile(CHANNEL_ID_PATTERN)


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
    REVOKED = "revoked"
    """The caller lost access to what it streams: its token was revoked, its session logged
    out, its role removed, its user deleted, or a channel it streams turned private."""
    EXPIRED = "expired"
    """The caller's token or session expired while the stream was open."""
    FAILED = "failed"
    """Its history could not be read (JetStream failed): the client resumes."""


class Framing(Enum):
    """How a connection's events are framed on its transport (encoded once per event and
    transport, see ``EventHub._dispatch``)."""

    SSE = "sse"
    """``id:``/``event:``/``data:`` blocks
    (:func:`frontend_server.events.sse.wire.encode_event`)."""
    WS = "ws"
    """One WebSocket text frame per event, framed whole
    (:func:`frontend_server.events.ws.wire.encode_ws_event`): a batch of them is written as is."""


class Phase(Enum):
    """Where a connection stands between history and live (see ``hub_history``)."""

    CATCHING_UP = "catching_up"
    """History is being sent; live events above ``horizon`` queue up to the buffer's bound."""
    OVERFLOWED = "overflowed"
    """The queue hit its bound while catching up and was discarded: another round of history
    must replay what it lost."""
    LIVE = "live"
    """The queue holds every matching event above what was sent; over its bound the client is
    dropped as slow."""


class Sink(Protocol):
    """Where a client's bytes go (the HTTP response in production, a list in unit tests)."""

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait until the transport has taken it (this paces the writer)."""


class DirectSink(Sink, Protocol):
    """A sink the hub may write to synchronously from its dispatch (the HTTP response).

    Live frames then go out without a task switch per client: the hub writes every client that
    has frames once per burst of events (see ``EventHub._flush``).
    """

    def push(self, data: bytes) -> asyncio.Future[None] | None:
        """Start writing ``data`` now, without waiting.

        Returns:
            ``None`` when the transport took all of it; otherwise a future that completes when
            it has (or fails when the connection is gone). Until it completes nothing more is
            pushed: frames wait in the connection's bounded queue, as they wait behind a
            pending ``send``.
        """


class Owner(Protocol):
    """Who answers for a connection served without a task of its own (``EventHub.attach``):
    a detached stream, or a WebSocket's session."""

    def ended(self, reason: CloseReason) -> None:
        """The hub dropped the connection (once, synchronously, from inside the hub)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """What one connection asked for; build it with :meth:`parse` (which validates).

    ``videos`` and ``channels`` are the two kinds of filter (docs/contracts.md §7): an event
    matches if its video is named, or if the channel it carries (``Culto-Channel``) is
    followed. Neither (both ``None``): every video the caller may read (a *wide* connection).
    """

    videos: frozenset[str] | None
    types: frozenset[str] | None
    last_event_id: int | None
    filters: tuple[str, ...] = field(repr=False)
    channels: frozenset[str] | None = None

    @classmethod
    def parse(
        cls,
        video_ids: Iterable[str] = (),
        event_types: Iterable[str] = (),
        last_event_id: int | None = None,
        channel_ids: Iterable[str] = (),
    ) -> Subscription:
        """Validate filters; empty ``video_ids``/``channel_ids``/``event_types`` mean all.

        Raises:
            InvalidInput: for a malformed video or channel id, an unknown type, too many
                videos or channels, or a negative ``last_event_id``.
        """
        videos = frozenset(video_ids)
        types = frozenset(event_types)
        channels = frozenset(channel_ids)
        if len(videos) > MAX_VIDEOS_PER_CLIENT:
            raise InvalidInput(f"at most {MAX_VIDEOS_PER_CLIENT} videos per event stream")
        if len(channels) > MAX_CHANNELS_PER_CLIENT:
            raise InvalidInput(f"at most {MAX_CHANNELS_PER_CLIENT} channels per event stream")
        for channel in sorted(channels):
            if not _CHANNEL_ID.fullmatch(channel):
                raise InvalidInput(
                    f"invalid channel id {channel[:70]!r}: expected 1-64 letters, digits,"
                    " '_' or '-'"
                )
        if last_event_id is not None and last_event_id < 0:
            raise InvalidInput("last event id must be a non-negative integer")
        filters = tuple(event_filters(videos, types))  # the single place ids are validated
        if channels:
            # A channel's videos are not in the subject (only in a header): replay reads every
            # video's events and keeps the matching ones (``matches``).
            filters = tuple(event_filters((), types))
        return cls(videos or None, types or None, last_event_id, filters, channels or None)

    @property
    def wide(self) -> bool:
        """No video and no channel filter: every video the caller may read."""
        return self.videos is None and self.channels is None

    def matches(self, video_id: str, channel_id: str) -> bool:
        """Whether an event of ``video_id`` carrying ``channel_id`` is one this subscription
        names (types aside; a wide one names everything, readability aside)."""
        if self.videos is None and self.channels is None:
            return True
        return (self.videos is not None and video_id in self.videos) or (
            self.channels is not None and channel_id in self.channels
        )


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an unfiltered connection sits in the hub's index (see ``hub_index``).

    The three parts never overlap for one event, so no client is reached twice:

    Attributes:
        admin: In the admins' group: the principal reads every channel.
        public: In the public group: it reads every public channel (not a channel-bound token).
        channels: Channels indexed one by one: the private channels it reads, plus the public
            ones it reads although it does not follow every public channel (a bound token).
    """

    admin: bool = False
    public: bool = False
    channels: frozenset[str] = frozenset()


_NO_CHANNELS: dict[str, str | None] = {}
"""The ``video_channels`` of every connection that names no video (never written to)."""

NOWHERE = Placement()
"""The placement of a connection with video or channel filters (indexed by those only)."""


class Connection:
    """One client's queue, cursor and caller, made by ``EventHub.connect`` (slotted: thousands
    of these live at once, so nothing is allocated per connection that an idle one does not
    need: no ``asyncio.Event``, a waiter future only while its writer sleeps).

    Attributes:
        queue: ``(seq, event_type, frame)`` entries not written yet, in dispatch order; at most
            ``limit`` (past that the client is dropped as slow).
        waiter: The future the writer sleeps on (``EventHub._pump``); resolved on new frames
            (task-driven sinks) and when the connection ends.
        direct: Set while the hub writes this client directly (a :class:`DirectSink` that is
            live); ``None`` during history and for task-driven sinks.
        owner: Told when the hub drops the connection (``EventHub.attach``), else ``None``.
        beat_slot: Its bucket in the hub's heartbeat wheel (``beats.NOWHERE``: none).
        blocked: A direct write is still pending: nothing more is pushed until it completes.
        principal: Who streams; replaced in place when the directory changes (``refresh``).
        credential: Its credential as presented (``None``: anonymous), passed on to the video
            catalog for a followed channel's current state; never logged.
        everything: ``principal.reads_everything()``, cached for the hot path.
        video_channels: For a connection with video filters: each video's channel as it was
            authorised (``None``: no record, allowed only while ``everything``). A live event
            of such a video reaches the client only if it carries that channel.
        follows: The channels it follows (``sub.channels``, empty when none): a live event
            carrying one of them reaches it through the index's followers of that channel,
            never a second time through its video filter.
        placement: For an unfiltered connection: its groups in the index.
        framing: How its events are encoded (its transport).
    """

    __slots__ = (
        "abort",
        "beat_slot",
        "blocked",
        "close_reason",
        "credential",
        "direct",
        "everything",
        "follows",
        "framing",
        "horizon",
        "key",
        "last_sent_seq",
        "limit",
        "owner",
        "phase",
        "placement",
        "principal",
        "queue",
        "resets",
        "stall_timer",
        "sub",
        "video_channels",
        "waiter",
    )

    def __init__(
        self,
        sub: Subscription,
        limit: int,
        abort: Callable[[], None] | None,
        key: str,
        principal: Principal,
        video_channels: Mapping[str, str | None],
        framing: Framing = Framing.SSE,
    ) -> None:
        self.sub = sub
        self.framing = framing
        self.key = key
        self.limit = limit
        self.abort = abort
        self.principal = principal
        self.everything = principal.reads_everything()
        # Shared when empty (unfiltered or admin streams): thousands of idle connections.
        self.video_channels = dict(video_channels) if video_channels else _NO_CHANNELS
        self.follows = sub.channels or frozenset()
        self.credential: Credential | None = None
        self.placement = NOWHERE
        # A list, not a deque: it is only appended to and emptied whole, and an empty list
        # is 56 bytes where an empty deque is over 600 (thousands of idle connections).
        self.queue: list[tuple[int, str, bytes]] = []
        self.waiter: asyncio.Future[None] | None = None
        self.direct: DirectSink | None = None
        self.owner: Owner | None = None
        self.blocked = False
        self.stall_timer: asyncio.TimerHandle | None = None
        self.resets = 0
        self.last_sent_seq = 0
        self.close_reason: CloseReason | None = None
        self.beat_slot = -1  # beats.NOWHERE
        self.horizon = 0
        # A connection without history is live from the start: nothing may be discarded.
        history = sub.last_event_id is not None or not sub.wide
        self.phase = Phase.CATCHING_UP if history else Phase.LIVE
