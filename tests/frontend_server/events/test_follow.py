"""Following channels on SSE (``?channel_id=``; docs/contracts.md §7, §9): every event of every
video of the channels, videos created after the stream opened included, none of a video once it
left the channel; replay, current state and resets per channel; an unreadable channel answers as
an unknown one; access is followed live on every replica.

Real nats-server, real frontends and the real video and identity services: what each client
receives is compared on the wire with what JetStream stores.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import pytest
from tornado.web import Application

from access.credentials import split_token
from culto_app.roles import api_services
from frontend_server.events.conn import MAX_CHANNELS_PER_CLIENT
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.directory import Directory
from mesh.identity.store import IdentityStore, channel_key
from ops.server import RunningServer
from schemas.identity import ChannelRole, Visibility
from services.identity.accounts import Accounts
from tests.conftest import IsolatedMesh
from tests.frontend_server.events.churches import (
    error,
    new_church,
    snapshot,
    status,
    stored,
    submit,
)
from tests.frontend_server.events.test_history import _keep_last, _reset
from tests.frontend_server.sse_client import Frame, SSEClient, known_token, serve_events
from tests.support import Http, Member, StartEdge, eventually, make_member

PRIVATE, PUBLIC = Visibility.PRIVATE, Visibility.PUBLIC
VIEWER = ChannelRole.VIEWER
REVOCATION_LIMIT = 5.0  # seconds (docs/contracts.md §9)


async def known_channels(app: Application, *channels: str) -> None:
    """Wait until ``app``'s directory knows ``channels`` (the KV watch is asynchronous)."""
    directory: Directory = app.settings["authenticator"].directory
    await eventually(
        lambda: all(c in directory.channels for c in channels), what="the edge knowing channels"
    )


@dataclass
class Follower:
    """One client and what it asked for."""

    auth: dict[str, str] | None
    query: list[tuple[str, str]]
    channels: set[str]
    videos: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    client: SSEClient | None = None
    expected: list[int] = field(default_factory=list)

    def wants(self, video: str, channel: str, event_type: str) -> bool:
        named = channel in self.channels or video in self.videos
        return named and (not self.types or event_type in self.types)


async def _open(port: int, follower: Follower, headers: dict[str, str] | None = None) -> SSEClient:
    client = await SSEClient.open(port, auth=follower.auth, query=follower.query, headers=headers)
    assert client.status == 200, (follower.query, client.body)
    follower.client = client
    return client


async def _frames_until(client: SSEClient, last: int) -> list[Frame]:
    frames = [f for f in await client.until_seq(last, timeout=15) if f.id is not None]
    ids = [f.seq for f in frames]
    assert ids == sorted(set(ids)), "ids must be ascending without duplicates"
    return frames


async def test_a_channel_stream_carries_every_video_of_its_channels(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts, admin: Member
) -> None:
    a = await new_church(accounts, mesh, PUBLIC)
    b = await new_church(accounts, mesh, PRIVATE)
    c = await new_church(accounts, mesh, PRIVATE, videos=1)
    member = await make_member(accounts, roles={b.id: VIEWER})
    for who in (member, admin):
        await known_token(edge.app, who)
    await known_channels(edge.app, a.id, b.id, c.id)
    a0 = a.videos[0]
    followers = {
        "anonymous, A": Follower(None, [("channel_id", a.id)], {a.id}),
        "member, A and B": Follower(
            member.auth, [("channel_id", a.id), ("channel_id", b.id)], {a.id, b.id}
        ),
        "member, B and a video of A, statuses": Follower(
            member.auth,
            [("channel_id", b.id), ("video_id", a0), ("types", "video.status")],
            {b.id},
            {a0},
            {"video.status"},
        ),
        "admin, A B C": Follower(
            admin.auth, [("channels", f"{a.id},{b.id},{c.id}")], {a.id, b.id, c.id}
        ),
    }
    churches = {a.id: a, b.id: b, c.id: c}
    start = await EventReader(mesh).last_seq()
    # New connections first get the current state of their channels' videos (and videos).
    for f in followers.values():
        state = await snapshot(mesh, {ch: churches[ch].videos for ch in f.channels}, f.videos)
        latest = {
            e.seq: e for e in await EventReader(mesh).latest(sorted(a.videos + b.videos + c.videos))
        }
        f.expected = [s for s in state if not f.types or latest[s].event_type in f.types]
        await _open(edge.port, f)
    pub = EventPublisher(mesh)
    for tag in range(3):
        for church in (a, b, c):
            for video in church.videos:
                await status(pub, video, church.id, tag)
                await error(pub, video, church.id)
    # Sermons submitted after the streams opened reach their channel's followers.
    new_a, new_b = await submit(a), await submit(b)
    await status(pub, new_a, a.id, 50)
    await status(pub, new_b, b.id, 50)
    # A video moved from A to C: its events carry C from then on.
    moved = a.videos[1]
    await status(pub, moved, c.id, 60)
    # A video deleted: its video.deleted is the last of it (and the rest of it is purged from
    # the stream, so what the clients got before is read before the delete).
    mark = await EventReader(mesh).last_seq()
    events = await stored(mesh, start, mark, channels={a.id, b.id, c.id}, videos={a0})
    await b.api.delete(b.videos[1])
    end = max([await status(pub, church.videos[0], church.id, 99) for church in (a, b, c)])
    events += await stored(mesh, mark, end, channels={a.id, b.id, c.id}, videos={a0})
    assert {e.event_type for e in events} >= {"video.status", "error", "video.deleted"}
    world = {e.video_id for e in events}
    for name, f in followers.items():
        f.expected += [e.seq for e in events if f.wants(e.video_id, e.channel_id, e.event_type)]
        assert f.client is not None
        frames = await _frames_until(f.client, f.expected[-1])
        assert [fr.seq for fr in frames] == f.expected, name
        shown = {fr.json()["video_id"] for fr in frames}
        for video in world - shown:
            assert video not in f.client.wire, (name, video)
        await f.client.close()
    anonymous, everything = followers["anonymous, A"], followers["admin, A B C"]
    assert new_a in _videos(anonymous) and new_b not in _videos(anonymous)
    assert new_b in _videos(followers["member, A and B"])
    # The moved video's events under C reach C's followers only.
    moved_under_c = [e.seq for e in events if e.video_id == moved and e.channel_id == c.id]
    assert moved_under_c and set(moved_under_c) <= set(everything.expected)
    assert not set(moved_under_c) & set(anonymous.expected)


def _videos(f: Follower) -> set[str]:
    assert f.client is not None
    return {
        v for v in (json.loads(line[6:]).get("video_id") for line in _data_lines(f.client)) if v
    }


def _data_lines(client: SSEClient) -> list[str]:
    return [line for line in client.wire.splitlines() if line.startswith("data: ")]


async def test_a_channel_stream_resumes_after_an_id_or_a_cursor(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    a = await new_church(accounts, mesh, PRIVATE)
    other = await new_church(accounts, mesh, PUBLIC)
    member = await make_member(accounts, roles={a.id: VIEWER})
    await known_token(edge.app, member)
    await known_channels(edge.app, a.id, other.id)
    pub = EventPublisher(mesh)
    start = await EventReader(mesh).last_seq()
    for n in range(5):
        await status(pub, a.videos[n % 2], a.id, n)
        await status(pub, other.videos[0], other.id, n)
    added = await submit(a)
    mid = await status(pub, added, a.id, 10)
    for n in range(3):
        await status(pub, a.videos[0], a.id, 20 + n)
        await status(pub, other.videos[1], other.id, n)
    end = await status(pub, a.videos[1], a.id, 30)
    query = [("channel_id", a.id)]
    expected = [e.seq for e in await stored(mesh, start, end, channels={a.id})]
    by_header = await SSEClient.open(
        edge.port, auth=member.auth, query=query, headers={"Last-Event-ID": str(start)}
    )
    assert [f.seq for f in await _frames_until(by_header, end)] == expected
    assert "stream.reset" not in by_header.wire and other.videos[0] not in by_header.wire
    by_query = await SSEClient.open(
        edge.port, auth=member.auth, query=[*query, ("last_event_id", str(mid))]
    )
    assert [f.seq for f in await _frames_until(by_query, end)] == [s for s in expected if s > mid]
    # An acknowledged cursor resumes after its sequence ("from any device").
    assert await _ack(edge, member, "church", mid) == 204
    by_cursor = await SSEClient.open(
        edge.port, auth=member.auth, query=[*query, ("cursor", "church")]
    )
    assert [f.seq for f in await _frames_until(by_cursor, end)] == [s for s in expected if s > mid]
    for client in (by_header, by_query, by_cursor):
        await client.close()


async def _ack(edge: RunningServer, member: Member, cursor: str, seq: int) -> int:
    http = Http(edge.url)
    try:
        response = await http.request(
            "POST",
            "/api/v2/events/ack",
            json_body={"cursor": cursor, "seq": seq},
            headers=member.auth,
        )
        return response.code
    finally:
        http.close()


async def test_an_unreadable_channel_answers_as_an_unknown_one(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    private = await new_church(accounts, mesh, PRIVATE, videos=0)
    public = await new_church(accounts, mesh, PUBLIC, videos=0)
    member = await make_member(accounts)
    bound = await make_member(accounts, channel=private.id, roles={private.id: VIEWER})
    for who in (member, bound):
        await known_token(edge.app, who)
    await known_channels(edge.app, private.id, public.id)
    unknown = "no-such-church"

    async def answer(auth: dict[str, str] | None, channel: str) -> tuple[int, str]:
        client = await SSEClient.open(edge.port, auth=auth, query=[("channel_id", channel)])
        assert client.headers["content-type"].startswith("application/json"), client.body
        return client.status, client.body.decode().replace(channel, "<id>")

    for auth, status_code, code in (
        (member.auth, 404, "not_found"),
        (None, 401, "unauthenticated"),
    ):
        hidden = await answer(auth, private.id)
        assert hidden == await answer(auth, unknown)  # byte for byte, the id aside
        assert hidden[0] == status_code and json.loads(hidden[1])["error"]["code"] == code
    # A token bound to one channel knows no other, public ones included.
    assert await answer(bound.auth, public.id) == await answer(bound.auth, unknown)
    # One unreadable channel among readable ones is enough.
    mixed = await SSEClient.open(
        edge.port, auth=member.auth, query=[("channel_id", public.id), ("channel_id", private.id)]
    )
    assert mixed.status == 404
    bad_queries: list[list[tuple[str, str]]] = [
        [("channel_id", "a.b")],
        [("channel_id", "")],
        [("channels", "ok,*")],
        [("channel_id", f"c{n}") for n in range(MAX_CHANNELS_PER_CLIENT + 1)],
    ]
    for query in bad_queries:
        refused = await SSEClient.open(edge.port, query=query)
        assert refused.status == 400, query
        assert refused.error()["error"]["code"] == "invalid_input"
    ok = await SSEClient.open(edge.port, auth=bound.auth, query=[("channel_id", private.id)])
    assert ok.status == 200
    await ok.close()


async def _open_everywhere(
    servers: list[RunningServer], auth: dict[str, str] | None, channels: Collection[str]
) -> list[SSEClient]:
    clients = []
    for server in servers:
        query = [("channel_id", c) for c in sorted(channels)]
        client = await SSEClient.open(server.port, auth=auth, query=query)
        assert client.status == 200, client.body
        clients.append(client)
    return clients


async def _ended_in_time(clients: list[SSEClient], since: float) -> None:
    await asyncio.gather(*(c.until_end(timeout=REVOCATION_LIMIT + 1) for c in clients))
    took = time.monotonic() - since
    assert all(c.ended and c.clean_end for c in clients), "a stream outlived its access"
    assert took < REVOCATION_LIMIT, f"streams ended after {took:.2f}s"


@pytest.mark.timeout(90)
async def test_access_to_a_followed_channel_is_followed_live_on_every_replica(
    edge: RunningServer, start_edge: StartEdge, mesh: MeshConnection, accounts: Accounts
) -> None:
    second = await start_edge(port=0)
    servers = [edge, second]
    church = await new_church(accounts, mesh, PRIVATE, videos=1)
    public = await new_church(accounts, mesh, PUBLIC, videos=1)
    removed = await make_member(accounts, roles={church.id: VIEWER})
    revoked = await make_member(accounts, roles={church.id: VIEWER})
    bystander = await make_member(accounts, roles={church.id: VIEWER})
    for server in servers:
        for who in (removed, revoked, bystander):
            await known_token(server.app, who)
        await known_channels(server.app, church.id, public.id)
    # The bystander follows only the public channel: losing its role elsewhere changes nothing.
    streams = {
        "removed": await _open_everywhere(servers, removed.auth, {church.id, public.id}),
        "revoked": await _open_everywhere(servers, revoked.auth, {church.id}),
        "anonymous": await _open_everywhere(servers, None, {public.id}),
        "bystander": await _open_everywhere(servers, bystander.auth, {public.id}),
    }
    started = time.monotonic()
    await accounts.remove_member(church.id, removed.user_id)
    await accounts.remove_member(church.id, bystander.user_id)
    await _ended_in_time(streams["removed"], started)
    parts = split_token(revoked.token)
    assert parts is not None
    started = time.monotonic()
    await accounts.revoke_token(parts[0])
    await _ended_in_time(streams["revoked"], started)
    pub = EventPublisher(mesh)
    state = await snapshot(mesh, {public.id: public.videos})
    seq = await status(pub, public.videos[0], public.id)
    for client in streams["bystander"] + streams["anonymous"]:
        assert [f.seq for f in await client.until_seq(seq)] == [*state, seq]
    # The public channel turned private: its anonymous followers end (they follow nothing
    # they may read any more), everywhere.
    channel = await accounts.channel(public.id)
    started = time.monotonic()
    await accounts.store.put(
        channel_key(public.id), channel.model_copy(update={"visibility": PRIVATE})
    )
    await _ended_in_time(streams["anonymous"] + streams["bystander"], started)
    # They cannot come back: the channel answers as an unknown one now.
    again = await SSEClient.open(edge.port, query=[("channel_id", public.id)])
    assert again.status == 401
    again = await SSEClient.open(edge.port, auth=removed.auth, query=[("channel_id", church.id)])
    assert again.status == 404
    for group in streams.values():
        for client in group:
            await client.close()


@pytest.mark.timeout(60)
async def test_a_trimmed_resume_point_resets_then_the_channels_state(
    isolated_mesh: Callable[..., Any],
) -> None:
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    accounts = Accounts(IdentityStore(mesh))
    async with api_services(mesh, env.settings.api_config()):
        church = await new_church(accounts, mesh, PUBLIC)
        other = await new_church(accounts, mesh, PUBLIC, videos=1)
        pub = EventPublisher(mesh)
        for n in range(20):
            await status(pub, church.videos[n % 2], church.id, n)
        last_error = await error(pub, church.videos[0], church.id)
        await status(pub, other.videos[0], other.id)
        first = await _keep_last(mesh, 6)
        async with serve_events(mesh, env.settings) as srv:
            await eventually(lambda: church.id in srv.directory.channels)
            client = await SSEClient.open(
                srv.port, query=[("channel_id", church.id)], headers={"Last-Event-ID": "3"}
            )
            reset = _reset(await client.next())
            assert (reset.requested, reset.first_available, reset.reason) == (3, first, "trimmed")
            # Then the channel's current state (the latest of each type of each video, those
            # still stored), then live.
            state = await snapshot(mesh, {church.id: church.videos})
            assert last_error in state
            live = await status(pub, church.videos[1], church.id, 77)
            frames = await _frames_until(client, live)
            assert [f.seq for f in frames] == [*state, live]
            assert other.videos[0] not in client.wire
            await client.close()
