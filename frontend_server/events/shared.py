"""History read once for every client resuming from the same point.

In a reconnect storm (a replica died, its clients resume on the others with ``Last-Event-ID``)
the clients of one video resume from the same few points: each read the same events from
JetStream and decoded them again. :class:`SharedReplays` reads the events of one (filters,
resume point) once: the first client's read is shared with every client that asks for the same
key while it runs and for :data:`KEEP_SECONDS` after. A client whose horizon is beyond what
the shared read reached reads the rest itself (stored events never change, so a shared read
stays true); each client still filters what it may read and stops at its own horizon
(:class:`~frontend_server.events.history.History`). Only short replays are shared (at most
:data:`MAX_EVENTS`): a long one is streamed batch by batch by its own client, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import cast

from mesh.events import StoredEvent
from mesh.replay import EventReader

MAX_EVENTS = 512
"""Events a shared read holds at most (beyond: not shared, the client streams its replay)."""
KEEP_SECONDS = 2.0
"""How long a finished read serves later clients resuming from the same point."""

_Key = tuple[tuple[str, ...], int]
Shared = tuple[list[StoredEvent], int]
"""The events of a key in ``(after, reach]``, ascending, and ``reach``."""


class SharedReplays:
    """Short replays read once per (filters, resume point) (see the module docstring).

    Args:
        reader: Reads stored events.
    """

    def __init__(self, reader: EventReader) -> None:
        self._reader = reader
        self._reads: dict[_Key, asyncio.Future[Shared | None]] = {}
        self.shared = 0
        """Replays served by another client's read (a figure for tests and benchmarks)."""

    async def read(self, filters: tuple[str, ...], after: int, until: int) -> Shared | None:
        """The events of ``filters`` after ``after``, up to some ``reach`` (``until`` for a
        read of this caller's own); ``None`` when the replay is too long to share.

        Raises:
            MeshError: if JetStream fails (the caller's own read only: a joiner whose
                shared read failed gets ``None`` and reads itself).
        """
        key = (filters, after)
        pending = self._reads.get(key)
        if pending is not None:
            self.shared += 1
            return await asyncio.shield(pending)
        pending = self._reads[key] = asyncio.get_running_loop().create_future()
        result: Shared | None = None
        try:
            result = await self._read(filters, after, until)
        finally:
            pending.set_result(result)  # joiners read for themselves when it failed
            if result is None:
                del self._reads[key]
            else:
                loop = asyncio.get_running_loop()
                loop.call_later(KEEP_SECONDS, self._forget, key, pending)
        return result

    def _forget(self, key: _Key, read: asyncio.Future[Shared | None]) -> None:
        if self._reads.get(key) is read:
            del self._reads[key]

    async def _read(self, filters: tuple[str, ...], after: int, until: int) -> Shared | None:
        events: list[StoredEvent] = []
        replay = cast(
            AsyncGenerator[list[StoredEvent], None],
            self._reader.replay(list(filters), after, until=until, gapless=True),
        )
        async with contextlib.aclosing(replay) as batches:
            async for batch in batches:
                events += batch
                if len(events) > MAX_EVENTS:
                    return None
        return [e for e in events if e.seq <= until], until
