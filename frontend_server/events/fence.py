"""Ordering the live events after the identity directory: nothing published after a revocation
reaches the revoked principal, even when the directory learns of it late.

The events (``CULTO_EVENTS``) and the identity buckets reach a replica through different
consumers, with no order between them. A replica cut off from the cluster for a while, or whose
identity watch lagged, could deliver events stored after a revocation before its directory
applied the revocation (measured: up to 161 events, stamped up to 16.5 s after it).

So the hub dispatches a live event only if the directory was **known current** when the event
was stored: every :data:`PROBE_INTERVAL` seconds the directory's buckets are asked, at their
leaders, for their last sequence (:meth:`mesh.directory.Directory.current`); when the directory
has applied that much, it held every identity change stored before the question was sent, and
``known_good`` moves to that moment. An event stamped (by the stream leader's clock) later
than ``known_good`` + :data:`CLOCK_MARGIN` is held, in order, until a later answer covers it;
by then the directory has applied every revocation stored before it, so the access guard has
ended the revoked streams and dispatch skips their principals. With a healthy directory the
answers come every half second and no live event waits (the margin covers them); while it is
stale (a partition, a lost watch) live events wait, and none reaches a principal it no longer
may reach. The margin absorbs clock skew between NATS servers (NTP keeps it to milliseconds).
Held events past :data:`MAX_HELD` end every stream instead (clients resume once it is over).

What remains: an event stored within the margin after a revocation that the directory missed
(the directory was current just before it) can still pass: the window shrank from the length
of the outage to :data:`CLOCK_MARGIN`. Closing it needs the revocation ordered in the event
stream itself (a fence message the identity service stores in ``CULTO_EVENTS`` before
answering, after which the hub dispatches only once the directory holds that revision).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from culto.errors import CultoError
from mesh.directory import Directory
from mesh.events import StoredEvent

log = logging.getLogger(__name__)

PROBE_INTERVAL = 0.5
"""Seconds between questions to the identity buckets' leaders."""
CLOCK_MARGIN = 1.0
"""Seconds an event may be stamped after the last moment the directory was known current and
still be dispatched at once (two probe intervals: a healthy directory never holds anything)."""
MAX_HELD = 100_000
"""Events held at most; beyond, every stream ends (its clients resume later)."""


class IdentityFence:
    """Holds live events the directory is not known current for (see the module docstring).

    Args:
        directory: The replica's identity view.
        dispatch: Where events go once they may (the hub's fan-out), in order.
        overflow: Called (the held events discarded) when more than :data:`MAX_HELD` wait.
        settle: Called before held events are released: applies the access changes the
            directory's news implies (the access guard batches its re-checks).
    """

    def __init__(
        self,
        directory: Directory,
        dispatch: Callable[[StoredEvent], None],
        overflow: Callable[[], None],
        settle: Callable[[], None],
    ) -> None:
        self._directory = directory
        self._dispatch = dispatch
        self._overflow = overflow
        self._settle = settle
        self._held: deque[StoredEvent] = deque()
        self._task: asyncio.Task[None] | None = None
        self.known_good = time.time()
        self.held_total = 0

    @property
    def holding(self) -> int:
        """Events waiting now."""
        return len(self._held)

    def start(self) -> None:
        """Probe the directory until :meth:`stop` (the directory is open and loaded)."""
        self.known_good = time.time()
        self._task = asyncio.get_running_loop().create_task(self._probe())

    async def stop(self) -> None:
        """Stop probing; held events are dropped (the streams end anyway)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._held.clear()

    def offer(self, event: StoredEvent) -> None:
        """A live event from the feed: dispatched now, or held behind earlier ones."""
        if self._held or _stamp(event) > self.known_good + CLOCK_MARGIN:
            if len(self._held) >= MAX_HELD:
                log.warning("%d events held for a stale identity view: ending streams", MAX_HELD)
                self._held.clear()
                self._overflow()
                return
            self._held.append(event)
            self.held_total += 1
            return
        self._dispatch(event)

    async def _probe(self) -> None:
        while True:
            asked = time.time()
            try:
                current = await self._directory.current()
            except CultoError:
                current = False
            if current:
                self.known_good = asked
                self._release()
            elif self._held:
                log.info("identity view not known current: %d live events held", len(self._held))
            await asyncio.sleep(PROBE_INTERVAL)

    def _release(self) -> None:
        limit = self.known_good + CLOCK_MARGIN
        if self._held:
            self._settle()  # revoked streams end before what was held reaches anyone
        while self._held and _stamp(self._held[0]) <= limit:
            self._dispatch(self._held.popleft())


def _stamp(event: StoredEvent) -> float:
    return event.time.timestamp() if event.time is not None else time.time()
