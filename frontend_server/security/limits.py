"""Per-client abuse limits of the edge: a token bucket for REST requests, a cap on open streams.

A *client* is its user when the request is authenticated (all of one user's sessions and
tokens share one bucket), else its address (``request.remote_ip``, which honours
``X-Forwarded-For`` only from ``TRUSTED_PROXIES``). Sign-in attempts have buckets of their
own: per address (one-time links and passwords alike, so guessing is slow from one address),
per (account, address) and a ten times larger ceiling per account (so guessing one account from
many addresses stays slow, while one address that burns its attempts on someone's account does
not lock that person out: their own address has its own bucket). Limits are
kept in this process: with N frontend replicas behind a load balancer a client may get up to N
times the rate (use session affinity, or divide the figures by N). The buckets are
:class:`culto.buckets.TokenBuckets` (memory stays bounded).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from culto.buckets import TokenBuckets
from culto.errors import ConfigError

LOGIN_ACCOUNT_CEILING = 10
"""An account's sign-in attempts over all addresses, as a multiple of one address's."""
WS_MESSAGES_PER_SECOND = 50.0
"""Client messages one WebSocket may send per second, on average (bursts of :data:`WS_BURST`);
beyond, each message is refused, and a socket that keeps going is closed with 1008."""
WS_BURST = 200


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """The limits of one client.

    Attributes:
        requests_per_minute: REST requests a client may make per minute, on average.
        burst: Requests it may make at once (the bucket's size).
        streams_per_client: Event streams it may hold open at once.
    """

    requests_per_minute: int = 600
    burst: int = 120
    streams_per_client: int = 100
    logins_per_minute: int = 10
    """Login attempts per address per minute (bursts of twice as many); an account gets half."""

    def __post_init__(self) -> None:
        if self.requests_per_minute < 1 or self.burst < 1:
            raise ConfigError("CULTO_RATE_LIMIT: must allow at least 1 request")
        if self.streams_per_client < 1:
            raise ConfigError("CULTO_MAX_STREAMS_PER_CLIENT: must be at least 1")
        if self.logins_per_minute < 2:
            raise ConfigError("CULTO_LOGINS_PER_MINUTE: must be at least 2")

    @property
    def policy(self) -> str:
        """The ``RateLimit-Policy`` header value: the burst per window of seconds."""
        window = math.ceil(self.burst * 60 / self.requests_per_minute)
        return f"{self.burst};w={window}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request, and what the ``RateLimit-*`` headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    """Seconds until the bucket is full again."""
    retry_after: int
    """Seconds until one request is allowed again (0 when allowed)."""


class ClientLimits:
    """The token buckets and stream counts of every client of one application.

    Args:
        config: The limits.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self, config: RateLimitConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._buckets = TokenBuckets(config.requests_per_minute / 60.0, config.burst, clock=clock)
        self._streams: dict[str, int] = {}
        per_minute = config.logins_per_minute
        self._login_address = TokenBuckets(per_minute / 60.0, 2 * per_minute, clock=clock)
        self._login_pair = TokenBuckets(per_minute / 120.0, per_minute, clock=clock)
        self._login_account = TokenBuckets(
            LOGIN_ACCOUNT_CEILING * per_minute / 120.0,
            LOGIN_ACCOUNT_CEILING * per_minute,
            clock=clock,
        )

    @property
    def config(self) -> RateLimitConfig:
        """The limits."""
        return self._config

    def take(self, key: str) -> Decision:
        """Spend one request of ``key``'s bucket, if it has one."""
        allowed, tokens = self._buckets.take(key)
        reset = math.ceil((self._config.burst - tokens) / self._buckets.rate)
        retry = 0 if allowed else self._buckets.seconds_until(tokens, 1.0)
        return Decision(allowed, self._config.burst, int(tokens), reset, retry)

    def login_attempt(self, address: str, account: str | None) -> int:
        """Spend one sign-in attempt from ``address`` for ``account`` (``None``: a one-time
        link, limited per address only): 0 when allowed, else the seconds to wait (every
        bucket is charged, so a refused attempt still counts)."""
        checks = [(self._login_address, address)]
        if account is not None:
            checks += [
                (self._login_pair, f"{account}\x00{address}"),
                (self._login_account, account),
            ]
        wait = 0
        for buckets, key in checks:
            allowed, left = buckets.take(key)
            if not allowed:
                wait = max(wait, buckets.seconds_until(left, 1.0))
        return wait

    def open_stream(self, key: str) -> bool:
        """Count one more open stream of ``key``; False (nothing counted) over the cap."""
        count = self._streams.get(key, 0)
        if count >= self._config.streams_per_client:
            return False
        self._streams[key] = count + 1
        return True

    def close_stream(self, key: str) -> None:
        """One stream of ``key`` ended."""
        count = self._streams.get(key, 0) - 1
        if count > 0:
            self._streams[key] = count
        else:
            self._streams.pop(key, None)


def rate_headers(decision: Decision, config: RateLimitConfig) -> dict[str, str]:
    """The IETF ``RateLimit-*`` headers (draft-ietf-httpapi-ratelimit-headers-07) of a decision,
    plus ``Retry-After`` when the request was refused."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset),
        "RateLimit-Policy": config.policy,
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers
