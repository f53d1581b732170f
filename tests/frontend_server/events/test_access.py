"""Event streams carry only what the caller may read (docs/contracts.md §9 "Event streams").

Real nats-server, real frontends (``serve_frontend``) and the real video API service: videos
are created in channels through the API, their events published with their channel, and what
each client receives is checked on the wire against JetStream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from tornado.web import Application, create_signed_value

from access.credentials import session_key, split_token
from culto_app.settings import Settings
from frontend_server.security.auth import SESSION_COOKIE
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.directory import Directory
from mesh.identity.store import channel_key
from mesh.subjects import event_filters
from ops.server import RunningServer
from schemas import ErrorEventDTO, VideoStatusEventDTO, new_video_id
from schemas.identity import ChannelRole, Visibility
from schemas.videos import TranscriptInput, VideoCreate
from services.identity.accounts import Accounts
from tests.frontend_server.sse_client import Frame, SSEClient, known_token
from tests.support import Member, StartEdge, admin_api, eventually, make_member

PRIVATE, PUBLIC = Visibility.PRIVATE, Visibility.PUBLIC
REVOCATION_LIMIT = 5.0  # seconds (docs/contracts.md §9)


Specs = dict[str, tuple[dict[str, str] | None, list[tuple[str, str]], set[str]]]
"""Client name → (its credential headers, its query, the videos it may read)."""


@dataclass
class World:
    """Three channels with two videos each: A and B private, P public."""

    channels: dict[str, str]  # "A" | "B" | "P" → channel id
    videos: dict[str, list[str]]  # "A" | "B" | "P" → its video ids
    channel_of: dict[str, str]  # video id → channel id

    def of(self, *names: str) -> set[str]:
        return {v for name in names for v in self.videos[name]}

    @property
    def all_videos(self) -> list[str]:
        return [v for name in ("A", "B", "P") for v in self.videos[name]]


async def _world(accounts: Accounts, mesh: MeshConnection) -> World:
    api = await admin_api(mesh)
    channels, videos, channel_of = {}, {}, {}
    for name, visibility in (("A", PRIVATE), ("B", PRIVATE), ("P", PUBLIC)):
        channel = await accounts.add_channel(f"channel {name}", visibility)
        channels[name] = channel.id
        videos[name] = []
        for n in range(2):
            body = VideoCreate(
                transcript=TranscriptInput(content=f"Sermão {name}{n}."),
                title=f"{name}{n}",
                channel_id=channel.id,
            )
            video = await api.create(body)
            videos[name].append(video.id)
            channel_of[video.id] = channel.id
    return World(channels, videos, channel_of)


async def _publish_round(pub: EventPublisher, world: World, tag: int) -> int:
    """One event on every video (an error on every third); the last sequence."""
    seq = 0
    for n, video in enumerate(world.all_videos):
        channel = world.channel_of[video]
        event: VideoStatusEventDTO | ErrorEventDTO
        if (n + tag) % 3 == 0:
            event = ErrorEventDTO(video_id=video, code="c", message=f"e{tag}")
        else:
            event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=tag % 100)
        seq = (await pub.publish(event, channel_id=channel)).seq
    return seq


async def _stored(mesh: MeshConnection, videos: Iterable[str], after: int, until: int) -> list[int]:
    reader = EventReader(mesh)
    seqs: list[int] = []
    async for batch in reader.replay(list(event_filters(sorted(videos), [])), after):
        seqs += [e.seq for e in batch if e.seq <= until]
    return seqs


async def _until_all(client: SSEClient, marks: set[int], timeout: float = 15) -> list[Frame]:
    """Frames until every sequence of ``marks`` arrived (frames come in ascending order)."""
    frames: list[Frame] = []
    while not marks <= {f.seq for f in frames}:
        frames += await client.until_seq(max(marks), timeout)
    return frames


def _assert_only(client: SSEClient, frames: list[Frame], world: World, allowed: set[str]) -> None:
    """No frame, and no byte on the wire, of a video outside ``allowed``."""
    for frame in frames:
        assert frame.json()["video_id"] in allowed, frame
    for video in set(world.all_videos) - allowed:
        assert video not in client.wire, f"{video} of another channel reached the wire"
    ids = [f.seq for f in frames]
    assert ids == sorted(set(ids)), "ids must be ascending without duplicates"


async def test_each_client_receives_exactly_what_it_may_read(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts, admin: Member
) -> None:
    world = await _world(accounts, mesh)
    member_a = await make_member(accounts, roles={world.channels["A"]: ChannelRole.VIEWER})
    member_b = await make_member(accounts, roles={world.channels["B"]: ChannelRole.VIEWER})
    for member in (member_a, member_b, admin):
        await known_token(edge.app, member)
    va, vb, vp = world.videos["A"][0], world.videos["B"][0], world.videos["P"][0]
    port = edge.port
    specs: Specs = {
        "member A, all videos": (member_a.auth, [], world.of("A", "P")),
        "member B, all videos": (member_b.auth, [], world.of("B", "P")),
        "anonymous, all videos": (None, [], world.of("P")),
        "admin, all videos": (admin.auth, [], world.of("A", "B", "P")),
        "member A, its video": (member_a.auth, [("video_id", va)], {va}),
        "anonymous, a public video": (None, [("video_id", vp)], {vp}),
        "admin, three videos": (admin.auth, [("videos", f"{va},{vb},{vp}")], {va, vb, vp}),
    }
    start = await EventReader(mesh).last_seq()
    # A new connection naming videos first gets their current state (the latest event of each
    # type); unfiltered ones start live.
    snapshots = {
        name: [e.seq for e in await EventReader(mesh).latest(sorted(allowed))] if query else []
        for name, (_, query, allowed) in specs.items()
    }
    live = {}
    for name, (auth, query, _) in specs.items():
        live[name] = await SSEClient.open(port, auth=auth, query=query)
        assert live[name].status == 200, (name, live[name].body)
    pub = EventPublisher(mesh)
    end = 0
    for tag in range(10):
        end = await _publish_round(pub, world, tag)
    # One more event per video: a client that has its own has everything dispatched before.
    sentinels = {}
    for video in world.all_videos:
        sentinels[video] = await _publish_round_one(pub, world, video)
    for name, client in live.items():
        allowed = specs[name][2]
        frames = await _until_all(client, {sentinels[v] for v in allowed})
        _assert_only(client, frames, world, allowed)
        expected = snapshots[name] + await _stored(mesh, allowed, start, end)
        assert [f.seq for f in frames if f.seq <= end] == expected, name
        await client.close()
    await _check_resume_and_snapshot(port, mesh, world, specs, start, member_a)


async def _check_resume_and_snapshot(
    port: int, mesh: MeshConnection, world: World, specs: Specs, start: int, member_a: Member
) -> None:
    """Resume (Last-Event-ID) from before it all, and a snapshot: the same rule, per event."""
    pub = EventPublisher(mesh)
    resumed = {}
    for name in ("member A, all videos", "anonymous, all videos", "member A, its video"):
        auth, query, _ = specs[name]
        headers = {"Last-Event-ID": str(start)}
        resumed[name] = await SSEClient.open(port, auth=auth, query=query, headers=headers)
        assert resumed[name].status == 200
    final = {v: await _publish_round_one(pub, world, v) for v in world.all_videos}
    for name, client in resumed.items():
        allowed = specs[name][2]
        frames = await _until_all(client, {final[v] for v in allowed})
        _assert_only(client, frames, world, allowed)
        assert [f.seq for f in frames] == await _stored(mesh, allowed, start, max(final.values()))
        await client.close()
    snapshot = await SSEClient.open(
        port, auth=member_a.auth, query=[("videos", ",".join(world.videos["A"]))]
    )
    latest = [e.seq for e in await EventReader(mesh).latest(world.videos["A"])]
    frames = await _until_all(snapshot, set(latest))
    assert [f.seq for f in frames] == latest
    _assert_only(snapshot, frames, world, world.of("A"))
    await snapshot.close()


async def _publish_round_one(pub: EventPublisher, world: World, video: str) -> int:
    event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=100)
    return (await pub.publish(event, channel_id=world.channel_of[video])).seq


async def test_naming_an_unreadable_video_is_refused_before_the_stream(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts, admin: Member
) -> None:
    world = await _world(accounts, mesh)
    member_a = await make_member(accounts, roles={world.channels["A"]: ChannelRole.VIEWER})
    for member in (member_a, admin):
        await known_token(edge.app, member)
    va, vb, vp = world.videos["A"][0], world.videos["B"][0], world.videos["P"][0]
    unknown = new_video_id()
    cases: list[tuple[dict[str, str] | None, list[str], int, str]] = [
        (member_a.auth, [vb], 404, "not_found"),  # another private channel: not revealed
        (member_a.auth, [va, vb], 404, "not_found"),  # one unreadable video is enough
        (member_a.auth, [unknown], 404, "not_found"),  # no record: same answer
        (None, [va], 401, "unauthenticated"),
        (None, [unknown], 401, "unauthenticated"),
        ({"Authorization": "Bearer culto_t_0000000000000000_nope"}, [vp], 401, "invalid_token"),
    ]
    for auth, videos, status, code in cases:
        client = await SSEClient.open(edge.port, auth=auth, query=[("video_id", v) for v in videos])
        assert client.status == status, (videos, client.body)
        assert client.headers["content-type"].startswith("application/json")
        assert client.error()["error"]["code"] == code
    query_token = await SSEClient.open(
        edge.port, query=[("video_id", vp), ("access_token", member_a.token)]
    )
    assert query_token.status == 400
    assert query_token.error()["error"]["code"] == "token_in_query"
    for auth, videos in (
        (member_a.auth, [va, vp]),
        (None, [vp]),
        (admin.auth, [vb, unknown]),  # an admin may name any id, even one without a record
    ):
        client = await SSEClient.open(edge.port, auth=auth, query=[("video_id", v) for v in videos])
        assert client.status == 200, (videos, client.body)
        await client.close()


def _session_cookie(settings: Settings, session_id: str) -> dict[str, str]:
    secret = settings.edge_config().cookie_secret
    signed = create_signed_value(secret, SESSION_COOKIE, session_id).decode()
    return {"Cookie": f"{SESSION_COOKIE}={signed}"}


async def _knows_session(app: Application, key: str) -> None:
    directory: Directory = app.settings["authenticator"].directory
    await eventually(lambda: key in directory.sessions, what="the edge knowing a new session")


async def _open_everywhere(
    servers: list[RunningServer], auth: dict[str, str], query: list[tuple[str, str]]
) -> list[SSEClient]:
    clients = []
    for server in servers:
        client = await SSEClient.open(server.port, auth=auth, query=query)
        assert client.status == 200, client.body
        clients.append(client)
    return clients


async def _ended_in_time(clients: list[SSEClient], since: float) -> None:
    # (A filtered stream has its video's current state to read first.)
    await asyncio.gather(*(c.until_end(timeout=REVOCATION_LIMIT + 1) for c in clients))
    took = time.monotonic() - since
    assert all(c.ended for c in clients), "a stream outlived its credential"
    assert took < REVOCATION_LIMIT, f"streams ended after {took:.2f}s"
    for client in clients:
        await client.close()


async def test_revocation_ends_open_streams_on_every_replica(
    edge: RunningServer,
    start_edge: StartEdge,
    mesh: MeshConnection,
    accounts: Accounts,
    edge_settings: Settings,
) -> None:
    second = await start_edge(port=0)
    servers = [edge, second]
    world = await _world(accounts, mesh)
    a = world.channels["A"]
    va = world.videos["A"][0]
    by_token = await make_member(accounts, roles={a: ChannelRole.VIEWER})
    by_session = await make_member(accounts, roles={a: ChannelRole.VIEWER})
    by_role = await make_member(accounts, roles={a: ChannelRole.VIEWER})
    session = await accounts.login(by_session.email, "correct horse battery")
    cookie = _session_cookie(edge_settings, session.session_id)
    for server in servers:
        for member in (by_token, by_role):
            await known_token(server.app, member)
        await _knows_session(server.app, session_key(session.session_id))
    # Unfiltered and filtered streams of each, on both replicas.
    streams = {
        name: [
            *await _open_everywhere(servers, auth, []),
            *await _open_everywhere(servers, auth, [("video_id", va)]),
        ]
        for name, auth in (
            ("token", by_token.auth),
            ("session", cookie),
            ("role", by_role.auth),
        )
    }
    token_id = split_token(by_token.token)
    assert token_id is not None
    started = time.monotonic()
    await accounts.revoke_token(token_id[0])
    await _ended_in_time(streams["token"], started)
    started = time.monotonic()
    await accounts.logout(session_key(session.session_id))
    await _ended_in_time(streams["session"], started)
    started = time.monotonic()
    await accounts.remove_member(a, by_role.user_id)
    await _ended_in_time(streams["role"], started)
    for auth in (by_token.auth, cookie):  # and they cannot come back
        again = await SSEClient.open(edge.port, auth=auth, query=[("video_id", va)])
        assert again.status == 401
    again = await SSEClient.open(edge.port, auth=by_role.auth, query=[("video_id", va)])
    assert again.status == 404
    assert all(c.clean_end for group in streams.values() for c in group)


async def test_an_expired_token_ends_its_stream(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    world = await _world(accounts, mesh)
    member = await make_member(
        accounts,
        roles={world.channels["A"]: ChannelRole.VIEWER},
        expires_in=timedelta(seconds=3),
    )
    await known_token(edge.app, member)
    client = await SSEClient.open(edge.port, auth=member.auth)
    assert client.status == 200
    assert await client.until_end(timeout=3 + 1 + REVOCATION_LIMIT) == []
    assert client.ended and client.clean_end
    await client.close()
    refused = await SSEClient.open(edge.port, auth=member.auth)
    assert refused.status == 401


async def test_access_changes_apply_to_open_unfiltered_streams(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    """A new role is streamed at once, without reconnecting; a channel turned private stops
    reaching anonymous streams (which follow it in place) and ends a signed-in non-member's."""
    world = await _world(accounts, mesh)
    pub = EventPublisher(mesh)
    member = await make_member(accounts, roles={world.channels["A"]: ChannelRole.VIEWER})
    await known_token(edge.app, member)
    signed_in = await SSEClient.open(edge.port, auth=member.auth)
    anonymous = await SSEClient.open(edge.port)
    directory: Directory = edge.app.settings["authenticator"].directory
    b, p = world.channels["B"], world.channels["P"]
    vb, vp = world.videos["B"][0], world.videos["P"][0]

    await accounts.grant(b, member.user_id, ChannelRole.VIEWER)
    await eventually(lambda: b in directory.roles_of(member.user_id))
    await asyncio.sleep(0.2)  # the hub re-checks a moment after the change
    seq = await _publish_round_one(pub, world, vb)
    assert [f.seq for f in await signed_in.until_seq(seq)] == [seq]

    channel = await accounts.channel(p)
    await accounts.store.put(channel_key(p), channel.model_copy(update={"visibility": PRIVATE}))
    await eventually(lambda: directory.channels[p].visibility is PRIVATE)
    assert await signed_in.until_end(timeout=REVOCATION_LIMIT) == []  # lost a channel it read
    await asyncio.sleep(0.2)
    hidden = await _publish_round_one(pub, world, vp)
    marker = await _publish_round_one(pub, world, world.videos["A"][0])  # private: not anon's
    # The anonymous stream goes on (heartbeats aside) without the now private channel.
    await accounts.store.put(channel_key(p), channel)  # public again
    await eventually(lambda: directory.channels[p].visibility is PUBLIC)
    await asyncio.sleep(0.2)
    shown = await _publish_round_one(pub, world, vp)
    frames = await anonymous.until_seq(shown)
    assert [f.seq for f in frames] == [shown]
    assert hidden < marker < shown and vp in anonymous.wire
    await signed_in.close()
    await anonymous.close()
