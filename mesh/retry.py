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
