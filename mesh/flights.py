"""Identical reads share one request (Centrifugo's singleflight on history reads, with the
rule that makes it safe for a stream that keeps growing).

In a reconnect storm many clients ask JetStream the very same question at once: the same
subject from the same sequence, the same subjects' latest events at the same point. One
request answers them all, on one condition: the answer must be as new as what each caller
could have asked for itself. An answer only says what the stream held when the request was
*sent*; a caller that arrives after that may expect events stored in between (its horizon is
newer). So a caller may join a flight:

* always while it is **open** (not yet sent: waiting for a slot of the reader's bounded pool,
  or not yet started): the request then leaves after the joiner asked, exactly as its own
  would have;
* after it was sent, only if it was sent with a **bound** covering the caller's: a sequence
  the stream held, by its callers' contract, before the request left (see
  :class:`~mesh.replay.EventReader`). Otherwise (or with no bound) the caller starts a flight
  of its own, which later callers join.

Only identical requests share (the key is the whole request): what a subscription may see is
decided after, by each caller on its own, never inside the shared request. A caller that is
cancelled leaves the flight; the request goes on for the others, and is cancelled only when
nobody waits for it any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

Sent = Callable[[], None]
"""Called by a flight's request right before it leaves (from then on nobody joins blindly)."""


class _Flight(Generic[V]):
    __slots__ = ("bound", "open", "task", "waiters")

    def __init__(self, bound: int | None) -> None:
        self.bound = bound
        self.open = True
        self.waiters = 0
        self.task: asyncio.Future[V] | None = None


class Flights(Generic[V]):
    """Requests in flight by key (see the module docstring).

    Attributes:
        started: Requests run.
        joined: Callers served by another caller's request.
    """

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight[V]] = {}
        self.started = 0
        self.joined = 0

    def __len__(self) -> int:
        return len(self._flights)

    async def run(
        self, key: Hashable, bound: int | None, request: Callable[[Sent], Awaitable[V]]
    ) -> V:
        """The answer of the flight of ``key``, joined or started.

        Args:
            key: The whole request (identical requests only).
            bound: A sequence the stream held when the caller called (``None``: none known,
                the caller joins only an open flight).
            request: Runs the request; calls its argument right before sending it.

        Raises:
            Whatever the request raised (every caller of the flight gets it).
        """
        flight = self._flights.get(key)
        if flight is not None and (flight.open or _covers(flight.bound, bound)):
            self.joined += 1
            if flight.open and bound is not None:
                # Sent after this caller asked: what it knew stored, the request knows too.
                flight.bound = bound if flight.bound is None else max(flight.bound, bound)
        else:
            flight = self._start(key, bound, request)
        task = flight.task
        assert task is not None
        flight.waiters += 1
        try:
            return await asyncio.shield(task)
        finally:
            flight.waiters -= 1
            if not flight.waiters and not task.done():
                task.cancel()  # every caller left: nobody wants the answer
                self._forget(key, flight)

    def _start(
        self, key: Hashable, bound: int | None, request: Callable[[Sent], Awaitable[V]]
    ) -> _Flight[V]:
        flight: _Flight[V] = _Flight(bound)

        def sent() -> None:
            flight.open = False

        self._flights[key] = flight
        self.started += 1
        task = flight.task = asyncio.ensure_future(request(sent))
        task.add_done_callback(lambda done: self._done(key, flight, done))
        return flight

    def _done(self, key: Hashable, flight: _Flight[V], done: asyncio.Future[V]) -> None:
        self._forget(key, flight)
        if not done.cancelled():
            done.exception()  # its callers got it; none may be left to retrieve it

    def _forget(self, key: Hashable, flight: _Flight[V]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]


def _covers(held: int | None, wanted: int | None) -> bool:
    """Whether a request sent knowing ``held`` was stored answers a caller up to ``wanted``."""
    return held is not None and wanted is not None and held >= wanted
