"""The live event feed: one ordered consumer on ``culto.events.>`` per process.

Every event is handed, in stream order, to a synchronous callback that must not block (the
frontend's fan-out only enqueues). nats-py can drop messages for a subscription whose pending
limit is hit and still advance its own cursor, so the feed keeps its *own* cursor
(``last_seq``, advanced only on delivery) and resubscribes from ``last_seq + 1`` after a
slow-consumer error or a reconnect. Sequences at or below the cursor are ignored, so a resubscribe
never delivers twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.js import api

from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.events import StoredEvent, decode_js_msg
from mesh.retry import retry_until_done
from mesh.subjects import EVENTS_ALL, EVENTS_STREAM

log = logging.getLogger(__name__)

EventCallback = Callable[[StoredEvent], None]


class LiveFeed:
    """Follows ``CULTO_EVENTS`` from a sequence onwards.

    Args:
        mesh: The process's connection.
        on_event: Called once per event, in ascending sequence order; must not block.
        pending_msgs_limit: Client-side buffer of the subscription.
    """

    def __init__(
        self,
        mesh: MeshConnection,
        on_event: EventCallback,
        *,
        pending_msgs_limit: int = 1_000_000,
    ) -> None:
        self._mesh = mesh
        self._on_event = on_event
        self._pending = pending_msgs_limit
        self._sub: object | None = None
        self._lock = asyncio.Lock()
        self._running = False
        self.last_seq = 0
        self.resubscribes = 0
        self._retries: set[asyncio.Task[None]] = set()
        mesh.on_reconnect(self._schedule_resubscribe)
        mesh.on_slow_consumer(self._schedule_resubscribe)

    @property
    def is_subscribed(self) -> bool:
        """True while a live subscription exists (false during a failed resubscribe)."""
        return self._running and self._sub is not None

    async def start(self, after_seq: int) -> None:
        """Deliver every event with sequence > ``after_seq`` from now on."""
        self.last_seq = after_seq
        self._running = True
        await self._subscribe()

    async def _subscribe(self) -> None:
        async with self._lock:
            await self._unsubscribe()
            if not self._running:
                return
            config = api.ConsumerConfig(opt_start_seq=self.last_seq + 1)
            with nats_errors("subscribing to the live event feed"):
                self._sub = await self._mesh.js.subscribe(
                    EVENTS_ALL,
                    stream=EVENTS_STREAM,
                    cb=self._deliver,
                    ordered_consumer=True,
                    deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                    config=config,
                    idle_heartbeat=2.0,
                    pending_msgs_limit=self._pending,
                    pending_bytes_limit=512 * 1024 * 1024,
                )

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()  # type: ignore[attr-defined]

    def _schedule_resubscribe(self) -> None:
        if self._running:
            self.resubscribes += 1
            task = asyncio.get_running_loop().create_task(self._resubscribe())
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
            task.add_done_callback(_log_failure)

    async def _resubscribe(self) -> None:
        await retry_until_done(
            self._subscribe, what="live feed resubscribe", keep_going=lambda: self._running
        )

    async def _deliver(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self.last_seq:
            return
        self.last_seq = seq
        event = decode_js_msg(msg)
        if event is not None:
            self._on_event(event)

    async def stop(self) -> None:
        """Stop following; safe to call twice."""
        self._running = False
        for task in list(self._retries):
            task.cancel()
        async with self._lock:
            await self._unsubscribe()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live feed task failed", exc_info=task.exception())
