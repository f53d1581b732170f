"""``stream.reset`` (docs/contracts.md §7): a resume point the stream no longer holds (retention
trimmed
it) or never held (the stream was recreated) is said in-band, then the current state, then live.
Each test runs its own nats-server: retention is changed and the stream recreated."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from access.policy import ANONYMOUS
from frontend_server.events.hub import EventHub, Subscription
from frontend_server.events.shared import MAX_EVENTS
from frontend_server.security.auth import Authenticator
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.directory import Directory
from mesh.identity.store import IdentityStore
from mesh.provision import provision
from mesh.subjects import EVENTS_STREAM
from schemas import ErrorEventDTO, StreamResetEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from services.identity.accounts import Accounts
from tests.conftest import IsolatedMesh
from tests.frontend_server.events.test_hub import ADMIN
from tests.frontend_server.sse_client import Frame, SSEClient, serve_events
from tests.support import ListSink, make_member, publish_status, served

pytestmark = pytest.mark.timeout(60)


async def _error(pub: EventPublisher, video: str, channel: str = DEFAULT_CHANNEL_ID) -> int:
    event = ErrorEventDTO(video_id=video, code="c", message="secret detail")
    return (await pub.publish(event, channel_id=channel)).seq


async def _keep_last(mesh: MeshConnection, count: int) -> int:
    """Retention: the stream keeps its last ``count`` events; returns the first one kept."""
    info = await mesh.jsm.stream_info(EVENTS_STREAM)
    await mesh.jsm.update_stream(info.config.evolve(max_msgs=count))
    first = await EventReader(mesh).first_seq()
    assert first is not None
    return first


def _reset(frame: Frame) -> StreamResetEventDTO:
    assert frame.event == "stream.reset" and frame.id is None, frame
    return StreamResetEventDTO.model_validate(frame.json())


async def test_trimmed_resume_point_resets_then_state_then_live(
    isolated_mesh: Callable[..., Any],
) -> None:
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    pub = EventPublisher(mesh)
    vid = new_video_id()
    statuses = [await publish_status(pub, vid) for _ in range(20)]
    error = await _error(pub, vid)
    first = await _keep_last(mesh, 5)
    assert first == statuses[-4]
    async with serve_events(mesh, env.settings) as srv:
        resume = {"Last-Event-ID": str(statuses[2])}
        client = await SSEClient.open(
            srv.port, auth=admin.auth, query=[("video_id", vid)], headers=resume
        )
        reset = _reset(await client.next())
        assert (reset.requested, reset.first_available, reset.last) == (statuses[2], first, error)
        assert reset.reason == "trimmed"
        # The current state (latest of each type), as for a new connection, then live.
        assert [f.seq for f in await client.until_seq(error)] == [statuses[-1], error]
        live = await publish_status(pub, vid)
        assert [f.seq for f in await client.until_seq(live)] == [live]
        # Without a video filter there is no state to send: the reset, then live.
        everything = await SSEClient.open(srv.port, auth=admin.auth, headers=resume)
        assert _reset(await everything.next()).reason == "trimmed"
        marker = await publish_status(pub, vid)
        assert [f.seq for f in await everything.until_seq(marker)] == [marker]
        # The event just before the oldest one kept is a resume point like any other.
        first = await _keep_last(mesh, 5)  # retention went on trimming as events came
        assert first == marker - 4
        edge = await SSEClient.open(
            srv.port,
            auth=admin.auth,
            query=[("video_id", vid)],
            headers={"Last-Event-ID": str(first - 1)},
        )
        frames = await edge.until_seq(marker)
        assert [f.seq for f in frames] == list(range(first, marker + 1))
        assert "stream.reset" not in edge.wire
        assert srv.hub.stats().resets == 2
        for c in (client, everything, edge):
            await c.close()


async def test_recreated_stream_resets_unknown_id(isolated_mesh: Callable[..., Any]) -> None:
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    pub = EventPublisher(mesh)
    vid = new_video_id()
    old = [await publish_status(pub, vid) for _ in range(10)]
    await mesh.jsm.delete_stream(EVENTS_STREAM)  # e.g. restored from an empty volume
    await provision(mesh, env.settings.stream_policy())
    new = [await publish_status(pub, vid) for _ in range(3)]
    assert new[-1] < old[-1]
    async with serve_events(mesh, env.settings) as srv:
        client = await SSEClient.open(
            srv.port,
            auth=admin.auth,
            query=[("video_id", vid)],
            headers={"Last-Event-ID": str(old[-1])},
        )
        reset = _reset(await client.next())
        assert (reset.requested, reset.first_available, reset.last) == (old[-1], 1, new[-1])
        assert reset.reason == "unknown_id"
        assert [f.seq for f in await client.until_seq(new[-1])] == [new[-1]]
        live = await publish_status(pub, vid)
        assert [f.seq for f in await client.until_seq(live)] == [live]
        await client.close()


async def test_state_after_a_reset_obeys_the_callers_channels(
    isolated_mesh: Callable[..., Any],
) -> None:
    # An anonymous caller reads the public default channel only: an event of its video that
    # carries another channel reaches it neither in the state after a reset nor live.
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    pub = EventPublisher(mesh)
    vid = new_video_id()
    statuses = [await publish_status(pub, vid) for _ in range(6)]
    hidden = await _error(pub, vid, channel="private-one")
    await _keep_last(mesh, 3)
    async with serve_events(mesh, env.settings) as srv:
        sub = Subscription.parse([vid], [], last_event_id=statuses[0])
        conn = srv.hub.connect(sub, principal=ANONYMOUS, video_channels={vid: DEFAULT_CHANNEL_ID})
        sink = ListSink()
        running = asyncio.create_task(served(srv.hub, conn, sink))
        # The reset and the state first (retention keeps 3 events: publish only after them).
        assert await sink.wait_for_id(statuses[-1]) == [statuses[-1]]
        await _error(pub, vid, channel="private-one")
        live = await publish_status(pub, vid)
        assert await sink.wait_for_id(live) == [statuses[-1], live]
        text = b"".join(sink.chunks).decode()
        assert text.startswith("event: stream.reset\ndata: ")
        assert "secret detail" not in text and f"id: {hidden}" not in text
        srv.hub.disconnect(conn)
        await asyncio.wait_for(running, 10)


class _TrimmingSink(ListSink):
    """Takes the first batch of history, then retention trims the stream's head (once)."""

    def __init__(self, mesh: MeshConnection, keep_from: int) -> None:
        super().__init__()
        self._mesh = mesh
        self._keep_from: int | None = keep_from

    def push(self, data: bytes) -> asyncio.Future[None] | None:
        pending = super().push(data)
        if self._keep_from is None or b"id: " not in data:
            return pending
        keep, self._keep_from = self._keep_from, None
        return asyncio.ensure_future(self._purge(keep))  # the write completes once trimmed

    async def _purge(self, keep: int) -> None:
        await self._mesh.jsm.purge_stream(EVENTS_STREAM, seq=keep)


async def test_retention_trimming_during_a_replay_resets_never_a_silent_gap(
    isolated_mesh: Callable[..., Any],
) -> None:
    # Issue 21, defect 4: clients resuming near the first retained event that read slowly
    # skipped hundreds of events with no stream.reset (the trim was checked only at connect).
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    pub = EventPublisher(mesh)
    vid = new_video_id()
    # Longer than a shared read (which reads a short replay whole, before sending any of it):
    # the rest is streamed batch by batch, and trimmed while it is.
    mine = [await publish_status(pub, vid) for _ in range(MAX_EVENTS + 60)]
    error = await _error(pub, vid)
    directory = Directory(mesh)
    await directory.open()
    try:
        auth = Authenticator(directory, env.settings.edge_config().cookie_secret)
        reader = EventReader(mesh, batch=4)
        async with EventHub(
            mesh, env.settings.edge_config().hub, authenticator=auth, reader=reader
        ) as hub:
            sink = _TrimmingSink(mesh, keep_from=mine[MAX_EVENTS + 40])
            task = asyncio.create_task(
                served(
                    hub, hub.connect(Subscription.parse([vid], [], mine[1]), principal=ADMIN), sink
                )
            )
            live = await publish_status(pub, vid)
            await sink.wait_for_id(live)
            frames = _frames(b"".join(sink.chunks))
            ids = [f.seq for f in frames if f.id is not None]
            (reset,) = [_reset(f) for f in frames if f.event == "stream.reset"]
            where = next(i for i, f in enumerate(frames) if f.event == "stream.reset")
            before = [f.seq for f in frames[:where]]
            assert before == mine[2 : 2 + len(before)] and before  # what it got, in order
            assert reset.reason == "trimmed" and reset.first_available == mine[MAX_EVENTS + 40]
            assert reset.requested == before[-1] and reset.last >= error
            # Then the current state (latest of each type) and live: nothing silently skipped.
            assert [f.seq for f in frames[where + 1 :]] == [mine[-1], error, live]
            assert ids == [*before, mine[-1], error, live]
            await hub.close()
            await asyncio.wait_for(task, 10)
    finally:
        await directory.close()


def _frames(raw: bytes) -> list[Frame]:
    frames = []
    for block in raw.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields and fields.get("event") != "heartbeat":
            frames.append(Frame(fields.get("id"), fields.get("event"), fields["data"]))
    return frames


async def test_a_running_frontend_notices_a_recreated_stream(
    isolated_mesh: Callable[..., Any],
) -> None:
    # Issue 21, defect 5: across a recreation a live client silently missed the new stream's
    # first events (the feed dropped every sequence at or below the old head), and a resume
    # above the new stream's end answered without unknown_id (the hub's head was the old one).
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    pub = EventPublisher(mesh)
    vid = new_video_id()
    old = [await publish_status(pub, vid) for _ in range(10)]
    async with serve_events(mesh, env.settings) as srv:
        query = [("video_id", vid)]
        live = await SSEClient.open(srv.port, auth=admin.auth, query=query)
        everything = await SSEClient.open(srv.port, auth=admin.auth)
        assert [f.seq for f in await live.until_seq(old[-1])] == [old[-1]]  # the state
        marker = await publish_status(pub, vid)
        for client in (live, everything):
            assert [f.seq for f in await client.until_seq(marker)] == [marker]
        await mesh.jsm.delete_stream(EVENTS_STREAM)  # e.g. restored from an older backup
        await provision(mesh, env.settings.stream_policy())
        new = [await publish_status(pub, vid) for _ in range(3)]
        for client in (live, everything):
            reset = _reset(await client.next(timeout=15))
            assert reset.reason == "unknown_id" and reset.requested == marker
            assert reset.first_available == 1 and reset.last <= new[-1]
            # Then every event of the new stream, from its first: none is dropped.
            assert [f.seq for f in await client.until_seq(new[-1])] == new
        assert srv.hub.stream_resets == 1
        resumed = await SSEClient.open(
            srv.port, auth=admin.auth, query=query, headers={"Last-Event-ID": str(marker)}
        )
        reset = _reset(await resumed.next())
        assert reset.reason == "unknown_id" and reset.last == new[-1]
        assert [f.seq for f in await resumed.until_seq(new[-1])] == [new[-1]]
        for client in (live, everything, resumed):
            await client.close()
