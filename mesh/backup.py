"""Stream snapshots and restores with JetStream's own backup protocol (no ``nats`` CLI needed).

nats-py has no helper for it; this module speaks the wire format, as verified against
nats-server 2.15 (the protocol ``nats stream backup``/``restore`` use):

* **snapshot**: a JSON request to ``$JS.API.STREAM.SNAPSHOT.<stream>`` with a
  ``deliver_subject`` the client already listens on; the answer carries the stream's ``config``
  and ``state``, then the server sends the snapshot (an s2-compressed tar of the stream's
  store, opaque here) in chunks to that subject. Each chunk has a reply subject
  (``$JS.SNAPSHOT.ACK.…``) the client answers for flow control; an empty message ends it
  (with a ``Status`` header when the server failed).
* **restore**: a JSON request ``{"config", "state"}`` to ``$JS.API.STREAM.RESTORE.<stream>``
  (refused while a stream of that name exists) answers a ``deliver_subject``; the client sends
  the chunks there as requests (each is acknowledged), then an empty request, whose answer is
  the restored stream's info (or an error).

A snapshot is consistent for its stream (taken at one point by the stream's leader) and keeps
everything a republish would lose: sequences (event ids, cursors), timestamps, KV revisions,
deleted gaps. KV buckets and object stores are streams (``KV_<bucket>``, ``OBJ_<bucket>``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from culto.errors import MeshError, MeshTimeout
from mesh.errors import nats_errors
from mesh.subjects import (
    ARTIFACTS_BUCKET,
    CURSORS_BUCKET,
    EVENTS_STREAM,
    IDENTITY_BUCKET,
    INGRESS_BUCKET,
    JOBS_STREAM,
    SESSIONS_BUCKET,
    STAGING_BUCKET,
    VIDEOS_BUCKET,
    YOUTUBE_INDEX_BUCKET,
)

CHUNK_BYTES = 128 * 1024
"""Snapshot chunk size (the server's default); restores send the same size."""
IDLE_TIMEOUT = 30.0
"""Seconds without a chunk before a snapshot is given up."""

BACKUP_ORDER: tuple[str, ...] = (
    f"KV_{CURSORS_BUCKET}",
    f"KV_{INGRESS_BUCKET}",
    f"KV_{SESSIONS_BUCKET}",
    f"KV_{IDENTITY_BUCKET}",
    f"KV_{YOUTUBE_INDEX_BUCKET}",
    f"KV_{VIDEOS_BUCKET}",
    f"OBJ_{ARTIFACTS_BUCKET}",
    f"OBJ_{STAGING_BUCKET}",
    JOBS_STREAM,
    EVENTS_STREAM,
)
"""Every stream of an instance, in the order they are snapshotted. Each snapshot is consistent
on its own; across streams, what is taken later is a superset of what earlier ones refer to:
sessions name users of the identity bucket, records name artifacts, and the events come last,
so every acknowledged cursor and every record's events are inside the events' snapshot."""


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """What the server says about a snapshot before its bytes: the stream's configuration and
    state (JSON as the server sent them, restored as they are)."""

    config: dict[str, Any]
    state: dict[str, Any]


Progress = Callable[[int], None]
"""Told the number of bytes moved so far (snapshot or restore)."""


async def _api(nc: NATS, subject: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    with nats_errors(what):
        reply = await nc.request(subject, json.dumps(body).encode(), timeout=10)
    answer: dict[str, Any] = json.loads(reply.data or b"{}")
    error = answer.get("error")
    if error:
        raise MeshError(
            f"{what}: JetStream error {error.get('err_code')}: {error.get('description')}"
        )
    return answer


async def snapshot(
    nc: NATS, stream: str, *, progress: Progress = lambda n: None
) -> tuple[SnapshotHeader, AsyncIterator[bytes]]:
    """Start a snapshot of ``stream``; returns its header and its chunks (iterate them all).

    Raises:
        NotFound: no such stream.
        MeshError: JetStream refused, or failed mid-way (raised by the iterator).
        MeshTimeout: no chunk for :data:`IDLE_TIMEOUT` seconds (raised by the iterator).
    """
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def arrived(msg: Msg) -> None:
        queue.put_nowait(msg)
        if msg.data and msg.reply:
            await nc.publish(msg.reply, b"")  # flow control: this chunk is taken

    with nats_errors(f"snapshot of {stream}"):
        sub = await nc.subscribe(nc.new_inbox(), cb=arrived)
    request = {"deliver_subject": sub.subject, "chunk_size": CHUNK_BYTES, "no_consumers": True}
    try:
        answer = await _api(
            nc, f"$JS.API.STREAM.SNAPSHOT.{stream}", request, f"snapshot of {stream}"
        )
    except BaseException:
        await sub.unsubscribe()
        raise
    header = SnapshotHeader(config=answer.get("config") or {}, state=answer.get("state") or {})

    async def chunks() -> AsyncIterator[bytes]:
        moved = 0
        try:
            while True:
                try:
                    msg = await asyncio.wait_for(queue.get(), IDLE_TIMEOUT)
                except TimeoutError:
                    raise MeshTimeout(
                        f"snapshot of {stream}: no data for {IDLE_TIMEOUT:.0f}s"
                    ) from None
                status = (msg.headers or {}).get("Status")
                if status is not None:
                    detail = (msg.headers or {}).get("Description", "")
                    raise MeshError(f"snapshot of {stream} failed: {status} {detail}".strip())
                if not msg.data:
                    return
                moved += len(msg.data)
                progress(moved)
                yield msg.data
        finally:
            await sub.unsubscribe()

    return header, chunks()


async def restore(
    nc: NATS,
    stream: str,
    header: SnapshotHeader,
    chunks: AsyncIterator[bytes],
    *,
    progress: Progress = lambda n: None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Restore ``stream`` from a snapshot (it must not exist); returns the new stream's info.

    Raises:
        MeshError: JetStream refused (e.g. the stream exists) or could not restore.
    """
    what = f"restore of {stream}"
    answer = await _api(
        nc,
        f"$JS.API.STREAM.RESTORE.{stream}",
        {"config": header.config, "state": header.state},
        what,
    )
    target = str(answer.get("deliver_subject") or "")
    if not target:
        raise MeshError(f"{what}: JetStream gave no subject to send the snapshot to")
    moved = 0
    async for chunk in chunks:
        with nats_errors(what):
            ack = await nc.request(target, chunk, timeout=timeout)
        if ack.data:  # success is an empty acknowledgement
            raise MeshError(f"{what}: {ack.data[:200].decode(errors='replace')}")
        moved += len(chunk)
        progress(moved)
    with nats_errors(what):
        done = await nc.request(target, b"", timeout=timeout)
    info: dict[str, Any] = json.loads(done.data or b"{}")
    error = info.get("error")
    if error:
        raise MeshError(
            f"{what}: JetStream error {error.get('err_code')}: {error.get('description')}"
        )
    return info
