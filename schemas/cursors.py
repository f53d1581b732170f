"""Acknowledged cursors and the WebSocket messages (docs/contracts.md §10).

A cursor is the last stream sequence a user acknowledged under a name of its choosing; it lives
in the KV bucket ``culto_cursors`` (key ``<user id>.<name>``) and only ever moves forward.
The WebSocket messages are JSON text frames discriminated on ``op``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.events import VideoEvent
from schemas.identity import ChannelId, CredentialText
from schemas.ids import VideoId
from schemas.timestamps import UtcDatetime, utc_now

CURSOR_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_SEQ = 2**63 - 1
"""JetStream sequences are uint64; anything above an int64 is certainly not one of ours."""

CursorName = Annotated[str, Field(pattern=CURSOR_NAME_PATTERN, examples=["inbox"])]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]


class CursorAck(BaseModel):
    """``POST /api/v2/events/ack``: the caller processed every event up to ``seq``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cursor: CursorName
    seq: Seq


class CursorRecord(BaseModel):
    """The value stored under ``<user id>.<name>`` in ``culto_cursors``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: Seq
    updated_at: UtcDatetime = Field(default_factory=utc_now)


class CursorPosition(BaseModel):
    """One cursor of one caller, as flushed by an edge: the caller's own credential names the
    user (the identity service resolves it; an edge cannot move another user's cursor)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credential: CredentialText
    cursor: CursorName
    seq: Seq


class CursorAckCall(BaseModel):
    """The identity service's ``cursor_ack`` verb: an edge's coalesced acks of one flush."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acks: list[CursorPosition] = Field(max_length=10_000)


# -- SSE: the stream's query ------------------------------------------------------------------


class EventStreamQuery(BaseModel):
    """The query of ``GET /api/v2/events/stream`` (docs/contracts.md §7), for clients that build
    the URL: ``?channel_id=A&channel_id=B&video_id=…&types=video.status,summary.ready``.

    ``video_id`` and ``channel_id`` repeat (``videos``/``channels`` take comma lists instead);
    an event matches when its video is named or the channel it belongs to is followed; neither
    means every video the caller may read. ``types`` is a comma list. ``Last-Event-ID`` (a
    header) wins over ``last_event_id``, which wins over ``cursor``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    video_id: list[VideoId] = Field(default_factory=list, max_length=200)
    channel_id: list[ChannelId] = Field(
        default_factory=list,
        max_length=50,
        description="Follow these channels: every event of every video of each, videos"
        " created after the stream opened included; a video moved out or deleted stops.",
    )
    types: str | None = Field(default=None, examples=["video.status,summary.ready"])
    last_event_id: Seq | None = None
    cursor: CursorName | None = None


# -- WebSocket: client → server ---------------------------------------------------------------


class WsSubscribe(BaseModel):
    """Follow more videos and/or channels (neither: every readable video); ``since``/``cursor``
    replay the *new* videos' and channels' history after that sequence first. ``types``
    replaces the socket's type filter.

    ``since`` may also be per video, ``{"<video id>": seq}`` (named videos only): each resumes
    after its own position, and one without an entry gets its current state. Per video, a
    socket's events are always ascending and gapless, so each video's highest ``seq`` received
    is an exact resume point, also while an added video's older history was still arriving.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["subscribe"]
    videos: list[str] = Field(default_factory=list, max_length=1000)
    channels: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Channels to follow: every event of every video of each (videos created"
        " later included; a video moved out or deleted stops).",
    )
    types: list[str] | None = Field(default=None, max_length=10)
    since: Seq | dict[str, Seq] | None = Field(default=None)
    cursor: CursorName | None = None


class WsUnsubscribe(BaseModel):
    """Stop following these videos and/or channels (neither: everything; the socket stays
    open)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["unsubscribe"]
    videos: list[str] = Field(default_factory=list, max_length=1000)
    channels: list[str] = Field(default_factory=list, max_length=1000)


class WsAck(BaseModel):
    """Acknowledge every event up to ``seq`` under the cursor ``cursor``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["ack"]
    cursor: CursorName
    seq: Seq


WsClientMessage = Annotated[WsSubscribe | WsUnsubscribe | WsAck, Field(discriminator="op")]
"""Any message a WebSocket client sends."""
WS_CLIENT_ADAPTER: TypeAdapter[WsClientMessage] = TypeAdapter(WsClientMessage)


# -- WebSocket: server → client ---------------------------------------------------------------


class WsEvent(BaseModel):
    """One stored event; ``seq`` is its JetStream sequence (ascending per video)."""

    model_config = ConfigDict(frozen=True)

    op: Literal["event"] = "event"
    seq: Seq
    event: VideoEvent


class WsSubscribed(BaseModel):
    """A subscription change was accepted; the new videos' and channels' history (if any)
    follows.

    ``videos`` and ``channels`` are the socket's whole filter after the change (``all``: every
    readable video); ``head`` is the last sequence this replica had seen when it accepted it.
    """

    model_config = ConfigDict(frozen=True)

    op: Literal["subscribed"] = "subscribed"
    videos: list[str]
    channels: list[str] = Field(default_factory=list)
    all: bool = False
    head: Seq


class WsReset(BaseModel):
    """A resume point could not be honoured (as SSE ``stream.reset``): nothing is skipped
    silently; the current state follows."""

    model_config = ConfigDict(frozen=True)

    op: Literal["reset"] = "reset"
    requested: Seq
    first_available: Seq
    last: Seq
    reason: Literal["trimmed", "unknown_id"]


class WsError(BaseModel):
    """A request was refused; the socket stays open unless the client keeps misbehaving."""

    model_config = ConfigDict(frozen=True)

    op: Literal["error"] = "error"
    code: str
    message: str


WsServerMessage = Annotated[WsEvent | WsSubscribed | WsReset | WsError, Field(discriminator="op")]
"""Any message the server sends on the WebSocket."""
