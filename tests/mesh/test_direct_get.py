"""Batched direct get (ADR-31) and the consumer-free EventReader, against a real nats-server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from culto.errors import HistoryTrimmed, MeshError, MeshUnavailable
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.direct_get import DirectBatch, direct_get, parse_time
from mesh.replay import MAX_CURSORS, _Matcher
from mesh.subjects import EVENTS_STREAM, event_filters
from schemas import ErrorEventDTO, VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from tests.conftest import IsolatedMesh

pytestmark = pytest.mark.timeout(60)


async def _status(pub: EventPublisher, video: str, progress: int = 1) -> int:
    event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress)
    return (await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq


async def _error(pub: EventPublisher, video: str) -> int:
    event = ErrorEventDTO(video_id=video, code="c", message="m")
    return (await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq


async def test_wire_format_batches_end_of_batch_and_statuses(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    seqs = [await _status(pub, vid, n) for n in range(5)]
    subject = f"culto.events.{vid}.video.status"
    batch = await direct_get(
        mesh.nc, EVENTS_STREAM, {"seq": seqs[0], "next_by_subj": subject, "batch": 3}
    )
    assert [m.seq for m in batch.messages] == seqs[:3]
    assert batch.num_pending == 2  # the end-of-batch status counts what is left
    first = batch.messages[0]
    assert first.subject == subject and first.headers["Culto-Channel"] == DEFAULT_CHANNEL_ID
    assert first.time is not None and first.time.tzinfo is not None
    rest = await direct_get(
        mesh.nc, EVENTS_STREAM, {"seq": seqs[3], "next_by_subj": subject, "batch": 10}
    )
    assert [m.seq for m in rest.messages] == seqs[3:] and rest.num_pending == 0
    # Nothing matches: a 404, read as an empty batch.
    none = await direct_get(
        mesh.nc, EVENTS_STREAM, {"seq": 1, "next_by_subj": "culto.events.x.error", "batch": 5}
    )
    assert none.messages == [] and none.num_pending == 0
    with pytest.raises(MeshError, match="408"):  # a request the server cannot read
        await direct_get(mesh.nc, EVENTS_STREAM, {"bogus": 1})
    with pytest.raises(MeshUnavailable):  # no stream, so no responder
        await direct_get(mesh.nc, "NO_SUCH_STREAM", {"seq": 1, "batch": 1}, timeout=2)


def test_parse_time_keeps_microseconds() -> None:
    parsed = parse_time("2026-11-30T12:06:40.481677617Z")
    assert parsed is not None and parsed.microsecond == 481677 and parsed.utcoffset() is not None
    assert parse_time("2026-11-30T12:06:40Z") is not None
    assert parse_time("") is None and parse_time("garbage") is None


async def test_replay_merges_filters_ascending_with_small_batches(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    rng = random.Random(3)
    videos = [new_video_id() for _ in range(4)]
    published: list[tuple[int, str, str]] = []
    for _ in range(120):
        vid = rng.choice(videos)
        if rng.random() < 0.3:
            published.append((await _error(pub, vid), vid, "error"))
        else:
            published.append((await _status(pub, vid), vid, "video.status"))
    reader = EventReader(mesh, batch=7, max_bytes=2000)  # many rounds, cursors out of step
    cases: list[tuple[list[str], list[str], int, int | None]] = [
        (videos[:1], [], 0, None),
        (videos[:3], [], published[10][0], None),
        (videos, ["error"], published[0][0], published[90][0]),
        (videos[1:3], ["video.status", "error"], published[50][0], published[51][0]),
    ]
    for chosen, types, after, until in cases:
        expected = [
            s
            for s, v, t in published
            if v in chosen and (not types or t in types) and s > after
            if until is None or s <= until
        ]
        filters = event_filters(chosen, types)
        batches = [b async for b in reader.replay(filters, after, until=until)]
        got = [e.seq for b in batches for e in b]
        assert got == expected
        assert all(len(b) > 0 for b in batches)


async def test_latest_is_one_request_consistent_at_up_to(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    a, b = new_video_id(), new_video_id()
    a1 = await _status(pub, a, 1)
    a_err = await _error(pub, a)
    b1 = await _status(pub, b, 1)
    a2 = await _status(pub, a, 2)
    reader = EventReader(mesh)
    assert [e.seq for e in await reader.latest([a, b])] == [a_err, b1, a2]
    assert reader.requests == 1
    assert [e.seq for e in await reader.latest([a, b], up_to=b1)] == [a1, a_err, b1]
    assert [e.seq for e in await reader.latest([a, b], ["video.status"], up_to=a_err)] == [a1]
    assert await reader.latest([a, b], up_to=a1 - 1) == []
    assert await reader.latest([new_video_id()]) == []
    assert await reader.latest([a], up_to=0) == []


async def test_bounds_and_first_seq(isolated_mesh: Callable[..., Any]) -> None:
    env: IsolatedMesh = await isolated_mesh()
    reader = EventReader(env.mesh)
    assert await reader.first_seq() is None
    assert (await reader.bounds()).last == 0
    pub = EventPublisher(env.mesh)
    seqs = [await _status(pub, new_video_id()) for _ in range(3)]
    assert await reader.first_seq() == seqs[0]
    bounds = await reader.bounds()
    assert (bounds.first, bounds.last) == (seqs[0], seqs[-1])


async def test_replay_and_snapshot_create_no_consumer(
    isolated_mesh: Callable[..., Any],
) -> None:
    env: IsolatedMesh = await isolated_mesh()
    pub = EventPublisher(env.mesh)
    videos = [new_video_id() for _ in range(10)]
    for n in range(200):
        await _status(pub, videos[n % 10], n % 100)
    created: list[str] = []

    async def advisory(msg: Any) -> None:
        created.append(msg.subject)

    sub = await env.mesh.nc.subscribe(
        f"$JS.EVENT.ADVISORY.CONSUMER.CREATED.{EVENTS_STREAM}.>", cb=advisory
    )
    before = (await env.mesh.jsm.stream_info(EVENTS_STREAM)).state.consumer_count
    reader = EventReader(env.mesh, batch=16)

    async def resume(i: int) -> int:
        filters = event_filters(videos[i % 10 : i % 10 + 2])
        count = sum([len(b) async for b in reader.replay(filters, i)])
        return count + len(await reader.latest(videos[: 1 + i % 10]))

    assert all(await asyncio.gather(*(resume(i) for i in range(200))))
    await env.mesh.nc.flush()
    await sub.unsubscribe()
    after = (await env.mesh.jsm.stream_info(EVENTS_STREAM)).state.consumer_count
    assert (before, after, created) == (0, 0, [])


class _LaggingReplica(EventReader):
    """Every direct get is answered by a follower that applied writes up to ``applied`` only."""

    applied = 0

    async def _request(
        self, request: dict[str, object], what: str, bound: int | None = None
    ) -> DirectBatch:
        batch = await super()._request(request, what, bound)
        kept = [m for m in batch.messages if m.seq <= self.applied]
        lost = len(batch.messages) - len(kept)
        return DirectBatch(kept, 0 if lost else batch.num_pending, batch.up_to_seq)


async def test_replay_on_a_replicated_stream_is_confirmed_by_the_leader(
    mesh: MeshConnection,
) -> None:
    pub = EventPublisher(mesh)
    vid, other = new_video_id(), new_video_id()
    seqs = []
    for n in range(12):
        seqs.append(await _status(pub, vid, n))
        await _status(pub, other, n)  # the stream moves on between the client's events
    filters = event_filters([vid])
    lagging = _LaggingReplica(mesh, batch=4)
    lagging.applied = seqs[5]
    # Why it matters: a lagging follower alone would end the replay early, silently.
    lagging.replicas = 1
    short = [e.seq async for b in lagging.replay(filters, seqs[0], until=seqs[-1]) for e in b]
    assert short == seqs[1:6]
    lagging.replicas = 3
    got = [e.seq async for b in lagging.replay(filters, seqs[0], until=seqs[-1]) for e in b]
    assert got == seqs[1:]
    assert lagging.lagging == len(seqs) - 6  # one leader request per event the follower missed
    # A cursor that reached `until` needs no confirmation; nor does one past the stream's end
    # when the follower is current.
    current = EventReader(mesh)
    current.replicas = 3
    assert [e.seq async for b in current.replay(filters, 0, until=seqs[-1]) for e in b] == seqs
    assert current.lagging == 0


async def test_replay_of_many_videos_reads_one_cursor_and_filters(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    videos = [new_video_id() for _ in range(40)]
    published: list[tuple[int, str, str]] = []
    for n in range(160):
        vid = videos[n % 40]
        if n % 4 == 0:
            published.append((await _error(pub, vid), vid, "error"))
        else:
            published.append((await _status(pub, vid), vid, "video.status"))
    after, until = published[0][0], published[-1][0]
    for chosen, types in ((videos[:35], []), (videos[5:], ["error"])):
        filters = event_filters(chosen, types)
        assert len(filters) > MAX_CURSORS
        reader = EventReader(mesh, batch=16)
        got = [e.seq async for b in reader.replay(filters, after, until=until) for e in b]
        want = [s for s, v, t in published if v in chosen and (not types or t in types)]
        assert got == [s for s in want if s > after]
        # One cursor for every event: (events in range) / batch requests, not one per subject.
        assert reader.requests <= len(published) // 16 + 2


def test_matcher_follows_nats_wildcards() -> None:
    vid = new_video_id()
    matcher = _Matcher([f"culto.events.{vid}.>", "culto.events.*.error", "a.b.c"])
    assert matcher.matches(f"culto.events.{vid}.video.status")
    assert matcher.matches(f"culto.events.{new_video_id()}.error")
    assert matcher.matches("a.b.c")
    assert not matcher.matches(f"culto.events.{new_video_id()}.video.status")
    assert not matcher.matches(f"culto.events.{vid}")
    assert not matcher.matches("a.b.c.d")


async def test_replay_notices_events_trimmed_while_it_runs(
    isolated_mesh: Callable[..., Any],
) -> None:
    # Issue 21, defect 4: a direct get answers the next *surviving* message, so retention that
    # trimmed the head of the stream during a slow replay made it skip events silently.
    env: IsolatedMesh = await isolated_mesh()
    pub = EventPublisher(env.mesh)
    vid, other = new_video_id(), new_video_id()
    mine = []
    for _ in range(40):
        mine.append(await _status(pub, vid))
        await _status(pub, other)
    reader = EventReader(env.mesh, batch=5)
    replay = reader.replay(event_filters([vid]), 0, gapless=True)
    first = await anext(replay)
    assert [e.seq for e in first] == mine[:5]
    await env.mesh.jsm.purge_stream(EVENTS_STREAM, seq=mine[20])  # retention, mid-replay
    with pytest.raises(HistoryTrimmed) as gone:
        async for _ in replay:
            pass
    assert gone.value.first_available == mine[20]
    assert reader.trimmed == 1
    # A replay that starts inside what is kept, or reaches its end, is not disturbed.
    within = reader.replay(event_filters([vid]), mine[20] - 1, gapless=True)
    assert [e.seq async for b in within for e in b] == mine[20:]
    # Without gapless (operator tools): whatever the stream still holds.
    assert [e.seq async for b in reader.replay(event_filters([vid]), 0) for e in b] == mine[20:]
