"""Pydantic v2 DTOs and event envelopes: the single source of truth for every boundary."""

from schemas.api import ErrorBody, ErrorReply, VideoRef
from schemas.events import (
    ANY_EVENT_ADAPTER,
    EVENT_TYPES,
    VIDEO_EVENT_ADAPTER,
    AnyEvent,
    ErrorEventDTO,
    EventType,
    HeartbeatEventDTO,
    StreamResetEventDTO,
    SummaryReadyEventDTO,
    VideoDeletedEventDTO,
    VideoEvent,
    VideoStatusEventDTO,
    parse_event,
)
from schemas.ids import VideoId, YoutubeId, is_video_id, new_video_id
from schemas.jobs import ProcessJob
from schemas.summary import BiblePassageDTO, CitationDTO, Language, SummaryDTO
from schemas.timestamps import UtcDatetime, format_utc, utc_now
from schemas.transcripts import Transcript, TranscriptSegment, TranscriptSource
from schemas.videos import (
    ErrorInfo,
    TranscriptFormat,
    TranscriptInput,
    VideoCreate,
    VideoDTO,
    VideoListQuery,
    VideoPage,
    VideoRecord,
    VideoStatus,
)

__all__ = [
    "ANY_EVENT_ADAPTER",
    "EVENT_TYPES",
    "VIDEO_EVENT_ADAPTER",
    "AnyEvent",
    "BiblePassageDTO",
    "CitationDTO",
    "ErrorBody",
    "ErrorEventDTO",
    "ErrorInfo",
    "ErrorReply",
    "EventType",
    "HeartbeatEventDTO",
    "Language",
    "ProcessJob",
    "StreamResetEventDTO",
    "SummaryDTO",
    "SummaryReadyEventDTO",
    "Transcript",
    "TranscriptFormat",
    "TranscriptInput",
    "TranscriptSegment",
    "TranscriptSource",
    "UtcDatetime",
    "VideoCreate",
    "VideoDTO",
    "VideoDeletedEventDTO",
    "VideoEvent",
    "VideoId",
    "VideoListQuery",
    "VideoPage",
    "VideoRecord",
    "VideoRef",
    "VideoStatus",
    "VideoStatusEventDTO",
    "YoutubeId",
    "format_utc",
    "is_video_id",
    "new_video_id",
    "parse_event",
    "utc_now",
]
