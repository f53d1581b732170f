"""Request/reply envelopes of the video API service over NATS."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import VideoId
from schemas.videos import VideoListQuery


class VideoRef(BaseModel):
    """Names one video (get and delete requests)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: VideoId


class StagedRequest(BaseModel):
    """A request kept in the object store because it is over one NATS message's size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    staged: str = Field(pattern=r"^[0-9a-f]{32}$")


class ErrorBody(BaseModel):
    """``{"code", "message"}`` as used in every JSON error."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorReply(BaseModel):
    """The body of a failed request: ``{"error": {"code", "message"}}``."""

    model_config = ConfigDict(frozen=True)

    error: ErrorBody


class ListRequest(VideoListQuery):
    """A list request as the edge sends it: the caller's filters, and the channels it may read
    (``None``: every channel, for an admin). The HTTP query cannot set ``channels``."""

    channels: list[str] | None = Field(default=None, max_length=100_000)
