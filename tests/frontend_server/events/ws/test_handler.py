"""The WebSocket transport (docs/contracts.md §10) against real frontends and a real nats-server.

What each client receives is compared with what JetStream stores for its filter, video by
video: no gap, no duplicate, ascending, while subscriptions change on the open socket.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator

import pytest
from tornado.ioloop import IOLoop

from access.credentials import split_token
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.subjects import event_filters
from ops.server import RunningServer
from schemas import ErrorEventDTO, VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID, ChannelRole, Visibility
from schemas.videos import TranscriptInput, VideoCreate
from services.identity.accounts import Accounts
from tests.frontend_server.sse_client import SSEClient, known_token
from tests.frontend_server.ws_client import (
    WsClient,
    close_all,
    hub_of,
    ws_open,
    ws_refusal,
)
from tests.support import (
    ALLOWED_ORIGIN,
    OTHER_ORIGIN,
    Http,
    Member,
    StartEdge,
    admin_api,
    assert_json_error,
    eventually,
    make_member,
    publish_status,
    sign_in,
)


async def _stored(mesh: MeshConnection, video: str, after: int, until: int) -> list[int]:
    """JetStream's sequences of ``video`` in ``(after, until]``."""
    seqs: list[int] = []
    async for batch in EventReader(mesh).replay(event_filters([video]), after, until=until):
        seqs += [e.seq for e in batch if e.seq <= until]
    return seqs


@pytest.fixture(autouse=True)
def _close_clients(io_loop: IOLoop) -> Iterator[None]:
    # Needs the loop: a socket still open is closed with a close frame, written on the loop.
    yield
    io_loop.run_sync(close_all)


# -- the upgrade ------------------------------------------------------------------------------


@pytest.mark.timeout(30)
async def test_upgrade_needs_a_caller_and_an_allowed_origin(
    edge: RunningServer, admin: Member
) -> None:
    await known_token(edge.app, admin)
    refused = await ws_refusal(edge.port)
    assert refused.code == 401
    assert refused.response is not None
    assert json.loads(refused.response.body)["error"]["code"] == "unauthenticated"
    # Cross-site WebSocket hijacking: a page elsewhere cannot use the visitor's credentials.
    hijack = await ws_refusal(edge.port, auth=admin.auth, headers={"Origin": OTHER_ORIGIN})
    assert hijack.code == 403
    assert hijack.response is not None
    assert json.loads(hijack.response.body)["error"]["code"] == "origin_denied"
    # An allowed origin, this very site, and a program (no Origin) are let in.
    for headers in (
        {"Origin": ALLOWED_ORIGIN},
        {"Origin": f"http://127.0.0.1:{edge.port}"},
        {},
    ):
        client = await ws_open(edge.port, auth=admin.auth, headers=headers)
        client.close()
    token_in_query = await ws_refusal(edge.port, query=f"?access_token={admin.token}")
    assert token_in_query.code == 400


@pytest.mark.timeout(30)
async def test_a_browser_session_may_open_a_socket(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    member = await make_member(accounts)
    browser = Http(edge.url)
    await sign_in(browser, member.email, "correct horse battery")
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    client = await ws_open(edge.port, headers={"Cookie": cookie, "Origin": edge.url})
    video = new_video_id()
    await client.send(op="subscribe", videos=[video])
    error = await client.reply("error")  # no record: not readable for a non-admin
    assert error["code"] == "not_found"
    client.close()
    browser.close()


# -- subscriptions ----------------------------------------------------------------------------


async def _follow(
    port: int,
    admin: Member,
    videos: list[str],
    start: int,
    marks: dict[str, int],
    steps: list[asyncio.Event],
) -> WsClient:
    """One client's script: subscribe A since start; add B since start; drop A; add C since
    the mid point; then read until the final marks of B and C."""
    a, b, c = videos
    client = await ws_open(port, auth=admin.auth)
    await client.send(op="subscribe", videos=[a], since=start)
    assert (await client.reply("subscribed"))["videos"] == [a]
    await steps[0].wait()
    await client.send(op="subscribe", videos=[b], since=start)
    assert (await client.reply("subscribed"))["videos"] == sorted([a, b])
    await steps[1].wait()
    await client.send(op="unsubscribe", videos=[a])
    assert (await client.reply("subscribed"))["videos"] == [b]
    await steps[2].wait()
    await client.send(op="subscribe", videos=[c], since=marks["mid"])
    assert (await client.reply("subscribed"))["videos"] == sorted([b, c])
    await steps[3].wait()
    await client.until_seq(marks[b])
    await client.until_seq(marks[c])
    return client


@pytest.mark.timeout(90)
async def test_twenty_clients_resubscribe_while_events_flow(
    edge: RunningServer, mesh: MeshConnection, admin: Member
) -> None:
    await known_token(edge.app, admin)
    pub = EventPublisher(mesh)
    videos = [new_video_id() for _ in range(3)]
    a, b, c = videos
    start = await EventReader(mesh).last_seq()
    marks: dict[str, int] = {}
    steps = [asyncio.Event() for _ in range(4)]
    clients = [
        asyncio.ensure_future(_follow(edge.port, admin, videos, start, marks, steps))
        for _ in range(20)
    ]
    rng = random.Random(15)
    try:
        for step in range(3):
            for n in range(25):  # events flow while every client changes its subscriptions
                await publish_status(pub, rng.choice(videos), n)
                if n == 12 and step == 1:
                    marks["mid"] = await publish_status(pub, c, 99)
                await asyncio.sleep(0.002)
            steps[step].set()
            await asyncio.sleep(0.05)
        for n in range(25):
            await publish_status(pub, rng.choice(videos), n)
        marks[b] = await publish_status(pub, b, 100)
        marks[c] = await publish_status(pub, c, 100)
        steps[3].set()
        done = await asyncio.gather(*clients)
    finally:
        for task in clients:
            task.cancel()
    end = max(marks[b], marks[c])
    stored = {v: await _stored(mesh, v, start, end) for v in videos}
    for client in done:
        got_a, got_b, got_c = client.seqs(a), client.seqs(b), client.seqs(c)
        # A: from start until it was dropped: a prefix of what JetStream holds, no gap.
        assert got_a and got_a == stored[a][: len(got_a)]
        # B: everything since start; C: everything after the mid mark, through the end.
        assert got_b == stored[b]
        assert got_c == [s for s in stored[c] if s > marks["mid"]]
        client.close()


@pytest.mark.timeout(30)
async def test_a_new_video_without_since_gets_its_current_state(
    edge: RunningServer, mesh: MeshConnection, admin: Member
) -> None:
    await known_token(edge.app, admin)
    pub = EventPublisher(mesh)
    old, new = new_video_id(), new_video_id()
    await publish_status(pub, new, 10)
    state = await publish_status(pub, new, 20)
    error = await pub.publish(
        ErrorEventDTO(video_id=new, code="c", message="m"), channel_id=DEFAULT_CHANNEL_ID
    )
    client = await ws_open(edge.port, auth=admin.auth)
    await client.send(op="subscribe", videos=[old])
    await client.reply("subscribed")
    live = await publish_status(pub, old, 1)
    await client.until_seq(live)
    await client.send(op="subscribe", videos=[new])
    await client.reply("subscribed")
    after = await publish_status(pub, new, 30)
    await client.until_seq(after)
    # The latest event of each type, then live: as a new SSE connection naming the video.
    assert client.seqs(new) == [state, error.seq, after]
    client.close()


@pytest.mark.timeout(30)
async def test_bad_messages_get_errors_then_the_socket_closes(
    edge: RunningServer, admin: Member
) -> None:
    await known_token(edge.app, admin)
    client = await ws_open(edge.port, auth=admin.auth)
    bad: list[object] = [
        {"op": "dance"},
        {"op": "subscribe", "videos": ["not-a-uuid"]},
        {"op": "subscribe", "videos": [new_video_id() for _ in range(201)]},
        {"op": "subscribe", "types": ["nonsense"]},
        {"op": "ack", "cursor": "no spaces", "seq": 1},
        "not json",
    ]
    codes = []
    for message in bad:
        await client.conn.write_message(
            message if isinstance(message, str) else json.dumps(message)
        )
        codes.append((await client.reply("error"))["code"])
    assert codes[0] == "invalid_message" and "invalid_input" in codes
    # Still open and working after errors.
    await client.send(op="subscribe", videos=[new_video_id()])
    await client.reply("subscribed")
    for _ in range(10 - len(bad)):
        await client.send(op="dance")
    assert await client.until_closed() == 1008


@pytest.mark.timeout(30)
async def test_a_message_over_the_limit_closes_the_socket(
    edge: RunningServer, admin: Member
) -> None:
    await known_token(edge.app, admin)
    client = await ws_open(edge.port, auth=admin.auth)
    await client.conn.write_message("x" * (65 * 1024))
    assert await client.until_closed() == 1009


# -- authorization ----------------------------------------------------------------------------


@pytest.mark.timeout(45)
async def test_a_viewer_cannot_follow_a_private_video_it_may_not_read(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    api = await admin_api(mesh)
    mine = await accounts.add_channel("mine", Visibility.PRIVATE)
    theirs = await accounts.add_channel("theirs", Visibility.PRIVATE)
    videos = {}
    for channel in (mine, theirs):
        body = VideoCreate(
            transcript=TranscriptInput(content="Sermão."), title="t", channel_id=channel.id
        )
        videos[channel.id] = (await api.create(body)).id
    viewer = await make_member(accounts, roles={mine.id: ChannelRole.VIEWER})
    await known_token(edge.app, viewer)
    client = await ws_open(edge.port, auth=viewer.auth)
    await client.send(op="subscribe", videos=[videos[theirs.id]])
    error = await client.reply("error")
    assert error["code"] == "not_found"  # existence is not revealed (as SSE's 404)
    await client.send(op="subscribe", videos=[videos[mine.id]])
    assert (await client.reply("subscribed"))["videos"] == [videos[mine.id]]
    pub = EventPublisher(mesh)
    hidden = await pub.publish(
        VideoStatusEventDTO(video_id=videos[theirs.id], status="PROCESSING", progress=5),
        channel_id=theirs.id,
    )
    seen = await pub.publish(
        VideoStatusEventDTO(video_id=videos[mine.id], status="PROCESSING", progress=5),
        channel_id=mine.id,
    )
    await client.until_seq(seen.seq)
    assert hidden.seq not in {s for s, _ in client.events}
    # Every readable video: nothing of the other private channel either.
    await client.send(op="subscribe", videos=[], since=hidden.seq - 1)
    assert (await client.reply("subscribed"))["all"] is True
    last = await pub.publish(
        VideoStatusEventDTO(video_id=videos[mine.id], status="PROCESSING", progress=6),
        channel_id=mine.id,
    )
    await client.until_seq(last.seq)
    assert all(v != videos[theirs.id] for _, v in client.events)
    client.close()


@pytest.mark.timeout(30)
async def test_revoking_the_token_closes_the_socket(
    edge: RunningServer, accounts: Accounts, admin: Member
) -> None:
    member = await make_member(accounts, admin=True)
    await known_token(edge.app, member)
    client = await ws_open(edge.port, auth=member.auth)
    await client.send(op="subscribe", videos=[new_video_id()])
    await client.reply("subscribed")
    parts = split_token(member.token)
    assert parts is not None
    await accounts.revoke_token(parts[0])
    assert await client.until_closed(timeout=5) == 4003


# -- slow clients and shutdown -------------------------------------------------------------------


@pytest.mark.timeout(90)
async def test_a_slow_client_is_closed_then_resumes_losing_nothing(
    start_edge: StartEdge, mesh: MeshConnection, admin: Member
) -> None:
    server = await start_edge(sse_client_buffer=32)
    await known_token(server.app, admin)
    hub = hub_of(server)
    pub = EventPublisher(mesh)
    video = new_video_id()
    stalled = await ws_open(server.port, auth=admin.auth)
    reader = await ws_open(server.port, auth=admin.auth)
    for client in (stalled, reader):
        await client.send(op="subscribe", videos=[video])
        await client.reply("subscribed")
    big = "x" * 32_000  # large messages fill the socket buffers quickly
    seqs: list[int] = []
    while hub.stats().slow_client_drops == 0:
        assert len(seqs) < 3000, "the stalled client was never dropped"
        seqs.append(await publish_status(pub, video, 1, message=big))
        await reader.until_seq(seqs[-1])  # the reader keeps up throughout
    more = [await publish_status(pub, video, n) for n in range(5)]
    await reader.until_seq(more[-1])
    assert reader.seqs(video) == seqs + more
    # The stalled client reads what reached it, then the close: 4008, "too slow".
    assert await stalled.until_closed() == 4008
    before = stalled.seqs(video)
    assert before == seqs[: len(before)] and len(before) < len(seqs)
    resumed = await ws_open(server.port, auth=admin.auth)
    await resumed.send(op="subscribe", videos=[video], since=before[-1] if before else 0)
    await resumed.reply("subscribed")
    await resumed.until_seq(more[-1])
    assert before + resumed.seqs(video) == seqs + more
    for client in (reader, resumed):
        client.close()


@pytest.mark.timeout(30)
async def test_shutdown_closes_sockets_with_going_away(
    start_edge: StartEdge, admin: Member
) -> None:
    server = await start_edge()
    await known_token(server.app, admin)
    live = await ws_open(server.port, auth=admin.auth)
    await live.send(op="subscribe", videos=[new_video_id()])
    await live.reply("subscribed")
    idle = await ws_open(server.port, auth=admin.auth)  # follows nothing yet
    await eventually(lambda: hub_of(server).stats().connected_clients == 1)
    await server.close()
    assert await live.until_closed() == 1001
    assert await idle.until_closed() == 1001


@pytest.mark.timeout(30)
async def test_metrics_count_both_transports(
    edge: RunningServer, http: Http, admin: Member
) -> None:
    await known_token(edge.app, admin)
    client = await ws_open(edge.port, auth=admin.auth)
    await client.send(op="subscribe", videos=[new_video_id()])
    await client.reply("subscribed")
    text = (await http.request("GET", "/metrics")).body.decode()
    assert "culto_ws_connected_clients 1.0" in text
    assert "culto_ws_messages_received_total 1.0" in text
    assert "culto_sse_connected_clients" in text and "culto_cursor_acks_total" in text
    client.close()


@pytest.mark.timeout(30)
async def test_sse_and_websocket_clients_of_one_video_each_get_their_framing(
    edge: RunningServer, mesh: MeshConnection, admin: Member
) -> None:
    await known_token(edge.app, admin)
    pub = EventPublisher(mesh)
    video = new_video_id()
    sse = await SSEClient.open(edge.port, auth=admin.auth, query=[("video_id", video)])
    socket = await ws_open(edge.port, auth=admin.auth)
    await socket.send(op="subscribe", videos=[video])
    await socket.reply("subscribed")
    seqs = [await publish_status(pub, video, n, message=f"linha {n}\nsegunda") for n in range(20)]
    frames = await sse.until_seq(seqs[-1])
    await socket.until_seq(seqs[-1])
    assert [f.seq for f in frames] == seqs == socket.seqs(video)
    # The same events, each in its transport's framing (the message's newline survives both).
    assert [f.json() for f in frames] == socket.payloads
    assert socket.payloads[3]["message"] == "linha 3\nsegunda"
    await sse.close()


@pytest.mark.timeout(30)
async def test_a_since_beyond_the_stream_is_a_reset_then_the_current_state(
    edge: RunningServer, mesh: MeshConnection, admin: Member
) -> None:
    await known_token(edge.app, admin)
    pub = EventPublisher(mesh)
    video = new_video_id()
    await publish_status(pub, video, 1)
    state = await publish_status(pub, video, 2)
    client = await ws_open(edge.port, auth=admin.auth)
    await client.send(op="subscribe", videos=[video], since=state + 1000)  # a recreated stream
    await client.reply("subscribed")
    reset = await client.reply("reset")
    assert reset["reason"] == "unknown_id" and reset["requested"] == state + 1000
    assert reset["last"] >= state
    live = await publish_status(pub, video, 3)
    await client.until_seq(live)
    assert client.seqs(video) == [state, live]  # nothing silently skipped: state, then live


async def test_a_plain_get_is_a_json_400_naming_the_transport(http: Http) -> None:
    response = await http.request("GET", "/api/v2/events/ws")
    err = assert_json_error(response, 400, "websocket_upgrade_required")
    assert "WebSocket" in err["message"]


@pytest.mark.timeout(60)
async def test_resuming_mid_history_per_video_loses_nothing(
    edge: RunningServer, start_edge: StartEdge, mesh: MeshConnection, admin: Member
) -> None:
    # Issue 21, defect 3: subscribe A (since 0), later add B (since 0) and read part of B's
    # history, lose the frontend, resume elsewhere with since = the highest id received: the
    # rest of B's history never arrived (one ascending position per socket cannot say where
    # B stands). Per-video positions can: each video's highest seq received is exact.
    await known_token(edge.app, admin)
    other = await start_edge()
    await known_token(other.app, admin)
    pub = EventPublisher(mesh)
    a, b = new_video_id(), new_video_id()
    b_history = [await publish_status(pub, b, n) for n in range(30)]
    a_events = [await publish_status(pub, a, n) for n in range(5)]
    client = await ws_open(edge.port, auth=admin.auth)
    await client.send(op="subscribe", videos=[a], since=0)
    await client.until_seq(a_events[-1])
    await client.send(op="subscribe", videos=[b], since=0)
    await client.reply("subscribed")
    await client.until_seq(b_history[9])  # part of B's history, then the frontend is lost
    client.conn.protocol.stream.close()  # type: ignore[union-attr]
    highest = {a: max(client.seqs(a)), b: max(client.seqs(b))}
    assert highest[b] < max(highest.values())  # the socket-wide maximum is no resume point
    more = [await publish_status(pub, b, 99), await publish_status(pub, a, 99)]
    resumed = await ws_open(other.port, auth=admin.auth)
    await resumed.send(op="subscribe", videos=[a, b], since=highest)
    await resumed.reply("subscribed")
    for seq in more:  # the videos' histories come one after the other, in either order
        await resumed.until_seq(seq)
    assert client.seqs(b) + resumed.seqs(b) == [*b_history, more[0]]
    assert client.seqs(a) + resumed.seqs(a) == [*a_events, more[1]]
    # A per-video position may name only videos of that subscribe.
    await resumed.send(op="subscribe", videos=[a], since={new_video_id(): 1})
    assert (await resumed.reply("error"))["code"] == "invalid_message"
    await close_all()  # before the frontends stop (they would close the sockets first)


@pytest.mark.timeout(30)
async def test_shutdown_closes_sockets_with_their_resume_position(
    start_edge: StartEdge, mesh: MeshConnection, admin: Member
) -> None:
    server = await start_edge()
    await known_token(server.app, admin)
    pub = EventPublisher(mesh)
    video = new_video_id()
    seq = await publish_status(pub, video, 1)
    client = await ws_open(server.port, auth=admin.auth)
    await client.send(op="subscribe", videos=[video], since=0)
    await client.until_seq(seq)
    await server.close()
    assert await client.until_closed() == 1001
    assert client.conn.close_reason == f"going away; since={seq}"
