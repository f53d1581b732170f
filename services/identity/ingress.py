"""The HTTP publish ingress, API side: validate a reported event, update the record, publish.

The edge has already checked the caller's ``publish`` token against the video's channel; this
side re-reads the record (the channel must still match), applies the report to it with
compare-and-set (:mod:`services.videos.reports`), then publishes the event with the caller's
``Idempotency-Key`` as ``Nats-Msg-Id``: a retry inside JetStream's duplicate window returns the
original sequence with ``duplicate: true`` and publishes nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from culto.errors import InvalidInput, NotFound
from mesh.connection import MeshConnection
from mesh.events import EventPublisher
from mesh.videos import VideoStore
from schemas.events import PUBLISHABLE_EVENT_ADAPTER, PublishableEvent, VideoStatusEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID, PublishAccepted, PublishCall
from schemas.videos import VideoRecord, VideoStatus
from services.api.endpoints import parse_request, validation_message
from services.videos.reports import apply_report


class Ingress:
    """Serves the ``publish`` verb of the identity service.

    Args:
        mesh: The API role's connection.
        store: Video records.
    """

    def __init__(self, mesh: MeshConnection, store: VideoStore) -> None:
        self._store = store
        self._events = EventPublisher(mesh)

    async def publish(self, data: bytes) -> BaseModel:
        """Validate, apply to the record, publish; the reply says where the event landed.

        Raises:
            InvalidInput: 422 — not a publishable event, or no such video in the channel.
            Conflict: 409 — the report would move the video backwards.
        """
        call = parse_request(PublishCall, data)
        event = _event(call.event)
        try:
            current = await self._store.get(event.video_id)
        except NotFound:
            current = None
        channel = current.record.channel_id or DEFAULT_CHANNEL_ID if current else None
        if channel != call.channel_id:
            raise InvalidInput(
                f"video {event.video_id} is not a video of channel {call.channel_id}",
                code="unknown_video",
            )
        updated = await self._store.update(event.video_id, lambda rec: apply_report(rec, event))
        if updated.changed and not isinstance(event, VideoStatusEventDTO):
            await self._announce_settled(updated.record, call.channel_id)
        msg_id = (
            f"ingress:{call.channel_id}:{call.idempotency_key}" if call.idempotency_key else None
        )
        result = await self._events.publish(event, channel_id=call.channel_id, msg_id=msg_id)
        return PublishAccepted(seq=result.seq, duplicate=result.duplicate)

    async def _announce_settled(self, record: VideoRecord, channel_id: str) -> None:
        """A report that settled the video (a summary, a failure) is preceded by its
        ``video.status`` PROCESSED or FAILED, as the built-in workers do, so a client that
        follows statuses sees the end too. Once per job (the msg id is the workers')."""
        if record.status not in (VideoStatus.PROCESSED, VideoStatus.FAILED):
            return
        done = "processed" if record.status is VideoStatus.PROCESSED else "failed"
        await self._events.publish_status(
            record.id,
            record.status,
            record.progress,
            record.status_message,
            channel_id=channel_id,
            msg_id=f"{record.id}:{record.job_id}:{done}",
        )


def _event(raw: dict[str, object]) -> PublishableEvent:
    try:
        return PUBLISHABLE_EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInput(f"event: {validation_message(exc)}", code="invalid_event") from None
