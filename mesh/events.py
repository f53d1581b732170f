"""Typed, idempotent publishing of video events and tolerant decoding of stored ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from nats.aio.msg import Msg
from pydantic import ValidationError

from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.subjects import EVENTS_STREAM, event_subject, parse_event_subject
from schemas.events import VideoEvent, VideoStatusEventDTO, parse_event
from schemas.videos import VideoStatus

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Where an event landed; ``duplicate`` when the msg-id had been stored already."""

    seq: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event read back from ``CULTO_EVENTS`` with its stream sequence.

    ``data`` is the JSON exactly as stored, so the frontend can frame it without re-encoding.
    """

    seq: int
    subject: str
    video_id: str
    event_type: str
    data: bytes
    event: VideoEvent
    time: datetime | None = None


class EventPublisher:
    """Publishes events to ``culto.events.<video_id>.<type>``.

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    async def publish(self, event: VideoEvent, *, msg_id: str | None = None) -> PublishResult:
        """Store one event; with ``msg_id`` a retry inside the duplicate window is a no-op.

        Raises:
            InvalidInput: if the event's video id is not a valid subject token.
            MeshError: if JetStream does not acknowledge.
        """
        subject = event_subject(event.video_id, event.type)
        headers = {MSG_ID_HEADER: msg_id} if msg_id else None
        with nats_errors(f"publishing {event.type} for {event.video_id}"):
            ack = await self._mesh.js.publish(
                subject, event.model_dump_json().encode(), stream=EVENTS_STREAM, headers=headers
            )
        return PublishResult(seq=ack.seq, duplicate=bool(ack.duplicate))

    async def publish_status(
        self, video_id: str, status: VideoStatus, progress: int, message: str, *, msg_id: str
    ) -> PublishResult:
        """Publish a ``video.status`` event (always with a msg-id: status reports are retried)."""
        event = VideoStatusEventDTO(
            video_id=video_id, status=status, progress=progress, message=message
        )
        return await self.publish(event, msg_id=msg_id)


def decode_event(
    seq: int, subject: str, data: bytes, time: datetime | None = None
) -> StoredEvent | None:
    """Decode a stored event; a malformed one is logged and ``None`` is returned (skip it)."""
    parsed = parse_event_subject(subject)
    if parsed is None:
        log.warning("skipping event seq=%s on unexpected subject %r", seq, subject[:120])
        return None
    try:
        event = parse_event(data)
    except ValidationError as exc:
        log.warning("skipping malformed event seq=%s on %s: %s", seq, subject, _first_error(exc))
        return None
    if event.video_id != parsed[0] or event.type != parsed[1]:
        log.warning("skipping event seq=%s: body does not match subject %s", seq, subject)
        return None
    # Re-encoded from the validated DTO, never relayed as stored: fields a publisher added
    # (forged or from a newer version) do not reach a browser. Our own publishers write this
    # very encoding, so honest events come out byte for byte as they went in.
    canonical = event.model_dump_json().encode()
    return StoredEvent(seq, subject, parsed[0], parsed[1], canonical, event, time)


def decode_js_msg(msg: Msg) -> StoredEvent | None:
    """Decode a JetStream-delivered message (push or pull); ``None`` if malformed."""
    meta = msg.metadata
    return decode_event(meta.sequence.stream, msg.subject, msg.data, meta.timestamp)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg', '')}" if loc else str(first.get("msg", ""))
