"""What the HTTP publish ingress answered per ``Idempotency-Key``: retries get the original
answer, a reused key with another body is refused, whatever happened in between.

JetStream's duplicate window alone is not enough: it lasts two minutes, and the ingress must
decide *before* it changes the video's record (a retry of an earlier report after later ones
would otherwise be refused as stale progress, and a key reused with another body would change
the record and then be answered as a duplicate). Bucket ``culto_ingress`` (created by ``culto
provision``), key ``<channel id>.<sha256 of the Idempotency-Key>`` (any header value becomes a
valid key; channels keep their keys apart), value :class:`IngressRecord`; entries are forgotten
after :data:`INGRESS_TTL`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict

from culto.errors import Conflict, NotFound
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.subjects import INGRESS_BUCKET

INGRESS_TTL = 86400.0
"""Seconds a key is remembered (a day: a worker's retries come within minutes)."""


class IngressRecord(BaseModel):
    """The answer given to the first request with one key, and what that request carried."""

    model_config = ConfigDict(frozen=True)

    body_sha256: str
    seq: int


def body_digest(event: Mapping[str, object]) -> str:
    """The SHA-256 of a reported event (keys sorted: JSON object order is not meaning), so a
    retry compares equal and another event does not. Its ``timestamp`` is left out: the edge
    stamps an event that came without one, so a retry of it would differ there alone."""
    body = {k: v for k, v in event.items() if k != "timestamp"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def ingress_key(channel_id: str, idempotency_key: str) -> str:
    """``<channel>.<sha256 hex>``: the header's value never becomes a key itself."""
    return f"{channel_id}.{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


class IngressKeys:
    """Reads and records answers (the API role).

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    async def _bucket(self) -> KeyValue:
        return await self._mesh.key_value(INGRESS_BUCKET)

    async def find(self, channel_id: str, idempotency_key: str) -> IngressRecord | None:
        """What the first request with this key was answered, if it was."""
        kv = await self._bucket()
        try:
            with nats_errors("reading an idempotency key"):
                entry = await kv.get(ingress_key(channel_id, idempotency_key))
        except NotFound:
            return None
        if entry.value is None:
            return None
        return IngressRecord.model_validate_json(entry.value)

    async def remember(
        self, channel_id: str, idempotency_key: str, record: IngressRecord
    ) -> IngressRecord:
        """Keep the answer; when a concurrent request with the same key won, its answer."""
        kv = await self._bucket()
        key = ingress_key(channel_id, idempotency_key)
        try:
            with nats_errors("recording an idempotency key"):
                await kv.create(key, record.model_dump_json().encode())
        except Conflict:
            return await self.find(channel_id, idempotency_key) or record
        return record
