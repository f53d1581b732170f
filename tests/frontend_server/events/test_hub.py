"""EventHub against a real nats-server, with in-memory sinks instead of HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from access.policy import Principal
from culto.errors import InvalidInput, MeshUnavailable
from culto_app.settings import Settings
from frontend_server.events.conn import Phase
from frontend_server.events.hub import CloseReason, EventHub, Framing, Subscription
from frontend_server.security.auth import Authenticator
from mesh import EventPublisher, MeshConnection
from schemas import ErrorEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from tests.support import ListSink, eventually, publish_status, served

ADMIN = Principal(user_id="u_" + "a" * 32, admin=True, credential="test:admin")
"""Reads every channel (so may name videos without records); ``refresh`` keeps a credential
that is neither a session nor a token as it is."""


def test_subscription_validation() -> None:
    vid = new_video_id()
    sub = Subscription.parse([vid, vid], ["error"], 5)
    assert sub.videos == frozenset({vid})
    assert sub.filters == (f"culto.events.{vid}.error",)
    assert Subscription.parse().videos is None
    for bad_videos, bad_types, bad_id in [
        (["x.>"], [], None),
        (["*"], [], None),
        ([vid.upper()], [], None),
        ([], ["nope"], None),
        ([vid], [], -1),
        ([new_video_id() for _ in range(201)], [], None),
    ]:
        with pytest.raises(InvalidInput):
            Subscription.parse(bad_videos, bad_types, bad_id)


async def test_fanout_encodes_once_and_indexes_by_video(
    mesh: MeshConnection, settings: Settings, authenticator: Authenticator
) -> None:
    pub = EventPublisher(mesh)
    a, b = new_video_id(), new_video_id()
    async with EventHub(mesh, settings.edge_config().hub, authenticator=authenticator) as hub:
        conns = [hub.connect(Subscription.parse([a]), principal=ADMIN) for _ in range(3)]
        other = hub.connect(Subscription.parse([b]), principal=ADMIN)
        everyone = hub.connect(Subscription.parse(), principal=ADMIN)
        assert hub.stats().connected_clients == 5
        seq = await publish_status(pub, a)
        await eventually(lambda: hub.head >= seq)
        frames = [c.queue[-1][2] for c in [*conns, everyone]]
        # The same bytes object is shared by every matching client.
        assert all(f is frames[0] for f in frames)
        assert frames[0].startswith(f"id: {seq}\nevent: video.status\ndata: ".encode())
        assert not other.queue
        for c in [*conns, other, everyone]:
            hub.disconnect(c)
        stats = hub.stats()
        assert stats.connected_clients == 0
        assert stats.healthy
        assert stats.events_dispatched >= 1


async def test_replay_then_live_without_gap(
    mesh: MeshConnection, settings: Settings, authenticator: Authenticator
) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    async with EventHub(mesh, settings.edge_config().hub, authenticator=authenticator) as hub:
        before = [await publish_status(pub, vid, i) for i in range(5)]
        sink = ListSink()
        conn = hub.connect(Subscription.parse([vid], [], before[1]), principal=ADMIN)
        task = asyncio.create_task(served(hub, conn, sink))
        after = [await publish_status(pub, vid, i) for i in range(5)]
        ids = await sink.wait_for_id(after[-1])
        assert ids == before[2:] + after
        assert hub.stats().replays == 1
        assert hub.stats().events_sent_by_type["video.status"] >= len(ids)
        await hub.close()
        assert await asyncio.wait_for(task, 10) is CloseReason.SHUTDOWN
        with pytest.raises(MeshUnavailable):
            hub.connect(Subscription.parse([vid]), principal=ADMIN)


async def test_snapshot_only_latest_per_type(
    mesh: MeshConnection, settings: Settings, authenticator: Authenticator
) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    await publish_status(pub, vid, 1)
    latest_status = await publish_status(pub, vid, 2)
    err = (
        await pub.publish(
            ErrorEventDTO(video_id=vid, code="x", message="boom"), channel_id=DEFAULT_CHANNEL_ID
        )
    ).seq
    async with EventHub(mesh, settings.edge_config().hub, authenticator=authenticator) as hub:
        sink = ListSink()
        task = asyncio.create_task(
            served(hub, hub.connect(Subscription.parse([vid]), principal=ADMIN), sink)
        )
        assert await sink.wait_for_id(err) == [latest_status, err]
        live = await publish_status(pub, vid, 3)
        assert await sink.wait_for_id(live) == [latest_status, err, live]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert hub.stats().connected_clients == 0


async def test_heartbeats_have_no_id(
    mesh: MeshConnection, settings: Settings, authenticator: Authenticator
) -> None:
    async with EventHub(mesh, settings.edge_config().hub, authenticator=authenticator) as hub:
        sink = ListSink()
        task = asyncio.create_task(
            served(
                hub,
                hub.connect(
                    Subscription.parse([new_video_id()], ["error"]),
                    principal=ADMIN,
                    heartbeat_interval=0.05,
                ),
                sink,
            )
        )
        async with asyncio.timeout(10):
            while len(sink.chunks) < 3:
                sink.changed.clear()
                await sink.changed.wait()
        text = b"".join(sink.chunks).decode()
        assert text.count('event: heartbeat\ndata: {"type":"heartbeat"') == len(sink.chunks)
        assert "id:" not in text
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.timeout(30)
async def test_a_websocket_connection_catching_up_gets_websocket_frames(
    mesh: MeshConnection, settings: Settings, authenticator: Authenticator
) -> None:
    # A WebSocket's connection opens at the head while the socket sends history itself; if its
    # queue overflows meanwhile, the hub's catch-up round replays what it lost — framed for
    # the WebSocket, not as SSE.
    pub = EventPublisher(mesh)
    video = new_video_id()
    small = settings.model_copy(update={"sse_client_buffer": 3}).edge_config().hub
    async with EventHub(mesh, small, authenticator=authenticator) as hub:
        sub = Subscription.parse([video], last_event_id=hub.head)
        conn = hub.connect(sub, principal=ADMIN, framing=Framing.WS)
        seqs = [await publish_status(pub, video, n) for n in range(8)]  # over the buffer of 3
        await eventually(lambda: hub.head >= seqs[-1])
        assert conn.phase is Phase.OVERFLOWED  # its queue was discarded: a round replays it
        sink = ListSink()
        task = asyncio.ensure_future(served(hub, conn, sink))
        try:
            await eventually(lambda: len(_frames(b"".join(sink.chunks))) >= len(seqs))
        finally:
            hub.disconnect(conn)
            await task
        messages = [json.loads(m) for m in _frames(b"".join(sink.chunks))]
        assert [m["seq"] for m in messages] == seqs
        assert all(m["op"] == "event" and m["event"]["video_id"] == video for m in messages)


def _frames(data: bytes) -> list[bytes]:
    """The payloads of unmasked server text frames (under 64 KiB: the events of this test)."""
    out = []
    while data:
        assert data[0] == 0x81 and data[1] <= 126
        size, at = (data[1], 2) if data[1] < 126 else (int.from_bytes(data[2:4], "big"), 4)
        out.append(data[at : at + size])
        data = data[at + size :]
    return out


async def test_direct_sink_live_in_order_and_blocked_client_dropped(
    mesh: MeshConnection, settings: Settings, authenticator: Authenticator
) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    small = settings.model_copy(update={"sse_client_buffer": 5})
    aborted: list[bool] = []
    async with EventHub(mesh, small.edge_config().hub, authenticator=authenticator) as hub:
        before = [await publish_status(pub, vid, i) for i in range(3)]
        stuck, fine = ListSink(), ListSink()  # both live from the start (no replay)
        stuck.gate.clear()
        stuck_task = asyncio.create_task(
            served(
                hub,
                hub.connect(
                    Subscription.parse([vid], [], before[-1]),
                    principal=ADMIN,
                    abort=lambda: aborted.append(True),
                ),
                stuck,
            )
        )
        fine_task = asyncio.create_task(
            served(
                hub, hub.connect(Subscription.parse([vid], [], before[-1]), principal=ADMIN), fine
            )
        )
        seqs = [await publish_status(pub, vid, i) for i in range(20)]
        assert await fine.wait_for_id(seqs[-1]) == seqs
        assert fine.pushes >= 1
        await eventually(lambda: hub.stats().slow_client_drops == 1)
        assert aborted == [True]
        # One write went out and stayed pending; nothing was pushed behind it.
        assert stuck.pushes == 1
        assert stuck.ids() == seqs[: len(stuck.ids())]
        assert stuck.pending is not None
        stuck.pending.set_exception(ConnectionResetError())  # the aborted socket fails it
        assert await asyncio.wait_for(stuck_task, 10) is CloseReason.SLOW
        fine_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fine_task
