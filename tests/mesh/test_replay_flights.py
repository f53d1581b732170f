"""Clients resuming from the same point share the reader's requests (real nats-server).

Counted in requests (``EventReader.requests``), never in time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mesh import EventPublisher, EventReader, MeshConnection
from mesh.direct_get import DirectBatch, direct_get
from mesh.events import StoredEvent
from mesh.subjects import event_filters
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID

pytestmark = pytest.mark.timeout(60)


async def _publish(pub: EventPublisher, video: str, n: int) -> list[int]:
    seqs = []
    for progress in range(n):
        event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress)
        seqs.append((await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq)
    return seqs


async def _collect(reader: EventReader, video: str, after: int, until: int) -> list[StoredEvent]:
    filters = event_filters([video])
    replay = reader.replay(filters, after, until=until, gapless=True)
    return [event async for batch in replay for event in batch]


async def test_identical_replays_cost_one_request_per_round(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    video = new_video_id()
    after = (await _publish(pub, new_video_id(), 1))[0]  # the point every client resumes from
    seqs = await _publish(pub, video, 12)
    reader = EventReader(mesh, batch=4)
    results = await asyncio.gather(*(_collect(reader, video, after, seqs[-1]) for _ in range(50)))
    # Three rounds of four events, each one request for all fifty (150 without sharing).
    assert reader.requests == 3
    assert reader.flights.joined == 49 * 3
    for events in results:
        assert [e.seq for e in events] == seqs  # complete, ascending, no duplicate
    assert results[0][0] is results[-1][0]  # decoded once: the very same event objects


async def test_different_filters_share_nothing_and_see_only_their_own(
    mesh: MeshConnection,
) -> None:
    pub = EventPublisher(mesh)
    a, b = new_video_id(), new_video_id()
    after = (await _publish(pub, new_video_id(), 1))[0]
    seqs_a = await _publish(pub, a, 5)
    seqs_b = await _publish(pub, b, 5)
    reader = EventReader(mesh)
    head = seqs_b[-1]
    calls = [_collect(reader, a, after, head) for _ in range(20)]
    calls += [_collect(reader, b, after, head) for _ in range(20)]
    results = await asyncio.gather(*calls)
    # One request per video (and the trim check of b's, whose first event is past `after`).
    replays = reader.requests - reader.trim_checks
    assert replays == 2
    for n, events in enumerate(results):
        assert [e.seq for e in events] == (seqs_a if n < 20 else seqs_b)
        assert {e.video_id for e in events} == {a if n < 20 else b}


async def test_a_cancelled_client_does_not_cancel_the_read_of_the_others(
    mesh: MeshConnection,
) -> None:
    pub = EventPublisher(mesh)
    video = new_video_id()
    after = (await _publish(pub, new_video_id(), 1))[0]
    seqs = await _publish(pub, video, 8)
    reader = EventReader(mesh)
    tasks = [asyncio.ensure_future(_collect(reader, video, after, seqs[-1])) for _ in range(10)]
    await asyncio.sleep(0)  # every replay has joined the one request
    tasks[0].cancel()
    done = await asyncio.gather(*tasks[1:])
    assert all([e.seq for e in events] == seqs for events in done)
    assert reader.requests == 1
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]


async def test_snapshots_at_one_point_share_one_request(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    a, b = new_video_id(), new_video_id()
    await _publish(pub, a, 3)
    last = await _publish(pub, b, 2)
    reader = EventReader(mesh)
    head = last[-1]
    states = await asyncio.gather(*(reader.latest([a, b], up_to=head) for _ in range(30)))
    assert reader.requests == 1
    assert all([e.seq for e in state] == [head - 2, head] for state in states)
    # A snapshot asked after that answer is a request of its own (nothing is cached).
    await reader.latest([a, b], up_to=head)
    assert reader.requests == 2
    # Without a point ("the newest"), callers share only a request that has not left yet.
    newest = await asyncio.gather(*(reader.latest([a, b]) for _ in range(10)))
    assert reader.requests == 3 and all(s == newest[0] for s in newest)


async def test_the_pool_bounds_requests_and_waiting_ones_gather_joiners(
    mesh: MeshConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    pub = EventPublisher(mesh)
    videos = [new_video_id() for _ in range(10)]
    seqs = {v: await _publish(pub, v, 3) for v in videos}
    in_flight = most = 0

    async def counted(*args: Any, **kwargs: Any) -> DirectBatch:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await direct_get(*args, **kwargs)  # the real request
        finally:
            in_flight -= 1

    monkeypatch.setattr("mesh.replay.direct_get", counted)
    reader = EventReader(mesh, max_concurrent_replays=3)

    async def replay(video: str) -> list[int]:
        start, end = seqs[video][0] - 1, seqs[video][-1]
        return [
            e.seq async for b in reader.replay(event_filters([video]), start, until=end) for e in b
        ]

    results = await asyncio.gather(*(replay(v) for v in videos for _ in range(3)))
    assert most == 3  # never more than the pool's slots at once
    assert reader.requests == 10  # three clients of each video, one request
    assert results == [seqs[v] for v in videos for _ in range(3)]


async def test_a_request_sent_before_a_clients_horizon_does_not_answer_it(
    mesh: MeshConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hazard of sharing: an answer is what the stream held when its request left. A
    client whose horizon is newer must not take it for the complete history."""
    pub = EventPublisher(mesh)
    video = new_video_id()
    after = (await _publish(pub, new_video_id(), 1))[0]
    old = await _publish(pub, video, 3)
    answered = asyncio.Event()
    release = asyncio.Event()

    async def held(*args: Any, **kwargs: Any) -> DirectBatch:
        batch = await direct_get(*args, **kwargs)  # the server answered: the stream as it was
        answered.set()
        await release.wait()  # ... and the answer is still on its way to its callers
        return batch

    monkeypatch.setattr("mesh.replay.direct_get", held)
    reader = EventReader(mesh)
    first = asyncio.ensure_future(_collect(reader, video, after, old[-1]))
    await answered.wait()
    new = await _publish(pub, video, 2)  # stored after that request left
    covered = asyncio.ensure_future(_collect(reader, video, after, old[-1]))
    newer = asyncio.ensure_future(_collect(reader, video, after, new[-1]))
    await asyncio.sleep(0)
    release.set()
    assert [e.seq for e in await first] == old
    assert [e.seq for e in await covered] == old  # the old horizon: the old answer serves it
    assert [e.seq for e in await newer] == old + new  # a request of its own, after its horizon
    assert reader.requests == 2 and reader.flights.joined == 1


@pytest.mark.parametrize("batch", [3, 256])
async def test_replays_while_the_stream_grows_each_get_everything_up_to_their_own_until(
    mesh: MeshConnection, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """A storm in small: bursts of clients resume from one point while events keep coming,
    each with its own horizon (the newest acknowledged event when it starts), through a pool
    of two slots, in batches of three (many rounds, many flights) or in one request each (every
    burst asks the very same question as the one before). Answers take 20 ms more to come
    back, as over a network, so that events are stored while requests that left before them
    are still out."""

    async def distant(*args: Any, **kwargs: Any) -> DirectBatch:
        batch = await direct_get(*args, **kwargs)
        await asyncio.sleep(0.02)
        return batch

    monkeypatch.setattr("mesh.replay.direct_get", distant)
    pub = EventPublisher(mesh)
    video, other = new_video_id(), new_video_id()
    after = (await _publish(pub, other, 1))[0]
    seqs = await _publish(pub, video, 6)
    reader = EventReader(mesh, max_concurrent_replays=2, batch=batch)
    clients: list[tuple[int, asyncio.Future[list[StoredEvent]]]] = []
    for burst in range(12):
        until = seqs[-1]  # acknowledged, so stored: what a hub's head is
        for _ in range(8):
            clients.append((until, asyncio.ensure_future(_collect(reader, video, after, until))))
        seqs += await _publish(pub, video, 2)  # the stream moves on while they read
        if burst % 3 == 0:
            await _publish(pub, other, 1)  # and not only this video's cursor
    for until, client in clients:
        got = [e.seq for e in await client]
        assert got == [s for s in seqs if s <= until]  # no gap, no duplicate, ascending
    assert reader.flights.joined > 0
