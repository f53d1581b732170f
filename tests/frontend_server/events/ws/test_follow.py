"""Following channels on the WebSocket (docs/contracts.md §10): ``subscribe``/``unsubscribe``
with ``channels`` beside ``videos``, the same no-gap, no-duplicate hand-off, every event
authorised, and access followed live. Real frontends, nats-server and services."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator

import pytest
from tornado.ioloop import IOLoop

from mesh import EventPublisher, EventReader, MeshConnection
from ops.server import RunningServer
from schemas.identity import ChannelRole, Visibility
from services.identity.accounts import Accounts
from tests.frontend_server.events.churches import (
    Church,
    new_church,
    snapshot,
    status,
    stored,
    submit,
)
from tests.frontend_server.events.test_follow import known_channels
from tests.frontend_server.sse_client import known_token
from tests.frontend_server.ws_client import WsClient, close_all, ws_open
from tests.support import Member, make_member

PRIVATE, PUBLIC = Visibility.PRIVATE, Visibility.PUBLIC


@pytest.fixture(autouse=True)
def _close_clients(io_loop: IOLoop) -> Iterator[None]:
    yield
    io_loop.run_sync(close_all)


async def _script(
    port: int,
    member: Member,
    churches: dict[str, Church],
    start: int,
    marks: dict[str, int],
    steps: list[asyncio.Event],
) -> WsClient:
    """Follow A since start; add B since start; add a video of C since the mid mark; drop A;
    add channel C since start (its kept video is complete already); read to the final marks."""
    a, b, c = churches["A"], churches["B"], churches["C"]
    client = await ws_open(port, auth=member.auth)
    await client.send(op="subscribe", channels=[a.id], since=start)
    reply = await client.reply("subscribed")
    assert (reply["channels"], reply["videos"], reply["all"]) == ([a.id], [], False)
    await steps[0].wait()
    await client.send(op="subscribe", channels=[b.id], since=start)
    assert (await client.reply("subscribed"))["channels"] == sorted([a.id, b.id])
    await steps[1].wait()
    await client.send(op="subscribe", videos=[c.videos[0]], since=marks["mid"])
    reply = await client.reply("subscribed")
    assert (reply["channels"], reply["videos"]) == (sorted([a.id, b.id]), [c.videos[0]])
    await client.send(op="unsubscribe", channels=[a.id])
    assert (await client.reply("subscribed"))["channels"] == [b.id]
    await steps[2].wait()
    await client.send(op="subscribe", channels=[c.id], since=start)
    reply = await client.reply("subscribed")
    assert (reply["channels"], reply["videos"]) == (sorted([b.id, c.id]), [c.videos[0]])
    await steps[3].wait()
    for mark in ("B", "C", "new"):
        await client.until_seq(marks[mark])
    return client


@pytest.mark.timeout(90)
async def test_sockets_follow_channels_while_subscriptions_change_under_load(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    churches = {
        "A": await new_church(accounts, mesh, PUBLIC),
        "B": await new_church(accounts, mesh, PRIVATE),
        "C": await new_church(accounts, mesh, PRIVATE),
        "X": await new_church(accounts, mesh, PRIVATE),  # followed by nobody
    }
    a, b, c, x = (churches[k] for k in "ABCX")
    member = await make_member(accounts, roles={b.id: ChannelRole.VIEWER, c.id: ChannelRole.VIEWER})
    await known_token(edge.app, member)
    await known_channels(edge.app, *(ch.id for ch in churches.values()))
    pub = EventPublisher(mesh)
    start = await EventReader(mesh).last_seq()
    marks: dict[str, int] = {}
    steps = [asyncio.Event() for _ in range(4)]
    clients = [
        asyncio.ensure_future(_script(edge.port, member, churches, start, marks, steps))
        for _ in range(8)
    ]
    rng = random.Random(26)
    every = [(v, ch.id) for ch in churches.values() for v in ch.videos]
    try:
        for step in range(3):
            for n in range(20):  # events flow while every client changes what it follows
                video, channel = rng.choice(every)
                await status(pub, video, channel, n)
                if n == 10 and step == 1:
                    marks["mid"] = await status(pub, c.videos[0], c.id, 99)
                await asyncio.sleep(0.002)
            steps[step].set()
            await asyncio.sleep(0.05)
        new = await submit(c)  # a sermon submitted while the sockets follow C
        for n in range(20):
            video, channel = rng.choice(every)
            await status(pub, video, channel, n)
        marks["B"] = await status(pub, b.videos[1], b.id, 100)
        marks["C"] = await status(pub, c.videos[1], c.id, 100)
        marks["new"] = await status(pub, new, c.id, 100)
        steps[3].set()
        done = await asyncio.gather(*clients)
    finally:
        for task in clients:
            task.cancel()
    end = max(marks.values())
    events = await stored(mesh, start, end, channels={a.id, b.id, c.id, x.id})
    per_video: dict[str, list[int]] = {}
    for e in events:
        per_video.setdefault(e.video_id, []).append(e.seq)
    for client in done:
        for video in a.videos:  # from start until A was dropped: a prefix, no gap
            got = client.seqs(video)
            assert got == per_video[video][: len(got)]
        for video in b.videos + c.videos[1:]:  # everything since start
            assert client.seqs(video) == per_video[video], video
        # The video of C followed since the mid mark, then complete: not sent again by C.
        assert client.seqs(c.videos[0]) == [s for s in per_video[c.videos[0]] if s > marks["mid"]]
        assert all(v not in x.videos for _, v in client.events)
        client.close()


@pytest.mark.timeout(30)
async def test_a_channel_without_since_gets_its_current_state_then_live(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts, admin: Member
) -> None:
    church = await new_church(accounts, mesh, PRIVATE, videos=3)
    await known_token(edge.app, admin)
    await known_channels(edge.app, church.id)
    pub = EventPublisher(mesh)
    await status(pub, church.videos[0], church.id, 40)
    client = await ws_open(edge.port, auth=admin.auth)
    await client.send(op="subscribe", channels=[church.id])
    await client.reply("subscribed")
    state = await snapshot(mesh, {church.id: church.videos})
    live = await status(pub, church.videos[2], church.id, 50)
    await client.until_seq(live)
    assert [s for s, _ in client.events] == [*state, live]


@pytest.mark.timeout(30)
async def test_an_unreadable_channel_is_not_found_and_changes_nothing(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    mine = await new_church(accounts, mesh, PRIVATE, videos=1)
    theirs = await new_church(accounts, mesh, PRIVATE, videos=1)
    member = await make_member(accounts, roles={mine.id: ChannelRole.VIEWER})
    await known_token(edge.app, member)
    await known_channels(edge.app, mine.id, theirs.id)
    client = await ws_open(edge.port, auth=member.auth)
    await client.send(op="subscribe", channels=[mine.id])
    await client.reply("subscribed")
    answers = []
    for channel in (theirs.id, "no-such-church"):
        await client.send(op="subscribe", channels=[channel])
        reply = await client.reply("error")
        answers.append(json.dumps(reply).replace(channel, "<id>"))
    assert answers[0] == answers[1] and '"not_found"' in answers[0]
    await client.send(op="subscribe", channels=["bad.id"])
    assert (await client.reply("error"))["code"] == "invalid_input"
    pub = EventPublisher(mesh)
    hidden = await status(pub, theirs.videos[0], theirs.id)
    seen = await status(pub, mine.videos[0], mine.id)
    await client.until_seq(seen)
    assert hidden not in {s for s, _ in client.events}


@pytest.mark.timeout(30)
async def test_losing_a_followed_channel_closes_the_socket(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    church = await new_church(accounts, mesh, PRIVATE, videos=1)
    member = await make_member(accounts, roles={church.id: ChannelRole.VIEWER})
    await known_token(edge.app, member)
    await known_channels(edge.app, church.id)
    client = await ws_open(edge.port, auth=member.auth)
    # since=0: the whole stream is read for history, so access is often lost while it is
    # still being sent; the socket must close (4003) all the same.
    await client.send(op="subscribe", channels=[church.id], since=0)
    await client.reply("subscribed")
    await accounts.remove_member(church.id, member.user_id)
    assert await client.until_closed(timeout=5) == 4003
