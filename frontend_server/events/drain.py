"""Draining a stopping frontend: every client learns where to resume, then the process exits.

On SIGTERM (Kubernetes sends it after the pod's ``preStop`` pause, once the endpoint is gone
from the load balancers) the server stops accepting, then:

- each SSE stream gets a ``retry:`` of a random delay up to ``drain_spread`` seconds and ends
  (its ``EventSource`` reconnects after that delay with ``Last-Event-ID``, on another replica):
  a thousand clients do not come back in the same millisecond;
- each WebSocket is closed with 1001 and the reason ``going away; since=N``, ``N`` being the
  position it may resume from (:attr:`EventSocket.position
  <frontend_server.events.ws.session.EventSocket.position>`);
- the process waits until every stream has closed (the last frames written) or
  ``drain_timeout`` seconds passed, then closes what is left and exits.

:class:`Drain` counts the open SSE streams (their handlers register while they run);
the WebSocket registry counts the sockets.
"""

from __future__ import annotations

import asyncio
import random

from frontend_server.config import HubConfig

RETRY_FLOOR_MS = 250
"""The shortest ``retry:`` a drained SSE client is given."""


class Drain:
    """The open SSE streams of one application, and the reconnect delays given on shutdown.

    Args:
        config: ``drain_spread`` and ``drain_timeout``.
        rng: Source of the delays (tests pass a seeded one).
    """

    def __init__(self, config: HubConfig, rng: random.Random | None = None) -> None:
        self._spread_ms = max(RETRY_FLOOR_MS, int(config.drain_spread * 1000))
        self.timeout = config.drain_timeout
        self._rng = rng or random.Random()
        self.open = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False

    def opened(self) -> None:
        """An SSE stream started."""
        self.open += 1
        self._idle.clear()

    def closed(self) -> None:
        """An SSE stream ended (its last bytes written, or given up)."""
        self.open -= 1
        if self.open <= 0:
            self.open = 0
            self._idle.set()

    def retry_ms(self) -> int:
        """A reconnect delay for one drained SSE client: uniform over the spread."""
        return self._rng.randint(RETRY_FLOOR_MS, self._spread_ms)

    async def wait(self, sockets_closed: asyncio.Event) -> bool:
        """Until every SSE stream and WebSocket closed, or the deadline; True if all did."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._idle.wait()
                await sockets_closed.wait()
        except TimeoutError:
            return False
        return True
