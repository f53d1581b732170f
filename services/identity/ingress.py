"""The HTTP publish ingress, API side: authorize, validate a reported event, update the record,
publish.

The caller's own ``publish`` token came with the request; this side resolves it, reads the
video's record and asks the policy whether that token may publish in the record's channel (the
edge checked too, but is not trusted). Then it applies the report to the record with
compare-and-set (:mod:`services.videos.reports`) and publishes the event with the caller's
``Idempotency-Key`` as ``Nats-Msg-Id``.

A key is deduplicated *before* the record changes (:mod:`mesh.idempotency`, a day long): a retry
with the same body gets the original answer (its sequence, ``duplicate: true``) even after later
reports moved the video on; the same key with another body is a 422 ``idempotency_key_reused``
and changes nothing. Two identical requests at once both reach the publish, where JetStream's
duplicate window stores the event once and answers both with one sequence.
"""

from __future__ import annotations

from pydantic import ValidationError

from culto.errors import InvalidInput, NotFound
from mesh.connection import MeshConnection
from mesh.events import EventPublisher
from mesh.idempotency import IngressKeys, IngressRecord, body_digest
from mesh.principals import MeshAuthenticator
from mesh.rpc import Call
from mesh.rpc.protocol import validation_message
from mesh.videos import VideoStore
from schemas.events import PUBLISHABLE_EVENT_ADAPTER, PublishableEvent, VideoStatusEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID, PublishAccepted, PublishCall
from schemas.videos import VideoRecord, VideoStatus
from services.videos.reports import apply_report


class Ingress:
    """Serves the ``publish`` verb of the identity service.

    Args:
        mesh: The API role's connection.
        authenticate: The role's resolver (channels for the policy).
    """

    def __init__(self, mesh: MeshConnection, authenticate: MeshAuthenticator) -> None:
        self._store = VideoStore(mesh)
        self._events = EventPublisher(mesh)
        self._keys = IngressKeys(mesh)
        self._channels = authenticate.channel

    async def publish(self, call: Call[PublishCall]) -> PublishAccepted:
        """Authorize, validate, apply to the record, publish; the reply says where it landed.

        Raises:
            Unauthenticated, Forbidden: not a publish token of an editor of the channel.
            InvalidInput: 422 — not a publishable event, or no such video in a channel the
                token knows (``unknown_video``: the same answer for both).
            Conflict: 409 — the report would move the video backwards.
        """
        event = _event(call.body.event)
        try:
            current = await self._store.get(event.video_id)
        except NotFound:
            current = None
        channel_id = current.record.channel_id or DEFAULT_CHANNEL_ID if current else None
        try:
            call.require(await self._channels(channel_id), what=f"video {event.video_id}")
        except NotFound:
            raise InvalidInput(
                f"video {event.video_id} is not a video of this token's channel",
                code="unknown_video",
            ) from None
        assert channel_id is not None  # require() refuses a missing channel
        key = call.body.idempotency_key
        digest = body_digest(call.body.event)
        if key and (earlier := await self._keys.find(channel_id, key)) is not None:
            return _replayed(earlier, digest)
        updated = await self._store.update(event.video_id, lambda rec: apply_report(rec, event))
        if updated.changed and not isinstance(event, VideoStatusEventDTO):
            await self._announce_settled(updated.record, channel_id)
        msg_id = f"ingress:{channel_id}:{key}" if key else None
        result = await self._events.publish(event, channel_id=channel_id, msg_id=msg_id)
        if key:
            answer = IngressRecord(body_sha256=digest, seq=result.seq)
            await self._keys.remember(channel_id, key, answer)
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


def _replayed(earlier: IngressRecord, digest: str) -> PublishAccepted:
    """The answer to a key seen before: the original one, or 422 for another body."""
    if earlier.body_sha256 != digest:
        raise InvalidInput(
            "Idempotency-Key: this key was used with another event; use a new key per event",
            code="idempotency_key_reused",
        )
    return PublishAccepted(seq=earlier.seq, duplicate=True)


def _event(raw: dict[str, object]) -> PublishableEvent:
    try:
        return PUBLISHABLE_EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInput(f"event: {validation_message(exc)}", code="invalid_event") from None
