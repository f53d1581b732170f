"""Follow a KV bucket into memory: every current entry, then every change, across reconnects.

A :class:`KvMirror` hands each entry to its owner's ``on_entry(key, value, revision)`` (``value``
is ``None`` for a deleted or purged key). After a reconnect the watch (an ordered consumer)
is rebuilt and every current entry is delivered again, then ``on_loaded`` runs: an owner that
keeps the keys it saw since the rebuild can drop the ones deleted while it was disconnected,
without ever serving from an empty view. Used by the video catalog and the identity directory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.js import api

from culto.resources import AsyncResource, stop_task
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.kv_scan import KvOp, kv_operation
from mesh.retry import retry_until_done

OnEntry = Callable[[str, bytes | None, int], None]

LOAD_TIMEOUT = 30.0
WATCH_HEARTBEAT = 0.5
"""Seconds between the watch consumer's idle heartbeats: two missed (a second) and nats-py
re-creates the consumer, so a watch lost with its node is back within a second or two. Shorter
made a busy event loop (heartbeats read late) re-create healthy watches for nothing."""


class KvMirror(AsyncResource):
    """Watches ``bucket``; :meth:`open` returns once the initial values are delivered.

    Args:
        mesh: The process's connection (a reconnect restarts the watch).
        bucket: The KV bucket's name.
        on_entry: Called for every entry, on the event loop, in revision order.
        on_loaded: Called each time the current entries have all been delivered (at open and
            after every rebuild), with the keys delivered since the (re)build began.
    """

    def __init__(
        self,
        mesh: MeshConnection,
        bucket: str,
        on_entry: OnEntry,
        on_loaded: Callable[[set[str]], None] = lambda keys: None,
    ) -> None:
        self._mesh = mesh
        self._bucket = bucket
        self._on_entry = on_entry
        self._on_loaded = on_loaded
        self._seen: set[str] = set()
        self._prefix = f"$KV.{bucket}."
        self._sub: object | None = None
        self.revision = 0
        """The highest bucket sequence delivered (see :meth:`current`)."""
        self._loaded = asyncio.Event()
        self._rewatching: asyncio.Task[None] | None = None
        self._closed = False
        mesh.on_reconnect(self._restart)

    @property
    def loaded(self) -> bool:
        """True once the current entries have been delivered."""
        return self._loaded.is_set()

    async def open(self) -> None:
        """Deliver every current entry, then follow changes."""
        await self._watch()
        await asyncio.wait_for(self._loaded.wait(), LOAD_TIMEOUT)

    async def close(self) -> None:
        """Stop following."""
        self._closed = True
        task, self._rewatching = self._rewatching, None
        await stop_task(task)
        await self._stop_watch()

    async def _watch(self) -> None:
        # Our own ordered consumer rather than nats-py's ``kv.watchall()``: its idle heartbeat
        # (5 s) made a consumer lost with its node (an R1 consumer may sit on any peer of the
        # bucket) noticed only after 10 s, and a revoked credential kept working meanwhile.
        # With WATCH_HEARTBEAT, nats-py re-creates the consumer from the last revision seen
        # within two heartbeats, so every change made meanwhile still arrives.
        stream = f"KV_{self._bucket}"
        self._seen = set()
        with nats_errors(f"watching KV bucket {self._bucket}"):
            info = await self._mesh.jsm.stream_info(stream)
            self._sub = await self._mesh.retried_js.subscribe(  # fails fast in an election
                f"{self._prefix}>",
                stream=stream,
                cb=self._deliver,
                ordered_consumer=True,
                deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
                idle_heartbeat=WATCH_HEARTBEAT,
                inactive_threshold=10.0,  # a consumer left behind by a reset goes soon
            )
        if not info.state.messages:
            self._finish_load()  # nothing stored: nothing to wait for

    async def stored_last(self) -> int:
        """The bucket's last sequence now, from its leader (a replica that lags could not
        say): once :attr:`revision` reaches it, every entry stored so far was delivered."""
        return await bucket_last(self._mesh, self._bucket)

    async def _deliver(self, msg: Msg) -> None:
        meta = msg.metadata
        self.revision = max(self.revision, meta.sequence.stream)
        op = kv_operation(msg.headers)
        if op is KvOp.UNKNOWN:
            return
        key = msg.subject[len(self._prefix) :]
        deleted = op is not KvOp.PUT
        if not self._loaded.is_set() and not deleted:
            self._seen.add(key)
        self._on_entry(key, None if deleted else msg.data, meta.sequence.stream)
        if meta.num_pending == 0:
            self._finish_load()

    def _finish_load(self) -> None:
        if self._loaded.is_set():
            return
        self._loaded.set()
        seen, self._seen = self._seen, set()
        self._on_loaded(seen)

    def _restart(self) -> None:
        # The watch's ordered consumer died with the old connection; rebuild it.
        if self._closed:
            return
        if self._rewatching is not None:
            self._rewatching.cancel()  # a newer reconnect: start over from it
        task = asyncio.get_running_loop().create_task(self._rewatch())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._rewatching = task

    async def _rewatch(self) -> None:
        await self._stop_watch()
        self._loaded.clear()
        # close() cancels this task.
        await retry_until_done(self._watch, what=f"re-watch of {self._bucket}")

    async def _stop_watch(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()  # type: ignore[attr-defined]


async def bucket_last(mesh: MeshConnection, bucket: str) -> int:
    """KV ``bucket``'s last sequence, asked at its stream leader.

    Raises:
        MeshError: the bucket cannot be asked.
    """
    with nats_errors(f"checking KV bucket {bucket}"):
        info = await mesh.jsm.stream_info(f"KV_{bucket}")
    return int(info.state.last_seq or 0)
