"""An open SSE stream's end (frontend_server/events/sse/stream.py) over real HTTP and a real
nats-server: the hub closing, NATS going away, and clients that stop reading, which are dropped
without costing others anything, and resume losing nothing."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tornado.ioloop import IOLoop

from culto_app.settings import Settings
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.identity.store import IdentityStore
from mesh.provision import provision
from ops.server import KEEPALIVE_IDLE
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from services.identity.accounts import Accounts
from tests.conftest import NatsProcess, make_settings
from tests.frontend_server.sse_client import (
    SSEClient,
    get_json,
    serve_events,
)
from tests.frontend_server.ws_client import hub_of
from tests.support import Member, StartEdge, eventually, make_member, publish_status


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
        more = [await publish_status(pub, vid, n) for n in range(5)]
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
        seq = await publish_status(pub, vid, 1)
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
            first = [await publish_status(pub, vid, n) for n in range(5)]
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
            second = [await publish_status(pub, vid, n) for n in range(5)]
            resumed = await SSEClient.open(
                srv.port,
                auth=admin.auth,
                query=[("video_id", vid)],
                headers={"Last-Event-ID": str(first[-1])},
            )
            assert [f.seq for f in await resumed.until_seq(second[-1], timeout=20)] == second
            # And the hub's live feed recovered by itself.
            third = await publish_status(pub, vid, 99)
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
