"""Acknowledged cursors in NATS KV: read by the edge, moved forward (CAS) by the API role.

Bucket ``culto_cursors`` (created by ``culto provision``), key ``<user id>.<cursor name>``,
value :class:`~schemas.cursors.CursorRecord`. A cursor belongs to a *user*, not to a credential:
every token and session of one user resumes from the same cursors ("from any device").

Invariant: a stored cursor never moves backwards. :meth:`CursorStore.advance` is a
compare-and-set loop on the key's revision that writes only a larger sequence, so two edges
flushing acks of the same cursor at once keep the larger one, whatever the order.
The bucket's ``max_age`` (:data:`CURSOR_TTL`) forgets a cursor nobody acknowledged for that long.
"""

from __future__ import annotations

import asyncio
import random

from nats.js.kv import KeyValue

from culto.errors import Conflict, NotFound, QuotaExceeded
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.kv_scan import scan
from mesh.subjects import CURSORS_BUCKET
from schemas.cursors import CursorRecord

CURSOR_TTL = 30 * 86400.0
"""Seconds a cursor lives after its last acknowledgement (30 days)."""
MAX_CURSORS_PER_USER = 100
"""Cursors one user may hold: a client that names a new cursor per ack cannot fill the bucket
(whose ``max_bytes`` is the backstop, see ``mesh.provision``)."""
MAX_ATTEMPTS = 50


def cursor_key(user_id: str, name: str) -> str:
    """``<user id>.<name>`` (both validated by their DTOs: no dots, wildcards or spaces)."""
    return f"{user_id}.{name}"


class CursorStore:
    """Reads (any role that may read the bucket) and forward-only writes (the API role).

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    async def _bucket(self) -> KeyValue:
        return await self._mesh.key_value(CURSORS_BUCKET)

    async def _read(self, key: str) -> tuple[CursorRecord, int] | None:
        kv = await self._bucket()
        try:
            with nats_errors(f"reading cursor {key}"):
                entry = await kv.get(key)  # a direct get: the bucket allows it
        except NotFound:
            return None
        if entry.value is None:
            return None
        return CursorRecord.model_validate_json(entry.value), entry.revision or 0

    async def read(self, user_id: str, name: str) -> int | None:
        """The last acknowledged sequence of ``(user_id, name)``; ``None`` if none is stored."""
        found = await self._read(cursor_key(user_id, name))
        return None if found is None else found[0].seq

    async def count(self, user_id: str) -> int:
        """How many cursors ``user_id`` holds (a server-side filtered watch of its keys)."""
        return len(await scan(self._mesh, CURSORS_BUCKET, f"{user_id}.*", headers_only=True))

    async def check_quota(self, user_id: str, name: str) -> None:
        """Refuse a new cursor beyond :data:`MAX_CURSORS_PER_USER`.

        Raises:
            QuotaExceeded: ``too_many_cursors``.
        """
        if await self._read(cursor_key(user_id, name)) is not None:
            return
        if await self.count(user_id) >= MAX_CURSORS_PER_USER:
            raise QuotaExceeded(
                f"this user already has {MAX_CURSORS_PER_USER} cursors: reuse a cursor name"
                " (cursors nobody acknowledges are forgotten after 30 days)",
                code="too_many_cursors",
            )

    async def advance(self, user_id: str, name: str, seq: int) -> int:
        """Store ``seq`` unless the cursor is already there or beyond; returns the stored value.

        Raises:
            Conflict: still losing races after :data:`MAX_ATTEMPTS` (the next flush retries).
            QuotaExceeded: a new cursor beyond :data:`MAX_CURSORS_PER_USER`.
        """
        key = cursor_key(user_id, name)
        kv = await self._bucket()
        value = CursorRecord(seq=seq).model_dump_json().encode()
        for attempt in range(MAX_ATTEMPTS):
            found = await self._read(key)
            try:
                with nats_errors(f"advancing cursor {key}"):
                    if found is None:
                        await self.check_quota(user_id, name)
                        await kv.create(key, value)
                    elif found[0].seq >= seq:
                        return found[0].seq  # never backwards: an older ack changes nothing
                    else:
                        await kv.update(key, value, last=found[1])
            except Conflict:
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return seq
        raise Conflict(f"cursor {key} is being updated concurrently; try again")
