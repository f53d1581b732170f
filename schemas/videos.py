"""Video catalog DTOs: status, the public record, and the submit request."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.ids import VideoId, YoutubeId
from schemas.summary import SummaryDTO
from schemas.timestamps import UtcDatetime


class VideoStatus(StrEnum):
    """Where a video is in the pipeline."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


class Processing(StrEnum):
    """Who processes a submitted video.

    ``internal``: the built-in workers (a job on ``CULTO_JOBS``). ``external``: a program of
    the church's own reports the video's progress and summary through the HTTP publish ingress
    (``POST /api/v2/events/publish``) or NATS; no job is queued and no built-in worker touches
    the video, which waits QUEUED for the first report.
    """

    INTERNAL = "internal"
    EXTERNAL = "external"


TranscriptFormat = Literal["txt", "vtt", "srt"]


class TranscriptInput(BaseModel):
    """A transcript sent with the submit request, so the pipeline can run offline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: TranscriptFormat = "txt"
    content: str = Field(min_length=1)


class VideoCreate(BaseModel):
    """``POST /api/v2/videos/`` body.

    Give ``youtube_id`` or ``url`` (or both), and/or a ``transcript``. A transcript alone is a
    valid submission (a pasted sermon); it then needs a ``title``, since nothing else names it.
    """

    # The validators' rule, stated in the JSON Schema too, so clients (and fuzzers) generating
    # from the OpenAPI document know it: a source is required, and a transcript alone needs a
    # non-blank title.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["youtube_id"], "properties": {"youtube_id": {"type": "string"}}},
                {"required": ["url"], "properties": {"url": {"type": "string"}}},
                {
                    "required": ["transcript", "title"],
                    "properties": {
                        "transcript": {"type": "object"},
                        "title": {"type": "string", "pattern": "\\S"},
                    },
                },
            ]
        },
    )

    youtube_id: YoutubeId | None = None
    url: HttpUrl | None = None
    transcript: TranscriptInput | None = None
    # After the sources, so its validator sees them (``info.data``) and the error names "title".
    title: str | None = Field(default=None, max_length=500, validate_default=True)
    description: str | None = Field(default=None, max_length=10_000)
    channel_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    reprocess: bool = Field(
        default=False, description="Process again even if this youtube_id is already known"
    )
    processing: Processing = Field(
        default=Processing.INTERNAL,
        description="internal: the built-in workers process the video; external: no job is"
        " queued, and a program of yours reports its progress and summary through"
        " POST /api/v2/events/publish",
    )

    @field_validator("title")
    @classmethod
    def _title_names_a_pasted_sermon(cls, title: str | None, info: ValidationInfo) -> str | None:
        title = title.strip() if title else None
        data = info.data
        if not title and data.get("transcript") and not (data.get("youtube_id") or data.get("url")):
            raise ValueError("give a title: a transcript without a video needs one")
        return title or None

    @model_validator(mode="after")
    def _needs_a_source(self) -> VideoCreate:
        if self.youtube_id is None and self.url is None and self.transcript is None:
            raise ValueError("give a youtube_id or url, or a transcript")
        return self


class ErrorInfo(BaseModel):
    """Why a video failed."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class VideoDTO(BaseModel):
    """A video as the API shows it (``summary`` once PROCESSED)."""

    model_config = ConfigDict(frozen=True)

    id: VideoId
    youtube_id: YoutubeId | None = None
    url: str | None = None
    title: str | None = None
    description: str | None = None
    channel_id: str | None = None
    processing: Processing = Processing.INTERNAL
    status: VideoStatus
    progress: int = Field(default=0, ge=0, le=100)
    status_message: str = ""
    error: ErrorInfo | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    summary: SummaryDTO | None = None


class VideoRecord(VideoDTO):
    """What the ``culto_videos`` KV bucket stores: the DTO plus pipeline bookkeeping."""

    job_id: str | None = None
    transcript_format: TranscriptFormat | None = None
    has_inline_transcript: bool = False

    def public(self) -> VideoDTO:
        """The record without internal fields."""
        return VideoDTO.model_validate(self.model_dump(include=set(VideoDTO.model_fields)))


class VideoPage(BaseModel):
    """One page of ``GET /api/v2/videos/``; pass ``next_cursor`` back as ``cursor``."""

    model_config = ConfigDict(frozen=True)

    items: list[VideoDTO]
    next_cursor: str | None = None
    total: int = Field(ge=0, description="Videos matching the filters")


CURSOR_PATTERN = r"^[0-9]{1,16}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
"""A list cursor: every string of this shape is a valid position (see the catalog)."""


class VideoListQuery(BaseModel):
    """Filters and paging of a list request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: VideoStatus | None = None
    channel_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(
        default=None,
        pattern=CURSOR_PATTERN,
        description="next_cursor of the previous page: <created_at µs since epoch>_<video id>",
    )
