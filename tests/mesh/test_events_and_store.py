"""Events (idempotent publish, tolerant decode) and the KV store (CAS under contention)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from culto.errors import Conflict, InvalidInput, NotFound
from mesh import EventPublisher, EventReader, LiveFeed, MeshConnection, StoredEvent, VideoStore
from mesh.events import CHANNEL_HEADER
from mesh.subjects import event_filters
from schemas import VideoRecord, VideoStatus, VideoStatusEventDTO, new_video_id, utc_now
from schemas.identity import DEFAULT_CHANNEL_ID
from tests.support import eventually


def _record(video_id: str) -> VideoRecord:
    now = utc_now()
    return VideoRecord(
        id=video_id, status=VideoStatus.QUEUED, created_at=now, updated_at=now, job_id="a" * 32
    )


async def test_duplicate_msg_id_is_stored_once(mesh: MeshConnection) -> None:
    vid = new_video_id()
    publisher = EventPublisher(mesh)
    event = VideoStatusEventDTO(video_id=vid, status=VideoStatus.PROCESSING, progress=10)
    first = await publisher.publish(event, channel_id=DEFAULT_CHANNEL_ID, msg_id=f"{vid}:p10")
    again = await publisher.publish(event, channel_id=DEFAULT_CHANNEL_ID, msg_id=f"{vid}:p10")
    other = await publisher.publish(event, channel_id=DEFAULT_CHANNEL_ID, msg_id=f"{vid}:p11")
    assert not first.duplicate and again.duplicate and again.seq == first.seq
    assert other.seq > first.seq
    stored: list[StoredEvent] = []
    async for batch in EventReader(mesh).replay(event_filters([vid]), 0):
        stored += batch
    assert [e.seq for e in stored] == [first.seq, other.seq]


async def test_malformed_messages_are_skipped_not_fatal(
    mesh: MeshConnection, caplog: pytest.LogCaptureFixture
) -> None:
    vid = new_video_id()
    subject = f"culto.events.{vid}.video.status"
    received: list[StoredEvent] = []
    arrived = asyncio.Event()

    def collect(event: StoredEvent) -> None:
        received.append(event)
        arrived.set()

    feed = LiveFeed(mesh, collect)
    await feed.start(await EventReader(mesh).last_seq())
    try:
        with caplog.at_level(logging.WARNING, logger="mesh.events"):
            await mesh.js.publish(subject, b"{not json")
            await mesh.js.publish(subject, b'{"type": "video.status", "video_id": "x"}')
            good = await EventPublisher(mesh).publish(
                VideoStatusEventDTO(video_id=vid, status=VideoStatus.QUEUED, progress=0),
                channel_id=DEFAULT_CHANNEL_ID,
            )
            await asyncio.wait_for(arrived.wait(), 5)
    finally:
        await feed.stop()
    assert [e.seq for e in received] == [good.seq]
    assert feed.last_seq == good.seq
    assert sum("skipping malformed event" in r.getMessage() for r in caplog.records) == 2
    history: list[StoredEvent] = []
    async for batch in EventReader(mesh).replay(event_filters([vid]), 0):
        history += batch
    assert [e.seq for e in history] == [good.seq]


async def test_concurrent_writers_lose_no_update(mesh: MeshConnection) -> None:
    vid = new_video_id()
    writers = [VideoStore(mesh) for _ in range(4)]
    await writers[0].create(_record(vid))

    async def bump(store: VideoStore, times: int) -> None:
        for _ in range(times):
            await store.update(
                vid, lambda rec: rec.model_copy(update={"progress": rec.progress + 1})
            )

    await asyncio.gather(*(bump(store, 20) for store in writers))
    final = await writers[0].get(vid)
    assert final.record.progress == 80
    assert sum(store.cas_retries for store in writers) > 0  # the race really happened


async def test_store_errors(mesh: MeshConnection) -> None:
    store = VideoStore(mesh)
    vid = new_video_id()
    with pytest.raises(NotFound):
        await store.get(vid)
    with pytest.raises(NotFound):
        await store.update(vid, lambda rec: rec)
    await store.create(_record(vid))
    with pytest.raises(Conflict):
        await store.create(_record(vid))
    deleted = await store.delete(vid)
    assert deleted.id == vid
    assert await store.find(vid) is None


async def test_feed_keeps_retrying_a_failed_resubscribe(
    mesh: MeshConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the topology test: after a JetStream failover the consumer cannot be created
    # until the stream has a new leader, and no further reconnect comes to retry it.
    vid = new_video_id()
    received: list[StoredEvent] = []
    arrived = asyncio.Event()

    def collect(event: StoredEvent) -> None:
        received.append(event)
        arrived.set()

    feed = LiveFeed(mesh, collect)
    await feed.start(await EventReader(mesh).last_seq())
    real_subscribe = mesh.retried_js.subscribe
    failures: list[int] = []

    async def flaky_subscribe(*args: object, **kwargs: object) -> object:
        if len(failures) < 2:
            failures.append(1)
            raise TimeoutError("no stream leader yet")
        return await real_subscribe(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mesh.retried_js, "subscribe", flaky_subscribe)
    try:
        feed._schedule_resubscribe()  # what a reconnect does
        event = VideoStatusEventDTO(video_id=vid, status=VideoStatus.QUEUED, progress=0)
        good = await EventPublisher(mesh).publish(event, channel_id=DEFAULT_CHANNEL_ID)
        await asyncio.wait_for(arrived.wait(), 10)
    finally:
        await feed.stop()
    assert len(failures) == 2 and [e.seq for e in received] == [good.seq]


async def test_every_read_path_gives_the_events_channel(mesh: MeshConnection) -> None:
    """The Culto-Channel header reaches StoredEvent on the live feed, in replay and in the
    latest-event read; a missing or invalid header means the default channel."""
    vid = new_video_id()
    subject = f"culto.events.{vid}.video.status"
    body = VideoStatusEventDTO(video_id=vid, status=VideoStatus.QUEUED, progress=0)
    live: list[StoredEvent] = []
    feed = LiveFeed(mesh, live.append)
    await feed.start(await EventReader(mesh).last_seq())
    try:
        own = await EventPublisher(mesh).publish(body, channel_id="chan-1")
        # Stored before channels existed (no header), and a header that is not a channel id.
        await mesh.js.publish(subject, body.model_dump_json().encode())
        await mesh.js.publish(
            subject, body.model_dump_json().encode(), headers={CHANNEL_HEADER: "a.b *"}
        )
        last = await EventPublisher(mesh).publish(body, channel_id="chan-2")
        await eventually(lambda: bool(live) and live[-1].seq >= last.seq, 5)
    finally:
        await feed.stop()
    expected = ["chan-1", DEFAULT_CHANNEL_ID, DEFAULT_CHANNEL_ID, "chan-2"]
    assert [e.channel_id for e in live] == expected
    replayed = [
        e async for batch in EventReader(mesh).replay(event_filters([vid]), 0) for e in batch
    ]
    assert [e.channel_id for e in replayed] == expected
    assert replayed[0].seq == own.seq
    # The feed reads sequence and storage time from the delivery's reply subject
    # (mesh.events.js_position); replay from the stored message's headers: they agree.
    assert [(e.seq, e.time) for e in live] == [(e.seq, e.time) for e in replayed]
    assert all(e.time is not None and e.time.tzinfo is not None for e in live)
    (latest,) = await EventReader(mesh).latest([vid], ["video.status"])
    assert (latest.seq, latest.channel_id) == (last.seq, "chan-2")
    with pytest.raises(InvalidInput):
        await EventPublisher(mesh).publish(body, channel_id="no.dots")
