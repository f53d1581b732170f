"""Long-lived resources as async context managers that always release what they acquired."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Self


class AsyncResource(ABC):
    """``async with resource:`` runs :meth:`open`, then :meth:`close` however the block ends.

    Connections, servers, services and workers derive from it, so shutdown (drain NATS, end SSE
    streams, hand back jobs) happens in reverse order of start-up when blocks are nested.
    """

    @abstractmethod
    async def open(self) -> None:
        """Acquire the resource (connect, listen, subscribe)."""

    @abstractmethod
    async def close(self) -> None:
        """Release it gracefully; safe to call more than once."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def stop_task(task: asyncio.Task[Any] | None, *, retry_every: float = 0.1) -> None:
    """Cancel a background ``task`` and wait until it has ended, whatever it raised.

    One ``cancel()`` is not always enough: nats-py swallows a cancellation that lands while it
    flushes a command (``Client._flush_pending`` catches ``CancelledError``), and a loop that
    was inside a NATS call then goes on as if nothing happened — and whoever awaited it waits
    forever (a frontend's shutdown hung that way, about one time in six). So the task is
    cancelled again until it is done.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_every)
    if not task.cancelled():
        task.exception()  # retrieved: nothing is logged as "never retrieved"
