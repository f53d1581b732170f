"""Retrying a mesh operation until it succeeds, with capped exponential back-off.

After a JetStream failover the client connection is often fine (it may never have dropped), but
creating a consumer or a watch fails until the stream has a new leader, and no reconnect event
follows to trigger another attempt. Re-subscriptions therefore retry on their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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
