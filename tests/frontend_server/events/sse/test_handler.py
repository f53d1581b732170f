"""The SSE endpoint over real HTTP (Tornado on an unused port) and a real nats-server: what the
handler answers (headers, health, bad input, filters, the resume point, heartbeats); how open
streams end or are dropped is in test_stream.py."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from culto_app.settings import Settings
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.subjects import event_filters
from schemas import ErrorEventDTO, HeartbeatEventDTO, VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from tests.frontend_server.sse_client import (
    EventServer,
    Frame,
    SSEClient,
    get_json,
    serve_events,
)
from tests.support import Member, eventually, publish_status


async def test_smoke_live(mesh: MeshConnection, settings: Settings, admin: Member) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        seq = await publish_status(pub, vid, 10)
        frames = await client.until_seq(seq)
        assert [f.seq for f in frames] == [seq]
        assert client.retry == 3000
        await client.close()


async def test_headers_no_gzip_no_etag_retry_first(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(
            srv.port,
            auth=admin.auth,
            query=[("videos", new_video_id())],
            headers={"Accept-Encoding": "gzip"},
        )
        assert client.status == 200
        assert client.headers["cache-control"] == "no-cache"
        assert client.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in client.headers
        assert "etag" not in client.headers
        first = await client.reader.readuntil(b"\r\n")  # chunk size line of the first chunk
        chunk = await client.reader.readexactly(int(first, 16))
        assert chunk == b"retry: 3000\n\n"
        await client.close()


async def test_health_counts_clients(mesh: MeshConnection, settings: Settings) -> None:
    async with serve_events(mesh, settings) as srv:
        assert await get_json(srv.port, "/api/v2/events/health") == (
            200,
            {"status": "healthy", "service": "sse_events", "connected_clients": 0},
        )
        streams = [await SSEClient.open(srv.port) for _ in range(3)]
        await eventually(lambda: srv.hub.stats().connected_clients == 3)
        _, health = await get_json(srv.port, "/api/v2/events/health")
        assert health["connected_clients"] == 3
        for s in streams:
            await s.close()
        # on_connection_close unregisters them
        await eventually(lambda: srv.hub.stats().connected_clients == 0)


@pytest.mark.parametrize(
    ("query", "headers", "fragment"),
    [
        ([("video_id", "../etc")], {}, "invalid video id"),
        ([("video_id", "*")], {}, "invalid video id"),
        ([("video_id", ">")], {}, "invalid video id"),
        ([("videos", "a.b,c")], {}, "invalid video id"),
        ([("video_id", "3F2B8C1E-5D4A-4C7B-9E1F-0A2B3C4D5E6F")], {}, "invalid video id"),
        ([("types", "video.status,bogus")], {}, "unknown event type"),
        ([("types", "*")], {}, "unknown event type"),
        ([("last_event_id", "abc")], {}, "invalid last event id"),
        ([("last_event_id", "-1")], {}, "invalid last event id"),
        ([("last_event_id", "1" * 30)], {}, "invalid last event id"),
        ([], {"Last-Event-ID": "12x"}, "invalid last event id"),
    ],
)
async def test_bad_input_is_400_json(
    mesh: MeshConnection,
    settings: Settings,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    fragment: str,
) -> None:
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(srv.port, query=query, headers=headers)
        assert client.status == 400
        assert client.headers["content-type"].startswith("application/json")
        error = client.error()["error"]
        assert error["code"] == "invalid_input"
        assert fragment in error["message"]
        assert srv.hub.stats().connected_clients == 0


async def test_filter_isolation_many_videos_and_clients(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    pub = EventPublisher(mesh)
    rng = random.Random(7)
    videos = [new_video_id() for _ in range(12)]
    async with serve_events(mesh, settings) as srv:
        subs: list[tuple[set[str] | None, set[str] | None]] = []
        clients: list[SSEClient] = []
        for i in range(40):
            chosen = set(rng.sample(videos, rng.randint(1, 3))) if i % 10 else None
            types = {"error"} if i % 7 == 3 else None
            query = [("video_id", v) for v in sorted(chosen or ())]
            if types:
                query.append(("types", ",".join(types)))
            clients.append(await SSEClient.open(srv.port, auth=admin.auth, query=query))
            subs.append((chosen, types))
        published: list[tuple[int, str, str]] = []
        for n in range(150):
            vid = videos[n % len(videos)]
            if n % 5 == 0:
                event: ErrorEventDTO | VideoStatusEventDTO = ErrorEventDTO(
                    video_id=vid, code="c", message=f"e{n}"
                )
            else:
                event = VideoStatusEventDTO(video_id=vid, status="PROCESSING", progress=n % 100)
            published.append(
                ((await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq, vid, event.type)
            )
        end = published[-1][0]
        # End marker for clients without a video filter (an error: it passes every type filter
        # used here).
        marker = ErrorEventDTO(video_id=new_video_id(), code="end", message="end")
        sentinel = (await pub.publish(marker, channel_id=DEFAULT_CHANNEL_ID)).seq
        for client, (chosen, types) in zip(clients, subs, strict=True):
            expected = [
                s
                for s, v, t in published
                if (chosen is None or v in chosen) and (types is None or t in types)
            ]
            got: list[Frame] = []
            while not got or got[-1].seq < (sentinel if chosen is None else expected[-1]):
                frame = await client.next()
                assert frame is not None
                got.append(frame)
            seqs = [f.seq for f in got if f.seq <= end]
            assert seqs == expected
            for frame in got:
                body = frame.json()
                assert body["type"] == frame.event
                assert chosen is None or body["video_id"] in chosen
            await client.close()


async def test_replay_exactness_header_and_query(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    pub = EventPublisher(mesh)
    a, b, c = (new_video_id() for _ in range(3))
    seqs = []
    for n in range(60):
        seqs.append(await publish_status(pub, (a, b, c)[n % 3], n))
    reader = EventReader(mesh)
    async with serve_events(mesh, settings) as srv:
        for i, last in enumerate([seqs[0] - 1, seqs[0], seqs[17], seqs[58], seqs[59]]):
            filters = event_filters([a, b], [])
            held = [e.seq async for batch in reader.replay(filters, last) for e in batch]
            if i % 2:
                client = await SSEClient.open(
                    srv.port,
                    auth=admin.auth,
                    query=[("videos", f"{a},{b}")],
                    headers={"Last-Event-ID": str(last)},
                )
            else:
                query = [("video_id", a), ("video_id", b), ("last_event_id", str(last))]
                client = await SSEClient.open(srv.port, auth=admin.auth, query=query)
            marker = await publish_status(pub, a, 99)
            got = [f.seq for f in await client.until_seq(marker)]
            assert got == [*held, marker]
            await client.close()


async def test_header_wins_over_query(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    seqs = [await publish_status(pub, vid, n) for n in range(6)]
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(
            srv.port,
            auth=admin.auth,
            query=[("video_id", vid), ("last_event_id", str(seqs[0]))],
            headers={"Last-Event-ID": str(seqs[3])},
        )
        assert [f.seq for f in await client.until_seq(seqs[-1])] == seqs[4:]
        await client.close()


async def test_late_joiner_snapshot_then_live(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    pub = EventPublisher(mesh)
    a, b = new_video_id(), new_video_id()
    await publish_status(pub, a, 1)
    a_status = await publish_status(pub, a, 2)
    a_error = (
        await pub.publish(
            ErrorEventDTO(video_id=a, code="x", message="m"), channel_id=DEFAULT_CHANNEL_ID
        )
    ).seq
    b_status = await publish_status(pub, b, 7)
    await publish_status(pub, new_video_id(), 3)  # another video: never shown
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(srv.port, auth=admin.auth, query=[("videos", f"{a},{b}")])
        only_status = await SSEClient.open(
            srv.port, auth=admin.auth, query=[("videos", f"{a},{b}"), ("types", "video.status")]
        )
        snapshot = await client.until_seq(b_status)
        assert [(f.seq, f.event) for f in snapshot] == [
            (a_status, "video.status"),
            (a_error, "error"),
            (b_status, "video.status"),
        ]
        assert snapshot[0].json()["progress"] == 2
        assert [f.seq for f in await only_status.until_seq(b_status)] == [a_status, b_status]
        live = await publish_status(pub, b, 8)
        assert [f.seq for f in await client.until_seq(live)] == [live]
        assert [f.seq for f in await only_status.until_seq(live)] == [live]
        # No video filter and no id: live only, no history.
        everything = await SSEClient.open(srv.port, auth=admin.auth)
        live2 = await publish_status(pub, a, 9)
        assert [f.seq for f in await everything.until_seq(live2)] == [live2]
        for c in (client, only_status, everything):
            await c.close()


async def test_heartbeats(mesh: MeshConnection, settings: Settings, admin: Member) -> None:
    fast = settings.model_copy(update={"sse_heartbeat_interval": 0.2})
    async with serve_events(mesh, fast) as srv:
        client = await SSEClient.open(
            srv.port, auth=admin.auth, query=[("video_id", new_video_id())]
        )
        beats = await client.collect(3, timeout=5, heartbeats=True)
        assert len(beats) == 3
        for beat in beats:
            assert beat.event == "heartbeat"
            assert beat.id is None
            body = HeartbeatEventDTO.model_validate(beat.json())
            assert body.type == "heartbeat"
        await client.close()


async def test_handoff_under_continuous_publishing(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    """Clients join at random moments while events flow; each sees no gap and no duplicate."""
    pub = EventPublisher(mesh)
    rng = random.Random(11)
    videos = [new_video_id() for _ in range(4)]
    published: list[tuple[int, str]] = []
    stop = asyncio.Event()

    async def publisher() -> None:
        n = 0
        while not stop.is_set():
            vid = videos[n % len(videos)]
            published.append((await publish_status(pub, vid, n % 100), vid))
            n += 1
            if n % 10 == 0:
                await asyncio.sleep(0)  # let joins interleave at random points

    async def joiner(i: int, srv: EventServer) -> tuple[int, set[str] | None, list[int]]:
        await asyncio.sleep(rng.uniform(0, 1.5))
        chosen = None if i % 5 == 0 else set(rng.sample(videos, rng.randint(1, 2)))
        known = [s for s, v in published if chosen is None or v in chosen]
        last = rng.choice(known[-50:]) if known else published[-1][0] if published else 0
        query = [("video_id", v) for v in sorted(chosen or ())]
        headers = {"Last-Event-ID": str(last)} if i % 2 else {}
        if not i % 2:
            query.append(("last_event_id", str(last)))
        client = await SSEClient.open(srv.port, auth=admin.auth, query=query, headers=headers)
        assert client.status == 200
        await done_publishing.wait()
        end = max(final[v] for v in (chosen or videos))
        got = [f.seq for f in await client.until_seq(end, timeout=30)]
        await client.close()
        return last, chosen, got

    done_publishing = asyncio.Event()
    final: dict[str, int] = {}
    async with serve_events(mesh, settings) as srv:
        task = asyncio.create_task(publisher())
        await asyncio.sleep(0.05)
        joins = [asyncio.create_task(joiner(i, srv)) for i in range(40)]
        await asyncio.sleep(2.0)
        stop.set()
        await task
        # A final event on every video marks the end for every client.
        for vid in videos:
            final[vid] = await publish_status(pub, vid, 100)
            published.append((final[vid], vid))
        done_publishing.set()
        results = await asyncio.gather(*joins)
    assert len(published) > 200
    for last, chosen, got in results:
        expected = [s for s, v in published if s > last and (chosen is None or v in chosen)]
        assert got[: len(expected)] == expected[: len(got)]
        assert got == expected, f"last={last} chosen={chosen}"


async def test_relayed_events_are_re_encoded_from_the_dtos(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    # Regression (issue 11, finding 1): the edge relayed stored events byte for byte, so fields
    # a forger added reached every browser.
    vid = new_video_id()
    forged = {
        "type": "video.status",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "video_id": vid,
        "status": "PROCESSING",
        "progress": 10,
        "message": "ok",
        "injected": "<script>alert(1)</script>",
    }
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
        ack = await mesh.js.publish(f"culto.events.{vid}.video.status", json.dumps(forged).encode())
        (frame,) = await client.until_seq(ack.seq)
        assert "injected" not in frame.data and "script" not in frame.data
        assert frame.json()["message"] == "ok" and frame.json()["progress"] == 10
        await client.close()
