"""One pass over a KV bucket's current entries, with an end that cannot come early.

nats-py's one-shot reads (``kv.keys()``, a ``watch``/``watchall`` iterated to its ``None``
marker) decide "nothing stored" when the watch consumer's info says nothing is pending and the
*client* has received nothing yet. The server may already have sent the entries (which is why
nothing is pending) while they are still on their way to the client, so that marker can come
first and the read ends empty: measured 1 in 500 ``watchall`` passes on an idle machine; under
load a listing of videos came back empty, and a password change would then have left the
user's other sessions alive.

The scan here decides with the server's own count instead: an ordered consumer delivering the
last message per key, and its info's *delivered* sequence. Nothing delivered and nothing pending
means no matching entry; otherwise the pass ends with the message that has nothing pending
after it (as the video catalog's :class:`~mesh.kv_mirror.KvMirror` does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from nats.aio.msg import Msg
from nats.js import api

from culto.errors import MeshUnavailable
from mesh.connection import MeshConnection
from mesh.errors import nats_errors

SCAN_TIMEOUT = 30.0
"""Seconds a pass may take before it is refused (the mesh is then unavailable)."""


@dataclass(frozen=True, slots=True)
class ScannedEntry:
    """A key's current value (``b""`` when the scan read headers only) and its revision."""

    key: str
    value: bytes
    revision: int


async def scan(
    mesh: MeshConnection, bucket: str, keys: str = ">", *, headers_only: bool = False
) -> list[ScannedEntry]:
    """Every current entry of ``bucket`` whose key matches ``keys`` (deleted keys left out).

    Args:
        mesh: The connection.
        bucket: The KV bucket.
        keys: A key filter (NATS wildcards), validated by the caller.
        headers_only: Leave the values out (listing or counting keys).

    Raises:
        MeshUnavailable: the bucket could not be read in :data:`SCAN_TIMEOUT` seconds.
    """
    prefix = f"$KV.{bucket}."
    found: dict[str, ScannedEntry] = {}
    done = asyncio.get_running_loop().create_future()

    async def deliver(msg: Msg) -> None:
        meta = msg.metadata
        key = msg.subject[len(prefix) :]
        op = kv_operation(msg.headers)
        if op is KvOp.PUT:
            found[key] = ScannedEntry(key, msg.data, meta.sequence.stream)
        elif op is KvOp.DELETE:
            found.pop(key, None)
        if meta.num_pending == 0 and not done.done():
            done.set_result(None)

    with nats_errors(f"reading KV bucket {bucket}"):
        sub = await mesh.js.subscribe(
            prefix + keys,
            stream=f"KV_{bucket}",
            cb=deliver,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
            headers_only=headers_only,
            inactive_threshold=SCAN_TIMEOUT,
        )
        try:
            info = await sub.consumer_info()
            if not info.num_pending and not (info.delivered and info.delivered.consumer_seq):
                return []  # the server sent nothing and has nothing to send: no such entry
            try:
                await asyncio.wait_for(asyncio.shield(done), SCAN_TIMEOUT)
            except TimeoutError:
                raise MeshUnavailable(
                    f"reading KV bucket {bucket} took over {SCAN_TIMEOUT:.0f} s; try again"
                ) from None
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
    return sorted(found.values(), key=lambda entry: entry.revision)


class KvOp(Enum):
    """What a stored KV message does to its key."""

    PUT = "put"
    DELETE = "delete"
    UNKNOWN = "unknown"


_DELETES = frozenset({"DEL", "PURGE"})
_MARKERS = {"MaxAge": KvOp.DELETE, "Purge": KvOp.DELETE, "Remove": KvOp.DELETE}


def kv_operation(headers: Mapping[str, str] | None) -> KvOp:
    """A put, a delete/purge (``KV-Operation``), or a server's marker (``Nats-Marker-Reason``,
    nats-server 2.11+: a key's TTL or age ran out); an unknown marker is skipped."""
    if not headers:
        return KvOp.PUT
    if (op := headers.get("KV-Operation")) is not None:
        return KvOp.DELETE if op in _DELETES else KvOp.PUT
    if (reason := headers.get("Nats-Marker-Reason")) is not None:
        return _MARKERS.get(reason, KvOp.UNKNOWN)
    return KvOp.PUT
