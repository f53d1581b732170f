"""Event envelopes: what workers publish on ``culto.events.<video_id>.<type>`` and SSE sends.

All events form one discriminated union on ``type``; :func:`parse_event` decodes any of them.

Adding an event type: its class here, its name in :data:`EventType` and its class in
:data:`VideoEvent`. Everything else is derived: :data:`EVENT_TYPES` (subjects, replay, filters),
the OpenAPI ``types`` pattern, the JSON Schema and ``dtos.ts``; an import-time check and a test
(``tests/schemas/test_event_types.py``) fail when the three declarations disagree.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.ids import VideoId
from schemas.summary import SummaryDTO
from schemas.timestamps import UtcDatetime, utc_now
from schemas.videos import VideoStatus

EventType = Literal["video.status", "summary.ready", "error", "video.deleted"]
"""The name of a stored event's type (the last token of its subject)."""


class _Event(BaseModel):
    # Each subclass declares ``type`` then ``timestamp`` so the JSON reads type-first (§7).
    model_config = ConfigDict(frozen=True, extra="ignore")


class VideoStatusEventDTO(_Event):
    """Progress of one video through the pipeline."""

    type: Literal["video.status"] = "video.status"
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    video_id: VideoId
    status: VideoStatus
    progress: int = Field(ge=0, le=100)
    message: str = ""


class SummaryReadyEventDTO(_Event):
    """The analysis of a video is stored and ready."""

    type: Literal["summary.ready"] = "summary.ready"
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    video_id: VideoId
    summary: SummaryDTO


class ErrorEventDTO(_Event):
    """Processing failed (``retryable`` says whether the pipeline will try again)."""

    type: Literal["error"] = "error"
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    video_id: VideoId
    code: str
    message: str
    stage: str | None = None
    retryable: bool = False


class VideoDeletedEventDTO(_Event):
    """The video and its artifacts were removed."""

    type: Literal["video.deleted"] = "video.deleted"
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    video_id: VideoId


class HeartbeatEventDTO(_Event):
    """SSE keep-alive; never stored in JetStream."""

    type: Literal["heartbeat"] = "heartbeat"
    timestamp: UtcDatetime = Field(default_factory=utc_now)


ResetReason = Literal["trimmed", "unknown_id"]


class StreamResetEventDTO(_Event):
    """The stream could not resume where the client asked (docs/contracts.md §7); never stored.

    Sent without an id, before the current state of the client's videos: ``trimmed`` when
    retention removed events after ``requested`` (the oldest left is ``first_available``),
    ``unknown_id`` when ``requested`` is beyond the stream's ``last`` sequence (the stream was
    recreated). Events may have been missed: reload what the page shows, then follow live.
    """

    type: Literal["stream.reset"] = "stream.reset"
    timestamp: UtcDatetime = Field(default_factory=utc_now)
    requested: int = Field(ge=0, description="The Last-Event-ID the client resumed from.")
    first_available: int = Field(ge=0, description="The oldest sequence the stream holds.")
    last: int = Field(ge=0, description="The stream's last sequence when the client joined.")
    reason: ResetReason


VideoEvent = Annotated[
    VideoStatusEventDTO | SummaryReadyEventDTO | ErrorEventDTO | VideoDeletedEventDTO,
    Field(discriminator="type"),
]
"""Any event stored in ``CULTO_EVENTS``."""

AnyEvent = Annotated[
    VideoStatusEventDTO
    | SummaryReadyEventDTO
    | ErrorEventDTO
    | VideoDeletedEventDTO
    | HeartbeatEventDTO
    | StreamResetEventDTO,
    Field(discriminator="type"),
]
"""Any event an SSE client can receive."""

STORED_EVENT_CLASSES: tuple[type[BaseModel], ...] = get_args(get_args(VideoEvent)[0])
EVENT_TYPES: tuple[EventType, ...] = tuple(
    cls.model_fields["type"].default for cls in STORED_EVENT_CLASSES
)
"""Every stored event type, in declaration order, derived from :data:`VideoEvent`."""
if set(EVENT_TYPES) != set(get_args(EventType)):  # a type added to one list but not the other
    raise TypeError(f"EventType {get_args(EventType)} and VideoEvent {EVENT_TYPES} disagree")

# Stored events' JSON strings are not cached: pydantic-core keeps up to 16,384 parsed strings
# process-wide (~1 MiB), and nearly every value of an event is new (its timestamp, its ids), so
# that cache only filled for minutes and showed as steady growth in the churn soak (README,
# "Churn soak"). Keys only: ~1 µs more per decode.
VIDEO_EVENT_ADAPTER: TypeAdapter[VideoEvent] = TypeAdapter(
    VideoEvent, config=ConfigDict(cache_strings="keys")
)
ANY_EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(data: bytes | str) -> VideoEvent:
    """Decode a stored event.

    Raises:
        pydantic.ValidationError: when ``data`` is not a valid event.
    """
    return VIDEO_EVENT_ADAPTER.validate_json(data)


PublishableEvent = Annotated[
    VideoStatusEventDTO | SummaryReadyEventDTO | ErrorEventDTO,
    Field(discriminator="type"),
]
"""What the HTTP publish ingress accepts (``video.deleted`` belongs to the API service)."""

PUBLISHABLE_EVENT_ADAPTER: TypeAdapter[PublishableEvent] = TypeAdapter(PublishableEvent)
