"""The HTTP publish ingress, API side: authorize, validate a reported event, update the record,
publish.

The caller's own ``publish`` token came with the request; this side resolves it, reads the
video's record and asks the policy whether that token may publish in the record's channel (the
edge checked too, but is not trusted). Then it applies the report to the record with
compare-and-set (:mod:`services.videos.reports`) and publishes the event with the caller's
``Idempotency-Key`` as ``Nats-Msg-Id``: a retry inside JetStream's duplicate window returns the
original sequence with ``duplicate: true`` and publishes nothing.
"""

from __future__ import annotations

from pydantic import ValidationError

from culto.errors import InvalidInput, NotFound
from mesh.connection import MeshConnection
from mesh.events import EventPublisher
from mesh.principals import MeshAuthenticator
from mesh.rpc import Call
from mesh.rpc.protocol import validation_message
from mesh.videos import VideoStore
from schemas.events import PUBLISHABLE_EVENT_ADAPTER, PublishableEvent
from schemas.identity import DEFAULT_CHANNEL_ID, PublishAccepted, PublishCall
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
        await self._store.update(event.video_id, lambda rec: apply_report(rec, event))
        key = call.body.idempotency_key
        msg_id = f"ingress:{channel_id}:{key}" if key else None
        result = await self._events.publish(event, channel_id=channel_id, msg_id=msg_id)
        return PublishAccepted(seq=result.seq, duplicate=result.duplicate)


def _event(raw: dict[str, object]) -> PublishableEvent:
    try:
        return PUBLISHABLE_EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInput(f"event: {validation_message(exc)}", code="invalid_event") from None
