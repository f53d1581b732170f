"""The SSE endpoint over real HTTP (Tornado on an unused port) and a real nats-server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tornado.ioloop import IOLoop

from culto_app.settings import Settings
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.identity_store import IdentityStore
from mesh.provision import provision
from mesh.subjects import event_filters
from ops.server import KEEPALIVE_IDLE
from schemas import ErrorEventDTO, HeartbeatEventDTO, VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from services.identity.accounts import Accounts
from tests.conftest import NatsProcess, make_settings
from tests.frontend_server.sse_client import (
    EventServer,
    Frame,
    SSEClient,
    get_json,
    serve_events,
)
from tests.frontend_server.ws_client import hub_of
from tests.support import Member, StartEdge, eventually, make_member


async def _status(pub: EventPublisher, video: str, progress: int) -> int:
    event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress)
    return (await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq


async def test_smoke_live(mesh: MeshConnection, settings: Settings, admin: Member) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        seq = await _status(pub, vid, 10)
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
        seqs.append(await _status(pub, (a, b, c)[n % 3], n))
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
            marker = await _status(pub, a, 99)
            got = [f.seq for f in await client.until_seq(marker)]
            assert got == [*held, marker]
            await client.close()


async def test_header_wins_over_query(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    seqs = [await _status(pub, vid, n) for n in range(6)]
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
    await _status(pub, a, 1)
    a_status = await _status(pub, a, 2)
    a_error = (
        await pub.publish(
            ErrorEventDTO(video_id=a, code="x", message="m"), channel_id=DEFAULT_CHANNEL_ID
        )
    ).seq
    b_status = await _status(pub, b, 7)
    await _status(pub, new_video_id(), 3)  # another video: never shown
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
        live = await _status(pub, b, 8)
        assert [f.seq for f in await client.until_seq(live)] == [live]
        assert [f.seq for f in await only_status.until_seq(live)] == [live]
        # No video filter and no id: live only, no history.
        everything = await SSEClient.open(srv.port, auth=admin.auth)
        live2 = await _status(pub, a, 9)
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
            published.append((await _status(pub, vid, n % 100), vid))
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
            final[vid] = await _status(pub, vid, 100)
            published.append((final[vid], vid))
        done_publishing.set()
        results = await asyncio.gather(*joins)
    assert len(published) > 200
    for last, chosen, got in results:
        expected = [s for s, v in published if s > last and (chosen is None or v in chosen)]
        assert got[: len(expected)] == expected[: len(got)]
        assert got == expected, f"last={last} chosen={chosen}"


async def test_stalled_client_dropped_then_resumes_losing_nothing(
    mesh: MeshConnection, settings: Settings, caplog: pytest.LogCaptureFixture, admin: Member
) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")
    pub = EventPublisher(mesh)
    vid = new_video_id()
    small = settings.model_copy(update={"sse_client_buffer": 32})
    big = "x" * 32_000  # large frames fill the socket buffers quickly
    async with serve_events(mesh, small) as srv:
        stalled = await SSEClient.open(
            srv.port, auth=admin.auth, query=[("video_id", vid)], rcvbuf=4096
        )
        reader = await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
        seqs: list[int] = []
        received: list[int] = []
        # Publish until the hub drops the stalled one; the reader keeps up throughout.
        while srv.hub.stats().slow_client_drops == 0:
            assert len(seqs) < 3000, "stalled client never dropped"
            event = VideoStatusEventDTO(video_id=vid, status="PROCESSING", progress=1, message=big)
            seqs.append((await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq)
            received += [f.seq for f in await reader.until_seq(seqs[-1])]
        more = [await _status(pub, vid, n) for n in range(5)]
        received += [f.seq for f in await reader.until_seq(more[-1])]
        assert received == seqs + more
        assert srv.hub.stats().slow_client_drops == 1
        # The stalled client now reads what reached it, then sees the connection closed.
        before_drop = [f.seq for f in await stalled.until_end(timeout=20)]
        assert stalled.ended
        assert before_drop == seqs[: len(before_drop)]
        assert len(before_drop) < len(seqs)
        resumed = await SSEClient.open(
            srv.port,
            auth=admin.auth,
            query=[("video_id", vid)],
            headers={"Last-Event-ID": stalled.last_id or "0"},
        )
        rest = [f.seq for f in await resumed.until_seq(more[-1], timeout=20)]
        assert before_drop + rest == seqs + more
        assert srv.hub.stats().connected_clients == 2  # reader + resumed
        # The server closed the dropped client's connection (it read the end above) and logged
        # its request once, at close: the write stuck on the full socket was released.
        await eventually(
            lambda: any("/api/v2/events/stream" in r.getMessage() for r in caplog.records)
        )
        assert sum("/api/v2/events/stream" in r.getMessage() for r in caplog.records) == 1
        for c in (reader, resumed):
            await c.close()


async def test_hub_close_ends_open_streams_cleanly(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    async with serve_events(mesh, settings) as srv:
        clients = [
            await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
            for _ in range(5)
        ]
        clients.append(await SSEClient.open(srv.port, auth=admin.auth))
        seq = await _status(pub, vid, 1)
        for c in clients:
            await c.until_seq(seq)
        await srv.hub.close()
        for c in clients:
            assert await c.until_end() == []
            assert c.clean_end  # terminating chunk, not a reset
        assert srv.hub.stats().connected_clients == 0
        status, body = await get_json(srv.port, "/api/v2/events/health")
        assert (status, body["status"]) == (503, "unhealthy")
        # EventSource abandons a non-200 answer, so a closed hub sends an empty stream with a
        # retry delay instead: the browser comes back (to another replica) and resumes.
        refused = await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
        assert refused.status == 200
        assert await refused.until_end() == [] and refused.clean_end


async def test_nats_outage_streams_end_health_503_then_resume(
    io_loop: IOLoop, nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> None:
    server = nats_factory()
    port = int(server.url.rsplit(":", 1)[1])
    settings = make_settings(server.url, tmp_path)
    vid = new_video_id()
    async with MeshConnection(server.url, name="culto-outage-test") as mesh:
        await provision(mesh, settings.stream_policy())
        pub = EventPublisher(mesh)
        admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
        async with serve_events(mesh, settings) as srv:
            client = await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
            first = [await _status(pub, vid, n) for n in range(5)]
            assert [f.seq for f in await client.until_seq(first[-1])] == first

            server.kill()
            assert [f.seq for f in await client.until_end(timeout=20)] == []
            assert client.clean_end
            await eventually(lambda: not srv.hub.healthy, timeout=20)
            status, body = await get_json(srv.port, "/api/v2/events/health")
            assert (status, body["status"]) == (503, "unhealthy")
            down = await SSEClient.open(srv.port, auth=admin.auth, query=[("video_id", vid)])
            assert down.status == 200
            assert await down.until_end() == [] and down.clean_end

            nats_factory(port=port, store_dir=server.store_dir)
            await eventually(lambda: mesh.is_connected, timeout=30, what="NATS reconnected")

            async def healthy_again() -> bool:
                # Polled: right after the reconnect the feed re-creates its consumer, and the
                # hub is briefly (truthfully) unhealthy while it does.
                return (await get_json(srv.port, "/api/v2/events/health"))[0] == 200

            await eventually(healthy_again, timeout=30, interval=0.1, what="events health 200")
            # Published after the restart, before the client is back: must be replayed.
            second = [await _status(pub, vid, n) for n in range(5)]
            resumed = await SSEClient.open(
                srv.port,
                auth=admin.auth,
                query=[("video_id", vid)],
                headers={"Last-Event-ID": str(first[-1])},
            )
            assert [f.seq for f in await resumed.until_seq(second[-1], timeout=20)] == second
            # And the hub's live feed recovered by itself.
            third = await _status(pub, vid, 99)
            assert [f.seq for f in await resumed.until_seq(third, timeout=20)] == [third]
            assert srv.hub.stats().nats_reconnects >= 1
            await resumed.close()


async def test_stalled_resumes_cannot_hold_the_replay_slots(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    # Regression (issue 11, finding 3): a replay slot stayed held while its client did not
    # read, so as many stalled resumes as slots blocked every other resume for good. Here one
    # slot and three stalled resumes: each is dropped as slow after one batch it does not take.
    pub = EventPublisher(mesh)
    vid = new_video_id()
    big = "x" * 30_000  # 9 MB of history: more than the kernel buffers of a stalled socket take
    seqs = []
    for _ in range(300):
        event = VideoStatusEventDTO(video_id=vid, status="PROCESSING", progress=1, message=big)
        seqs.append((await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq)
    config = dataclasses.replace(settings.edge_config().hub, replay_batch_timeout=0.5)
    reader = EventReader(mesh, max_concurrent_replays=1, batch=16)
    async with serve_events(mesh, settings, hub_config=config, reader=reader) as srv:
        resume = {"Last-Event-ID": str(seqs[0] - 1)}
        query = [("video_id", vid)]
        stalled = [
            await SSEClient.open(
                srv.port, auth=admin.auth, query=query, headers=resume, rcvbuf=4096
            )
            for _ in range(3)
        ]
        for client in stalled:  # not even asyncio drains their sockets any more
            client.writer.transport.pause_reading()
        honest = await SSEClient.open(srv.port, auth=admin.auth, query=query, headers=resume)
        received = [f.seq for f in await honest.until_seq(seqs[-1], timeout=30)]
        assert received == seqs
        # The honest resume no longer waits for them: each is dropped after its batch timeout.
        await eventually(lambda: srv.hub.stats().slow_client_drops == 3, timeout=10)
        for client in (*stalled, honest):
            await client.close()


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


async def test_a_client_that_stops_reading_and_never_closes_is_dropped(
    mesh: MeshConnection, start_edge: StartEdge, admin: Member
) -> None:
    # Issue 21: a client whose network vanished (no FIN) or that stopped reading held its
    # stream slot, queue and memory for as long as few events came (under the buffer's bound).
    # Now every accepted socket has TCP keepalive and a kernel write deadline, and a live write
    # pending past CULTO_WRITE_TIMEOUT drops the client.
    pub = EventPublisher(mesh)
    vid = new_video_id()
    edge = await start_edge(write_timeout=1.0, sse_client_buffer=100_000)
    stalled = await SSEClient.open(
        edge.port, auth=admin.auth, query=[("video_id", vid)], rcvbuf=4096
    )
    stalled.writer.transport.pause_reading()  # it never reads again, and never closes
    hub = hub_of(edge)
    await eventually(lambda: any(c.direct for c in hub._clients), what="the stream detached")
    (conn,) = hub._clients  # private: the server's end of that connection, once detached
    sock = conn.direct._sock  # type: ignore[union-attr]
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 1000
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE
    big = "x" * 32_000
    for _ in range(200):  # ~6 MB: far more than the socket buffers take, far less than 100k
        event = VideoStatusEventDTO(video_id=vid, status="PROCESSING", progress=1, message=big)
        await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)

    async def clients() -> int:
        status, body = await get_json(edge.port, "/api/v2/events/health")
        assert status == 200, body
        return int(body["connected_clients"])

    await eventually(lambda: _is(clients(), 0), timeout=20, what="the stalled client dropped")
    await stalled.close()


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_live_write_pending_past_the_deadline_drops_the_client(
    mesh: MeshConnection, settings: Settings, admin: Member
) -> None:
    # The application's own write deadline (no TCP options on this bare server): the queue is
    # far from its bound, yet the client is dropped once its write stays pending too long.
    pub = EventPublisher(mesh)
    vid = new_video_id()
    config = dataclasses.replace(
        settings.edge_config().hub, client_buffer=100_000, write_timeout=0.5
    )
    async with serve_events(mesh, settings, hub_config=config) as srv:
        query = [("video_id", vid)]
        stalled = await SSEClient.open(srv.port, auth=admin.auth, query=query, rcvbuf=4096)
        stalled.writer.transport.pause_reading()
        big = "x" * 32_000
        for _ in range(200):
            event = VideoStatusEventDTO(video_id=vid, status="PROCESSING", progress=1, message=big)
            await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)
        await eventually(lambda: srv.hub.stats().connected_clients == 0, timeout=20)
        assert srv.hub.stats().slow_client_drops == 1
        await stalled.close()
