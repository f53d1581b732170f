"""Handing glibc's free memory back to the system: ``malloc_trim(0)`` every few seconds.

A long-running Python server's resident memory creeps up although nothing leaks. Objects above
pymalloc's 512 bytes (frames, socket buffers, large dicts and lists) come from glibc, and
``free`` only ever returns the top of glibc's heap to the system: free chunks between live
ones stay resident (fragmentation), and their share grows with the heap's high-water mark.
``malloc_trim(0)`` walks the heap and gives every free page back (``madvise``). No allocator
setting does that (``MALLOC_ARENA_MAX`` bounds the thread arenas, and the frontend has one
thread that allocates; ``MALLOC_TRIM_THRESHOLD_`` is about the top only). Measured in the
churn soak (README, "Churn soak"): the frontend's growth after warm-up lost most of glibc's
share, for a call of a few milliseconds every 30 seconds.

Off glibc (musl, macOS) there is no ``malloc_trim``, and this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from typing import Protocol

from culto.errors import ConfigError
from culto.resources import AsyncResource

log = logging.getLogger(__name__)


class _Trim(Protocol):
    def __call__(self, pad: int, /) -> int: ...


def glibc_trim() -> _Trim | None:
    """glibc's ``malloc_trim`` (``None`` elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


class MallocTrim(AsyncResource):
    """Calls ``malloc_trim(0)`` every ``interval`` seconds on the running loop from
    :meth:`open` until :meth:`close` (see the module docstring).

    Args:
        interval: Seconds between calls.
        trim: The call (glibc's by default; ``None``: there is none, nothing is done).
    """

    def __init__(self, interval: float, trim: _Trim | None = None) -> None:
        if not interval > 0:
            raise ConfigError(f"malloc_trim interval must be positive, not {interval!r}")
        self._interval = interval
        self._trim = trim
        self._timer: asyncio.TimerHandle | None = None
        self.calls = 0
        self.seconds = 0.0
        """Time spent in the calls (the loop is held meanwhile)."""

    @classmethod
    def glibc(cls, interval: float) -> MallocTrim:
        """Trimming glibc's heap (a no-op off glibc)."""
        return cls(interval, glibc_trim())

    async def open(self) -> None:
        """Start calling, on the running loop (once)."""
        if self._trim is not None and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._interval, self._run, loop)

    async def close(self) -> None:
        """Stop calling."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        trim = self._trim
        if trim is None or self._timer is None:
            return
        started = time.perf_counter()
        try:
            trim(0)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - started
            self._timer = loop.call_later(self._interval, self._run, loop)
