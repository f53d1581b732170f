"""Reading history back from ``CULTO_EVENTS``: replay after a sequence, and current state.

Replay uses a short-lived ephemeral pull consumer with the client's filter subjects, read in
batches so a large replay is paced by the reader instead of buffered. The number of replays
running at once is bounded: nats-server limits consumers per stream (1,000 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from culto.errors import NotFound
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.events import StoredEvent, decode_event, decode_js_msg
from mesh.retry import retry_transient
from mesh.subjects import EVENTS_STREAM, event_subject
from schemas.events import EVENT_TYPES

log = logging.getLogger(__name__)


class EventReader:
    """Reads stored events.

    Args:
        mesh: The process's connection.
        max_concurrent_replays: Upper bound on replay consumers alive at once.
        batch: Messages fetched per round trip.
    """

    def __init__(
        self, mesh: MeshConnection, *, max_concurrent_replays: int = 64, batch: int = 256
    ) -> None:
        self._mesh = mesh
        self._slots = asyncio.Semaphore(max_concurrent_replays)
        self._batch = batch
        self.replays = 0

    async def last_seq(self) -> int:
        """The stream's last sequence (0 when empty)."""
        with nats_errors("reading CULTO_EVENTS state"):
            info = await self._mesh.jsm.stream_info(EVENTS_STREAM)
        return int(info.state.last_seq)

    async def replay(
        self, filters: list[str], after: int, *, until: int | None = None
    ) -> AsyncIterator[list[StoredEvent]]:
        """Yield batches of events matching ``filters`` with sequence > ``after``, ascending.

        Stops once the stream has nothing more pending for these filters, or after passing
        ``until``. Malformed messages are skipped.

        Raises:
            MeshError: if JetStream fails mid-way.
        """
        async with self._slots:
            self.replays += 1
            config = api.ConsumerConfig(
                filter_subjects=filters,
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=after + 1,
                ack_policy=api.AckPolicy.NONE,
                inactive_threshold=30.0,
                mem_storage=True,
                num_replicas=1,
            )

            async def subscribe() -> JetStreamContext.PullSubscription:
                with nats_errors("starting replay"):
                    return await self._mesh.js.pull_subscribe(
                        filters[0], stream=EVENTS_STREAM, config=config
                    )

            sub = await retry_transient(subscribe, what="starting replay")

            async def pending() -> int:
                with nats_errors("starting replay"):
                    return int((await sub.consumer_info()).num_pending or 0)

            async def fetch() -> list[Msg]:
                with nats_errors("replaying events"):
                    return await sub.fetch(self._batch, timeout=5)

            try:
                if not await retry_transient(pending, what="starting replay"):
                    return
                done = False
                while not done:
                    msgs = await retry_transient(fetch, what="replaying events")
                    batch: list[StoredEvent] = []
                    for msg in msgs:
                        meta = msg.metadata
                        event = decode_js_msg(msg)
                        if event is not None:
                            batch.append(event)
                        seq = meta.sequence.stream
                        if meta.num_pending == 0 or (until is not None and seq >= until):
                            done = True
                            break
                    if batch:
                        yield batch
            finally:
                await self._delete_consumer(sub)

    async def _delete_consumer(self, sub: object) -> None:
        # Deleting at once (not waiting for inactive_threshold) keeps us far from the
        # per-stream consumer limit when many clients join together.
        with contextlib.suppress(Exception):
            name = (await sub.consumer_info()).name  # type: ignore[attr-defined]
            await sub.unsubscribe()  # type: ignore[attr-defined]
            await self._mesh.jsm.delete_consumer(EVENTS_STREAM, name)

    async def latest(
        self, video_ids: Iterable[str], event_types: Iterable[str] = ()
    ) -> list[StoredEvent]:
        """The latest stored event of each type for each video, ascending by sequence."""
        types = list(event_types) or list(EVENT_TYPES)
        subjects = [event_subject(v, t) for v in video_ids for t in types]
        results = await asyncio.gather(*(self._last(s) for s in subjects))
        found = [r for r in results if r is not None]
        found.sort(key=lambda e: e.seq)
        return found

    async def _last(self, subject: str) -> StoredEvent | None:
        try:
            with nats_errors("reading the latest events"):
                raw = await self._mesh.jsm.get_last_msg(EVENTS_STREAM, subject, direct=True)
        except NotFound:
            return None  # no event of this type for this video yet
        if raw.seq is None or raw.data is None:
            return None
        # A direct get returns the stored headers (Culto-Channel among them) with its own.
        return decode_event(raw.seq, raw.subject or subject, raw.data, raw.time, raw.headers)
