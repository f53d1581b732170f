"""Retrying a mesh operation until it succeeds, with capped exponential back-off.

After a JetStream failover the client connection is often fine (it may never have dropped), but
creating a consumer or a watch fails until the stream has a new leader, and no reconnect event
follows to trigger another attempt. Re-subscriptions therefore retry on their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from culto.errors import MeshTimeout, MeshUnavailable

T = TypeVar("T")

FAILOVER_DEADLINE = 15.0
"""Seconds a write keeps retrying through a stream's leader election (measured 4.5-7 s on a
3-node cluster losing a node, plus one attempt's own 5 s timeout): a single node loss must cost
no failed request."""

log = logging.getLogger(__name__)


async def retry_until_done(
    action: Callable[[], Awaitable[None]],
    *,
    what: str,
    keep_going: Callable[[], bool] = lambda: True,
    first_delay: float = 0.25,
    max_delay: float = 5.0,
) -> bool:
    """Run ``action`` until it succeeds or ``keep_going()`` turns false.

    Args:
        action: The operation (e.g. subscribe); any exception means "try again".
        what: Named in the warning logged after each failure.
        keep_going: Checked before every attempt.
        first_delay: Seconds before the second attempt; doubled each time up to ``max_delay``.

    Returns:
        True once ``action`` succeeded, False if stopped first. Cancel the task to stop at once.
    """
    delay = first_delay
    while keep_going():
        try:
            await action()
            return True
        except Exception:
            log.warning("%s failed; retrying in %.2fs", what, delay, exc_info=True)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
    return False


async def retry_transient(
    action: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = 4,
    first_delay: float = 0.1,
) -> T:
    """Run ``action``, retrying a transient JetStream answer a few times before giving up.

    A stream leader change or a busy server answers "service unavailable" or times out for a
    moment while the connection stays up; a reader that gave up at once ended SSE streams for
    nothing. Other errors, and the last transient one, propagate.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return await action()
        except (MeshUnavailable, MeshTimeout) as exc:
            if attempt == attempts:
                raise
            log.info("%s: %s; retry %d in %.2fs", what, exc.message, attempt, delay)
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # the loop returns or raises


async def retry_within(
    action: Callable[[], Awaitable[T]],
    *,
    what: str,
    deadline: float = FAILOVER_DEADLINE,
    first_delay: float = 0.1,
    max_delay: float = 1.0,
) -> T:
    """Run ``action``, retrying transient JetStream failures (no leader, a timeout) until
    ``deadline`` seconds have passed; then the last one propagates.

    Only for actions that are safe to repeat: a publish with a ``Nats-Msg-Id`` (JetStream
    stores it once), an overwrite, a read, a compare-and-set that re-reads first.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    delay = first_delay
    attempt = 0
    while True:
        attempt += 1
        try:
            return await action()
        except (MeshUnavailable, MeshTimeout) as exc:
            if loop.time() + delay > end:
                raise
            log.info("%s: %s; retry %d in %.2fs", what, exc.message, attempt, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


async def retry_undelivered(
    action: Callable[[], Awaitable[T]], *, what: str, deadline: float = FAILOVER_DEADLINE
) -> T:
    """Like :func:`retry_within`, for requests that must not run twice: only failures that
    prove the request reached nobody (:class:`MeshUnavailable`: no responders, not connected)
    are retried; a timeout (it may have been handled) propagates at once."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    delay = 0.1
    while True:
        try:
            return await action()
        except MeshUnavailable as exc:
            if loop.time() + delay > end:
                raise
            log.info("%s: %s; retrying in %.2fs", what, exc.message, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
