"""Token buckets keyed by client: the one rate-limiting mechanism (requests, connections)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

MAX_KEYS = 100_000


class TokenBuckets:
    """One token bucket per key, refilled continuously; memory stays bounded.

    Args:
        rate: Tokens added per second.
        burst: A bucket's size (what a fresh key may spend at once).
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> tuple[bool, float]:
        """Spend one token of ``key``'s bucket if it has one: ``(allowed, tokens left)``."""
        now = self._clock()
        capacity = float(self.burst)
        tokens, at = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if key not in self._buckets and len(self._buckets) >= MAX_KEYS:
            self._forget_full(now)
        self._buckets[key] = (tokens, now)
        return allowed, tokens

    def seconds_until(self, tokens: float, wanted: float) -> int:
        """Whole seconds until a bucket holding ``tokens`` holds ``wanted`` (at least 1)."""
        return max(1, math.ceil((wanted - tokens) / self.rate))

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_full(self, now: float) -> None:
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.rate >= self.burst:
                del self._buckets[key]  # full again: forgetting it changes nothing
