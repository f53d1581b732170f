"""``stop_task`` ends a task even when the task swallows a cancellation (as nats-py does)."""

from __future__ import annotations

import asyncio

from culto.resources import stop_task


async def test_a_task_that_swallows_one_cancellation_is_still_stopped() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # like nats-py's _flush_pending: the loop goes on

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_task(task), 5)
    assert task.cancelled() and swallowed == 1


async def test_a_failed_or_missing_task_is_fine() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0)
    await stop_task(task)  # the error is retrieved, not raised or logged as lost
    assert isinstance(task.exception(), RuntimeError)
    await stop_task(None)
