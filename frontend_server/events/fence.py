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

The clock rule alone would leave a window: an event stored within the margin after a
revocation the directory missed (it was current just before). The revocation is therefore also
ordered in the stream: after every write that may take access away the identity writer stores
a mark (:mod:`mesh.fence`: the identity buckets' last sequences) in ``CULTO_EVENTS``
before it answers. The feed hands it over among the events (:meth:`IdentityFence.require`),
and every event after it is held until the directory has applied that much — however soon
after the revocation it was stored. A mark that claims more than the buckets hold (forged, or
from buckets since restored) is dropped once the directory is known current without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from culto.errors import CultoError
from culto.resources import stop_task
from mesh.directory import Directory
from mesh.events import StoredEvent
from mesh.fence import FenceMark

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
        *,
        dispatch: Callable[[StoredEvent], None],
        overflow: Callable[[], None],
        settle: Callable[[], None],
    ) -> None:
        self._directory = directory
        self._dispatch = dispatch
        self._overflow = overflow
        self._settle = settle
        self._held: deque[StoredEvent] = deque()
        self._needed: FenceMark | None = None  # a mark read from the stream, not yet held
        self._task: asyncio.Task[None] | None = None
        self.known_good = time.time()
        self.held_total = 0
        self.marks_waited = 0
        """Marks that found the directory behind (events after them were held)."""

    @property
    def holding(self) -> int:
        """Events waiting now."""
        return len(self._held)

    def start(self) -> None:
        """Probe the directory until :meth:`stop` (the directory is open and loaded)."""
        self.known_good = time.time()
        self._directory.on_change(lambda _change: self._check_needed())
        self._task = asyncio.get_running_loop().create_task(self._probe())

    async def stop(self) -> None:
        """Stop probing; held events are dropped (the streams end anyway)."""
        task, self._task = self._task, None
        await stop_task(task)
        self._held.clear()

    def offer(self, event: StoredEvent) -> None:
        """A live event from the feed: dispatched now, or held behind earlier ones."""
        if self._held or self._needed is not None or _stamp(event) > self.known_good + CLOCK_MARGIN:
            if len(self._held) >= MAX_HELD:
                log.warning("%d events held for a stale identity view: ending streams", MAX_HELD)
                self._held.clear()
                self._overflow()
                return
            self._held.append(event)
            self.held_total += 1
            return
        self._dispatch(event)

    def require(self, mark: FenceMark) -> None:
        """A mark from the stream (in order among the events): every event after it waits
        until the directory has applied ``mark``."""
        if self._directory.holds(mark):
            self._settle()  # its access changes apply before the next event goes out
            return
        self._needed = mark if self._needed is None else self._needed.join(mark)
        self.marks_waited += 1

    def _check_needed(self) -> None:
        """The directory moved: release what waited for a mark it now holds."""
        if self._needed is not None and self._directory.holds(self._needed):
            self._needed = None
            self._release()

    async def _probe(self) -> None:
        while True:
            asked = time.time()
            marks_before = self.marks_waited
            try:
                current = await self._directory.current()
            except CultoError:
                current = False
            if current:
                self.known_good = asked
                self._probed(marks_before)
                self._release()
            elif self._held:
                log.info("identity view not known current: %d live events held", len(self._held))
            await asyncio.sleep(PROBE_INTERVAL)

    def _probed(self, marks_before: int) -> None:
        """The directory held everything stored before the probe's question."""
        if self._needed is None or self._directory.holds(self._needed):
            self._needed = None
        elif self.marks_waited == marks_before:
            # Read from the stream before the question, so stored before it, yet not applied:
            # it claims more than the buckets ever held (forged, or restored since).
            log.warning("dropping an identity fence mark the buckets never reached")
            self._needed = None
        # else a mark arrived during the question: the next probe decides it

    def _release(self) -> None:
        if self._needed is not None:
            return  # a mark the directory does not hold yet: nothing after it may go
        limit = self.known_good + CLOCK_MARGIN
        if self._held:
            self._settle()  # revoked streams end before what was held reaches anyone
        while self._held and _stamp(self._held[0]) <= limit:
            self._dispatch(self._held.popleft())


def _stamp(event: StoredEvent) -> float:
    return event.time.timestamp() if event.time is not None else time.time()
