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

from culto.resources import AsyncResource
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.retry import retry_until_done

OnEntry = Callable[[str, bytes | None, int], None]

LOAD_TIMEOUT = 30.0


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
        self._task: asyncio.Task[None] | None = None
        self._watcher: object | None = None
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
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._stop_watch()

    async def _watch(self) -> None:
        with nats_errors(f"watching KV bucket {self._bucket}"):
            kv = await self._mesh.js.key_value(self._bucket)
            watcher = await kv.watchall()
        self._watcher = watcher
        self._task = asyncio.get_running_loop().create_task(self._follow(watcher))

    async def _follow(self, watcher: object) -> None:
        self._seen = set()
        async for entry in watcher:  # type: ignore[attr-defined]
            if entry is None:  # end of the initial values
                self._finish_load()
                continue
            deleted = entry.value is None or entry.operation in ("DEL", "PURGE")
            if not self._loaded.is_set() and not deleted:
                self._seen.add(entry.key)
            self._on_entry(entry.key, None if deleted else entry.value, entry.revision or 0)

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
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[attr-defined]
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
