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

from culto.errors import Conflict, NotFound
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.subjects import CURSORS_BUCKET
from schemas.cursors import CursorRecord

CURSOR_TTL = 30 * 86400.0
"""Seconds a cursor lives after its last acknowledgement (30 days)."""
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
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            with nats_errors(f"opening KV bucket {CURSORS_BUCKET}"):
                self._kv = await self._mesh.js.key_value(CURSORS_BUCKET)
        return self._kv

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

    async def advance(self, user_id: str, name: str, seq: int) -> int:
        """Store ``seq`` unless the cursor is already there or beyond; returns the stored value.

        Raises:
            Conflict: still losing races after :data:`MAX_ATTEMPTS` (the next flush retries).
        """
        key = cursor_key(user_id, name)
        kv = await self._bucket()
        value = CursorRecord(seq=seq).model_dump_json().encode()
        for attempt in range(MAX_ATTEMPTS):
            found = await self._read(key)
            try:
                with nats_errors(f"advancing cursor {key}"):
                    if found is None:
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
