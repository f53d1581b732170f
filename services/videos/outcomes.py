"""Settling a job as failed: the record (through the lifecycle) and its two events.

Used by the worker (a stage failed for good) and by the API service (JetStream abandoned a job
whose workers kept dying), so both say it the same way, once.
"""

from __future__ import annotations

import logging

from culto.errors import CultoError, JobCancelled, NotFound
from mesh.events import EventPublisher, channel_of
from mesh.replay import EventReader
from mesh.videos import VideoStore
from schemas.events import ErrorEventDTO
from schemas.videos import ErrorInfo, VideoRecord, VideoStatus
from services.videos import lifecycle

log = logging.getLogger(__name__)


async def fail_job(
    store: VideoStore,
    events: EventPublisher,
    reader: EventReader,
    *,
    video_id: str,
    job_id: str,
    error: CultoError,
    stage: str | None,
) -> VideoRecord | None:
    """Mark the job's video FAILED and publish ``video.status`` FAILED plus ``error``.

    Returns the failed record, or ``None`` when the job is stale (deleted, re-queued or
    already finished): then nothing of this job is left to mark.

    The events are published when this call failed the record, and also when the record was
    already FAILED but the stream does not say so yet (a caller died between the two steps);
    their msg ids make a retry inside the duplicate window a no-op.
    """
    info = ErrorInfo(code=error.code, message=error.message)
    try:
        failed = await store.update(video_id, lambda rec: lifecycle.fail(rec, job_id, info))
    except (NotFound, JobCancelled):
        return None
    if not failed.changed:
        latest = await reader.latest([video_id], ["video.status"])
        if latest and getattr(latest[-1].event, "status", None) is VideoStatus.FAILED:
            return failed.record
    log.warning("video %s failed in %s: %s", video_id, stage or "queue", error.message)
    prefix = f"{video_id}:{job_id}"
    channel = channel_of(failed.record.channel_id)
    await events.publish_status(
        video_id,
        VideoStatus.FAILED,
        failed.record.progress,
        error.message,
        channel_id=channel,
        msg_id=f"{prefix}:failed",
    )
    await events.publish(
        ErrorEventDTO(
            video_id=video_id,
            code=error.code,
            message=error.message,
            stage=stage or None,
            retryable=False,
        ),
        channel_id=channel,
        msg_id=f"{prefix}:error",
    )
    return failed.record
