"""The live event feed: one ordered consumer on ``culto.events.>`` per process (the events,
and the identity fence's marks among them: :mod:`mesh.fence`).

Every event is handed, in stream order, to a synchronous callback that must not block (the
frontend's fan-out only enqueues). nats-py can drop messages for a subscription whose pending
limit is hit and still advance its own cursor, so the feed keeps its *own* cursor
(``last_seq``, advanced only on delivery) and resubscribes from ``last_seq + 1`` after a
slow-consumer error or a reconnect. Sequences at or below the cursor are ignored, so a resubscribe
never delivers twice.

**A recreated stream** (deleted and provisioned again, or restored from a backup) starts its
sequences again, and an ordered consumer resumes "after the last sequence it saw", so it would
deliver nothing until the new stream passed the old end, and the feed would drop the new
stream's events below it. The feed therefore reads the stream's info every
:data:`STREAM_CHECK_INTERVAL` seconds: another creation time, or a last sequence below the
feed's cursor, means another stream. ``on_recreated(first, last)`` is then called (the hub
tells its clients: a ``stream.reset``) and the feed follows the new stream from its first event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from nats.aio.msg import Msg
from nats.js import api

from culto.errors import CultoError
from culto.resources import stop_task
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.events import StoredEvent, decode_event, js_position
from mesh.fence import FenceMark, read_mark
from mesh.retry import retry_until_done
from mesh.subjects import EVENTS_ALL, EVENTS_STREAM, FENCE_SUBJECT

log = logging.getLogger(__name__)

EventCallback = Callable[[StoredEvent], None]
FenceCallback = Callable[[FenceMark], None]
RecreatedCallback = Callable[[int, int], None]
"""Told the new stream's first and last sequence when ``CULTO_EVENTS`` was recreated."""

STREAM_CHECK_INTERVAL = 2.0
"""Seconds between checks that ``CULTO_EVENTS`` is still the stream the feed follows."""


class LiveFeed:
    """Follows ``CULTO_EVENTS`` from a sequence onwards.

    Args:
        mesh: The process's connection.
        on_event: Called once per event, in ascending sequence order; must not block.
        pending_msgs_limit: Client-side buffer of the subscription.
        on_recreated: Called (synchronously, before any event of the new stream) when the
            stream was recreated (see the module docstring).
        check_interval: Seconds between the stream's identity checks.
        on_fence: Called with each identity fence mark, in stream order among the events
            (:mod:`mesh.fence`); without it marks are skipped.
    """

    def __init__(
        self,
        mesh: MeshConnection,
        on_event: EventCallback,
        *,
        pending_msgs_limit: int = 1_000_000,
        on_recreated: RecreatedCallback | None = None,
        check_interval: float = STREAM_CHECK_INTERVAL,
        on_fence: FenceCallback | None = None,
    ) -> None:
        self._mesh = mesh
        self._on_event = on_event
        self._on_fence = on_fence
        self._on_recreated = on_recreated
        self._check_interval = check_interval
        self._created: datetime | None = None
        self._checking: asyncio.Task[None] | None = None
        self.recreations = 0
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

    async def start(self, after_seq: int, *, created: datetime | None = None) -> None:
        """Deliver every event with sequence > ``after_seq`` from now on (``created``: when
        the stream was created, as its info said with ``after_seq``)."""
        self.last_seq = after_seq
        self._created = created
        self._running = True
        await self._subscribe()
        self._checking = asyncio.get_running_loop().create_task(self._check_stream())

    async def _check_stream(self) -> None:
        """Notice a recreated stream (see the module docstring); runs until stopped."""
        while self._running:
            await asyncio.sleep(self._check_interval)
            # Delivered before the request, so stored before the answer: a last sequence
            # below it means another stream (later deliveries may overtake the answer).
            delivered = self.last_seq
            try:
                with nats_errors("checking CULTO_EVENTS"):
                    info = await self._mesh.jsm.stream_info(EVENTS_STREAM)
            except CultoError:
                continue  # NATS trouble: the reconnect logic handles it, check again later
            created, last = info.created, int(info.state.last_seq)
            if self._created is None:
                self._created = created
            if (created is None or created == self._created) and last >= delivered:
                continue
            log.warning(
                "CULTO_EVENTS was recreated (last sequence %d, was %d)", last, self.last_seq
            )
            self._created = created
            self.recreations += 1
            self.last_seq = 0  # the new stream's events, from its first one
            if self._on_recreated is not None:
                self._on_recreated(int(info.state.first_seq), last)
            await retry_until_done(
                self._subscribe, what="live feed resubscribe", keep_going=lambda: self._running
            )

    async def _subscribe(self) -> None:
        async with self._lock:
            await self._unsubscribe()
            if not self._running:
                return
            config = api.ConsumerConfig(opt_start_seq=self.last_seq + 1)
            # A short request timeout: during a leader election each attempt fails fast and
            # the next comes soon (two 5 s timeouts made feeds come back ~10 s after a kill).
            with nats_errors("subscribing to the live event feed"):
                self._sub = await self._mesh.retried_js.subscribe(
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

    def rewind(self, after_seq: int) -> None:
        """Deliver again from ``after_seq + 1`` (what was delivered after it was discarded)."""
        self.last_seq = after_seq
        self._schedule_resubscribe()

    def _schedule_resubscribe(self) -> None:
        if self._running:
            self.resubscribes += 1
            task = asyncio.get_running_loop().create_task(self._resubscribe())
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
            task.add_done_callback(_log_failure)

    async def _resubscribe(self) -> None:
        await retry_until_done(
            self._subscribe,
            what="live feed resubscribe",
            keep_going=lambda: self._running,
            first_delay=0.1,
            max_delay=1.0,
        )

    async def _deliver(self, msg: Msg) -> None:
        position = js_position(msg.reply)
        if position is None:
            log.warning("skipping a message on %s without JetStream metadata", msg.subject[:120])
            return
        seq, stamp = position
        if seq <= self.last_seq:
            return
        self.last_seq = seq
        if msg.subject == FENCE_SUBJECT:
            mark = read_mark(msg.data)
            if mark is not None and self._on_fence is not None:
                self._on_fence(mark)
            return
        event = decode_event(seq, msg.subject, msg.data, stamp, msg.headers)
        if event is not None:
            self._on_event(event)

    async def stop(self) -> None:
        """Stop following; safe to call twice."""
        self._running = False
        checking, self._checking = self._checking, None
        await stop_task(checking)
        for task in list(self._retries):
            await stop_task(task)
        async with self._lock:
            await self._unsubscribe()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live feed task failed", exc_info=task.exception())
