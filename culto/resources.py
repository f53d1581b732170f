"""Long-lived resources as async context managers that always release what they acquired."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


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
