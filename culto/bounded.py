"""A cache bounded by count and by memory, the oldest entry going first.

The edge keeps the newest stored events it decoded and framed so that a reconnect storm does
the work once; both caches must stay small however large the events are (a summary is tens of
KiB), so each entry carries its cost and the cache holds at most ``size`` entries and
``max_bytes`` of cost. Insertion order is the age: a dict keeps it, so evicting the oldest is
``next(iter(...))`` with no list or heap beside it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``size`` entries and ``max_bytes`` of their costs; a value costing more than
    ``max_bytes`` alone is not kept."""

    __slots__ = ("_entries", "_max_bytes", "_size", "bytes")

    def __init__(self, size: int, max_bytes: int) -> None:
        self._entries: dict[K, tuple[V, int]] = {}
        self._size = size
        self._max_bytes = max_bytes
        self.bytes = 0
        """The costs of what is kept."""

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The value kept under ``key``, if any."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def put(self, key: K, value: V, cost: int) -> None:
        """Keep ``value`` under ``key`` (replacing what was there), evicting the oldest."""
        entries = self._entries
        if (old := entries.pop(key, None)) is not None:
            self.bytes -= old[1]
        if cost > self._max_bytes:
            return  # larger than the whole cache: not kept
        while entries and (len(entries) >= self._size or self.bytes + cost > self._max_bytes):
            self.bytes -= entries.pop(next(iter(entries)))[1]  # the oldest
        entries[key] = (value, cost)
        self.bytes += cost
