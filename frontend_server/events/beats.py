"""Heartbeats for thousands of streams from one timer: a wheel of per-interval buckets.

One ``TimerHandle`` (and its closure) per stream cost ~0.5 KiB of an idle stream and one timer
wake-up per stream per interval. Here a stream is put in one of :data:`SLOTS` buckets when it
registers; the wheel's single timer fires one bucket every ``interval / SLOTS`` seconds, so each
member beats once per ``interval``, its first beat between ``interval - interval / SLOTS`` and
``interval`` after it registered, and every later beat exactly ``interval`` after the previous
one (timers are set at absolute times: no drift). The owner's callback gets a whole bucket at
once, so what a beat sends (a heartbeat frame, a ping frame) is built once per bucket, not once
per stream. The timer stops while the wheel is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

SLOTS = 16
"""Buckets per interval: a new member's first beat is at most ``interval / SLOTS`` early."""

NOWHERE = -1
"""``beat_slot`` of a member not in any wheel."""


class Beating(Protocol):
    """A wheel member: the wheel keeps its bucket number on it (no per-member dict entry)."""

    beat_slot: int


M = TypeVar("M", bound=Beating)


class HeartbeatWheel(Generic[M]):
    """Calls ``on_beat`` with each bucket of members once per ``interval`` seconds.

    Args:
        interval: Seconds between two beats of one member.
        on_beat: Called with the members due (a list the callback may keep; members may
            leave the wheel from inside it).
    """

    __slots__ = ("_buckets", "_interval", "_members", "_next_at", "_on_beat", "_pos", "_timer")

    def __init__(self, interval: float, on_beat: Callable[[list[M]], None]) -> None:
        if interval <= 0:
            raise ValueError("heartbeat interval must be positive")
        self._interval = interval
        self._on_beat = on_beat
        self._buckets: list[set[M]] = [set() for _ in range(SLOTS)]
        self._pos = 0  # the bucket the timer fires next
        self._next_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._members = 0

    def __len__(self) -> int:
        return self._members

    def add(self, member: M) -> None:
        """Beat ``member`` from now on: first in about one interval."""
        if member.beat_slot != NOWHERE:
            return
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._next_at = loop.time() + self._interval / SLOTS
            self._timer = loop.call_at(self._next_at, self._tick)
        # The bucket fired last in this turn of the wheel: about one interval from now.
        slot = (self._pos - 1) % SLOTS
        self._buckets[slot].add(member)
        member.beat_slot = slot
        self._members += 1

    def remove(self, member: M) -> None:
        """Stop beating ``member`` (idempotent)."""
        slot = member.beat_slot
        if slot == NOWHERE:
            return
        member.beat_slot = NOWHERE
        bucket = self._buckets[slot]
        if member in bucket:
            bucket.discard(member)
            self._members -= 1
        if not self._members and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Forget every member and stop the timer."""
        for bucket in self._buckets:
            for member in bucket:
                member.beat_slot = NOWHERE
            bucket.clear()
        self._members = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        step = self._interval / SLOTS
        now = loop.time() + 1e-3  # the loop may run a timer up to its clock resolution early
        # Fire every bucket that is due (more than one after the loop was held up).
        while self._next_at <= now and self._members:
            bucket = self._buckets[self._pos]
            self._pos = (self._pos + 1) % SLOTS
            self._next_at += step
            if bucket:
                self._on_beat(list(bucket))
        if self._members:
            self._timer = loop.call_at(self._next_at, self._tick)
        else:
            self._timer = None
