"""The identity fence, ordered in the event stream: revocations placed among the events.

A frontend dispatches a live event only once its identity view is known to hold every change
stored before that event (``frontend_server/events/fence.py``). Its clock rule alone leaves a
window: an event stored within the clock margin after a revocation the view missed could pass.
Ordering closes it. After every write that may take access away (a token revoked, a session
ended, a membership removed or lowered, a channel made private, a password changed), the
identity writer stores a :class:`FenceMark` in ``CULTO_EVENTS`` before it answers: the identity
buckets' last sequences at that moment. The stream orders the mark before every event stored
after the revocation, so a frontend that reads it holds whatever follows until its view has
applied those sequences (and ended the streams the change revoked).

The mark's subject, :data:`~mesh.subjects.FENCE_SUBJECT` (``culto.events.fence``), is inside the
events stream (nothing to provision) and matched by the live feed's ``culto.events.>``, but by no
history filter (``culto.events.<video>.…`` or ``culto.events.*.>``): it never reaches a client.
Only roles that may write identity may publish it (``mesh.permissions``).
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from culto.errors import MeshError
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.kv_mirror import bucket_last
from mesh.retry import retry_within
from mesh.subjects import EVENTS_STREAM, FENCE_SUBJECT, IDENTITY_BUCKET, SESSIONS_BUCKET

log = logging.getLogger(__name__)


class FenceMark(BaseModel):
    """The identity buckets' last sequences when an access-narrowing write was stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity: int = Field(ge=0)
    sessions: int = Field(ge=0)

    def join(self, other: FenceMark) -> FenceMark:
        """The mark that asks for both."""
        return FenceMark(
            identity=max(self.identity, other.identity),
            sessions=max(self.sessions, other.sessions),
        )


def read_mark(data: bytes) -> FenceMark | None:
    """The mark in a fence message; ``None`` (logged) if it is not one."""
    try:
        return FenceMark.model_validate_json(data)
    except ValidationError:
        log.warning("ignoring a malformed identity fence (%d bytes)", len(data))
        return None


async def store_fence(mesh: MeshConnection) -> int:
    """Store a mark of the identity buckets as they are now; its stream sequence.

    Call it after the write is stored and before answering the caller.

    Raises:
        MeshError: a bucket cannot be asked, or the stream does not acknowledge.
    """
    mark = FenceMark(
        identity=await bucket_last(mesh, IDENTITY_BUCKET),
        sessions=await bucket_last(mesh, SESSIONS_BUCKET),
    )
    data = mark.model_dump_json().encode()

    async def once() -> int:
        with nats_errors("storing the identity fence"):
            ack = await mesh.js.publish(FENCE_SUBJECT, data, stream=EVENTS_STREAM)
        return int(ack.seq)

    return await retry_within(once, what="storing the identity fence")


async def fence_after_write(mesh: MeshConnection) -> None:
    """:func:`store_fence`, for a write that is already stored: a failure is logged, not
    raised (the frontends' clock rule still holds, and the caller's change did happen)."""
    try:
        await store_fence(mesh)
    except MeshError as exc:
        log.warning("identity change stored without its fence (%s)", exc.message)
