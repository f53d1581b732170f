"""Request/reply envelopes of the video API service over NATS."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.ids import VideoId
from schemas.videos import VideoCreate


class VideoRef(BaseModel):
    """Names one video (get and delete requests)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: VideoId


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


class CreateRequest(BaseModel):
    """The ``create`` verb: the submit itself, or a reference to it in ``culto_staging`` when
    it is over one NATS message's size (a long transcript)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    video: VideoCreate | None = None
    staged: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")

    @model_validator(mode="after")
    def _one(self) -> CreateRequest:
        if (self.video is None) == (self.staged is None):
            raise ValueError("give either video or staged")
        return self
