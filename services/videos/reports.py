"""Events reported through the HTTP publish ingress, applied to the video record.

A program that cannot speak NATS reports its own pipeline's progress with
``POST /api/v2/events/publish``; the record follows, so the catalog agrees with the stream.
The rules keep the record's story coherent, like :mod:`services.videos.lifecycle` does for the
built-in workers:

- status only moves forward: QUEUED → PROCESSING → PROCESSED | FAILED; a settled video
  (PROCESSED or FAILED) takes no other status (409 ``already_settled``);
- within one status, progress never goes back (409 ``stale_progress``); the same report again
  (a retry) changes nothing and is accepted;
- ``summary.ready`` settles the video PROCESSED with its summary; a non-retryable ``error``
  settles it FAILED; a retryable one only changes the status message.
"""

from __future__ import annotations

from culto.errors import Conflict
from schemas.events import (
    ErrorEventDTO,
    PublishableEvent,
    SummaryReadyEventDTO,
    VideoStatusEventDTO,
)
from schemas.videos import ErrorInfo, VideoRecord, VideoStatus
from services.videos.lifecycle import NO_CHANGE, PROCESSED_MESSAGE, evolve

_ORDER = {
    VideoStatus.PENDING: 0,
    VideoStatus.QUEUED: 1,
    VideoStatus.PROCESSING: 2,
    VideoStatus.PROCESSED: 3,
    VideoStatus.FAILED: 3,
}
_SETTLED = frozenset({VideoStatus.PROCESSED, VideoStatus.FAILED})


def apply_report(record: VideoRecord, event: PublishableEvent) -> VideoRecord | None:
    """The record after ``event`` (``None``: nothing changes).

    Raises:
        Conflict: ``already_settled`` or ``stale_progress``.
    """
    if isinstance(event, VideoStatusEventDTO):
        return _status(record, event)
    if isinstance(event, SummaryReadyEventDTO):
        if record.status is VideoStatus.PROCESSED and record.summary == event.summary:
            return NO_CHANGE
        return evolve(
            record,
            status=VideoStatus.PROCESSED,
            progress=100,
            status_message=PROCESSED_MESSAGE,
            summary=event.summary,
            error=None,
        )
    return _error(record, event)


def _status(record: VideoRecord, event: VideoStatusEventDTO) -> VideoRecord | None:
    same = event.status is record.status
    if record.status in _SETTLED and not same:
        raise Conflict(
            f"video {record.id} is already {record.status}; it takes no {event.status} report",
            code="already_settled",
        )
    if _ORDER[event.status] < _ORDER[record.status] or (same and event.progress < record.progress):
        raise Conflict(
            f"video {record.id} is at {record.status} {record.progress}%; a report of"
            f" {event.status} {event.progress}% would move it backwards",
            code="stale_progress",
        )
    if same and event.progress == record.progress and event.message == record.status_message:
        return NO_CHANGE
    return evolve(
        record, status=event.status, progress=event.progress, status_message=event.message
    )


def _error(record: VideoRecord, event: ErrorEventDTO) -> VideoRecord | None:
    if event.retryable:
        if record.status in _SETTLED or record.status_message == event.message:
            return NO_CHANGE
        return evolve(record, status_message=event.message)
    if record.status is VideoStatus.PROCESSED:
        raise Conflict(
            f"video {record.id} is already PROCESSED; it takes no failure", code="already_settled"
        )
    info = ErrorInfo(code=event.code, message=event.message)
    if record.status is VideoStatus.FAILED and record.error == info:
        return NO_CHANGE
    return evolve(record, status=VideoStatus.FAILED, status_message=event.message, error=info)
