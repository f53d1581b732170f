"""Work items on the ``CULTO_JOBS`` work-queue stream."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import VideoId
from schemas.timestamps import UtcDatetime, utc_now


class ProcessJob(BaseModel):
    """Process one video. ``job_id`` ties the job to the record it was queued for.

    A job whose ``job_id`` no longer matches the record (deleted, or re-queued) is dropped.
    """

    model_config = ConfigDict(frozen=True)

    video_id: VideoId
    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    queued_at: UtcDatetime = Field(default_factory=utc_now)
