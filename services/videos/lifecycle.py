"""The video lifecycle: every change to a :class:`VideoRecord`, as pure validated transitions.

::

    draft ──queue──▶ QUEUED ──start──▶ PROCESSING ──progress*──▶ … ──finish──▶ PROCESSED
                        ▲                  └──────────fail──────────▶ FAILED
                        └───────────── queue (reprocess: a new job) ◀── any status
    any ──cancel──▶ no job (the API deletes the record next)

Invariants kept here, so the API service and the workers cannot break them:

- **A transition acts for one job.** ``start``, ``progress``, ``finish`` and ``fail`` name the
  job; a record that belongs to another job (re-queued), to none (cancelled) or that this job
  already settled the other way raises :class:`~culto.errors.JobCancelled` — a stale job is
  dropped, never applied.
- **Idempotent redelivery.** A transition the record already reflects returns
  :data:`NO_CHANGE` (``None``): ``start`` on PROCESSING, ``finish`` on PROCESSED, ``fail`` on
  FAILED. So a redelivered job finishes with at most one PROCESSED write: exactly one per job.
- **Progress never goes back**, and its message always describes the percentage shown: an
  older report (lower percent) changes nothing at all.
- **Every result is validated** (``progress`` 0-100, known fields only): ``model_copy`` would
  accept ``progress=500`` or a misspelt key silently.

Every function is pure: the caller reads the record, applies a transition inside
``VideoStore.update`` (compare-and-set) and publishes the matching event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from culto.errors import JobCancelled
from schemas.summary import SummaryDTO
from schemas.timestamps import utc_now
from schemas.videos import (
    ErrorInfo,
    Processing,
    TranscriptFormat,
    VideoCreate,
    VideoRecord,
    VideoStatus,
)

NO_CHANGE: Final = None
"""Returned when the record already reflects the transition (nothing to write or publish)."""

QUEUED_MESSAGE = "Queued for processing"
EXTERNAL_MESSAGE = "Waiting for the external worker's first report"
PROCESSED_MESSAGE = "Processing complete"
_FIELDS = frozenset(VideoRecord.model_fields)


def evolve(record: VideoRecord, now: datetime | None = None, **changes: Any) -> VideoRecord:
    """A validated copy of ``record`` with ``changes`` and a fresh ``updated_at``."""
    unknown = set(changes) - _FIELDS
    if unknown:
        raise TypeError(f"unknown VideoRecord field(s): {', '.join(sorted(unknown))}")
    data = record.model_dump()
    data.update(changes, updated_at=now or utc_now())
    return VideoRecord.model_validate(data)


def _own(record: VideoRecord, job_id: str) -> None:
    if record.job_id != job_id:
        what = "deleted" if record.job_id is None else "re-queued"
        raise JobCancelled(f"video {record.id} was {what}; job {job_id} is stale")


def draft(video_id: str, body: VideoCreate, *, now: datetime | None = None) -> VideoRecord:
    """A new PENDING record for a submit request (not stored until queued)."""
    at = now or utc_now()
    return VideoRecord(
        id=video_id,
        youtube_id=body.youtube_id,
        url=str(body.url) if body.url else None,
        title=body.title,
        description=body.description,
        channel_id=body.channel_id,
        processing=body.processing,
        status=VideoStatus.PENDING,
        created_at=at,
        updated_at=at,
    )


def queue(
    record: VideoRecord,
    job_id: str,
    *,
    title: str | None = None,
    transcript_format: TranscriptFormat | None = None,
    processing: Processing | None = None,
    now: datetime | None = None,
) -> VideoRecord:
    """Give the record a new job: QUEUED at 0 %, previous outcome cleared.

    Args:
        record: A draft, or any stored record (reprocessing).
        job_id: The new job; every older job becomes stale.
        title: A new title (kept when ``None``).
        transcript_format: Format of a transcript sent with this request; ``None`` keeps the
            one submitted before (if any).
        processing: Who processes it this time (``None`` keeps the record's). An external
            video's job is never queued: the id only marks this round of processing.
    """
    if not job_id or job_id == record.job_id:
        raise ValueError("queue needs a new job id")
    inline = transcript_format is not None
    who = processing or record.processing
    return evolve(
        record,
        now,
        status=VideoStatus.QUEUED,
        progress=0,
        status_message=queued_message(who),
        processing=who,
        error=None,
        summary=None,
        job_id=job_id,
        title=title or record.title,
        transcript_format=transcript_format if inline else record.transcript_format,
        has_inline_transcript=inline or record.has_inline_transcript,
    )


def queued_message(processing: Processing) -> str:
    """What a QUEUED video says while it waits for a worker (built-in or external)."""
    return EXTERNAL_MESSAGE if processing is Processing.EXTERNAL else QUEUED_MESSAGE


def start(record: VideoRecord, job_id: str, *, now: datetime | None = None) -> VideoRecord | None:
    """QUEUED (or a redelivered PROCESSING) → PROCESSING.

    Raises:
        JobCancelled: the record belongs to another job, or this job already settled it.
    """
    _own(record, job_id)
    if record.status is VideoStatus.PROCESSING:
        return NO_CHANGE
    if record.status is not VideoStatus.QUEUED:
        raise JobCancelled(f"video {record.id} is already {record.status}; job {job_id} is done")
    return evolve(record, now, status=VideoStatus.PROCESSING, error=None)


def progress(
    record: VideoRecord,
    job_id: str,
    percent: int | None,
    message: str,
    *,
    now: datetime | None = None,
) -> VideoRecord | None:
    """A progress report while PROCESSING; ``percent=None`` keeps the bar and changes the text.

    A report below the recorded percentage is stale (an earlier stage of a redelivered job):
    it changes nothing, so the bar and its message never disagree.

    Raises:
        JobCancelled: the record belongs to another job or is no longer PROCESSING.
        ValueError: ``percent`` outside 0-100.
    """
    if percent is not None and not 0 <= percent <= 100:
        raise ValueError(f"progress must be 0-100, got {percent}")
    _own(record, job_id)
    if record.status is not VideoStatus.PROCESSING:
        raise JobCancelled(f"video {record.id} is {record.status}; job {job_id} cannot report")
    if percent is not None and percent < record.progress:
        return NO_CHANGE
    pct = record.progress if percent is None else percent
    if pct == record.progress and message == record.status_message:
        return NO_CHANGE
    return evolve(record, now, progress=pct, status_message=message)


def finish(
    record: VideoRecord, job_id: str, summary: SummaryDTO, *, now: datetime | None = None
) -> VideoRecord | None:
    """PROCESSING → PROCESSED with the summary, once per job.

    Raises:
        JobCancelled: the record belongs to another job, or the job failed meanwhile.
    """
    _own(record, job_id)
    if record.status is VideoStatus.PROCESSED:
        return NO_CHANGE
    if record.status is not VideoStatus.PROCESSING:
        raise JobCancelled(f"video {record.id} is {record.status}; job {job_id} cannot finish")
    return evolve(
        record,
        now,
        status=VideoStatus.PROCESSED,
        progress=100,
        status_message=PROCESSED_MESSAGE,
        summary=summary,
        error=None,
    )


def fail(
    record: VideoRecord, job_id: str, error: ErrorInfo, *, now: datetime | None = None
) -> VideoRecord | None:
    """QUEUED or PROCESSING → FAILED with the reason, once per job.

    Raises:
        JobCancelled: the record belongs to another job, or the job finished meanwhile.
    """
    _own(record, job_id)
    if record.status is VideoStatus.FAILED:
        return NO_CHANGE
    if record.status is VideoStatus.PROCESSED:
        raise JobCancelled(f"video {record.id} is PROCESSED; job {job_id} cannot fail it")
    return evolve(record, now, status=VideoStatus.FAILED, status_message=error.message, error=error)


def cancel(record: VideoRecord, *, now: datetime | None = None) -> VideoRecord | None:
    """Detach the record from its job, so a running worker drops it at its next step."""
    if record.job_id is None:
        return NO_CHANGE
    return evolve(record, now, job_id=None)
