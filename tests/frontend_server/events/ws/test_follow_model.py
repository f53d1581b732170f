"""A model-based test of channel subscriptions on the WebSocket (hypothesis stateful testing).

Hypothesis drives one socket of a real frontend (real nats-server, hub, WebSocket) through
random sequences of: publishing events of videos in channels, sermons appearing in a channel,
videos moving between channels, following channels and videos (with a ``since`` anywhere in the
example's history) and unfollowing them. A small reference model says what the socket must
have received for each video, in order; after every step a marker event (on a channel the
socket always follows, published last) proves the socket is up to date, and the two are
compared video by video.

The model (docs/contracts.md §10): an event reaches the socket live iff the channel it carries, or
its video, is followed when it is published; ``subscribe`` with ``since`` first sends the events
in ``(since, head]`` of what it *added* that what was kept did not already cover, ascending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar, cast

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tornado.ioloop import IOLoop

from mesh import EventPublisher, EventReader, MeshConnection
from ops.server import RunningServer
from schemas import new_video_id
from schemas.identity import Visibility
from services.identity.accounts import Accounts
from tests.frontend_server.events.churches import status
from tests.frontend_server.events.test_follow import known_channels
from tests.frontend_server.sse_client import known_token
from tests.frontend_server.ws_client import WsClient, close_all, ws_open
from tests.support import Member

CHANNELS = 3
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _close_clients(io_loop: IOLoop) -> Iterator[None]:
    yield
    io_loop.run_sync(close_all)


@dataclass
class Published:
    """One event of the example: its sequence, video and the channel it carried."""

    seq: int
    video: str
    channel: str


@dataclass
class Model:
    """What the socket follows and what it must have received, per video."""

    followed: set[str] = field(default_factory=set)
    videos: set[str] = field(default_factory=set)
    channel_of: dict[str, str] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    expected: dict[str, list[int]] = field(default_factory=dict)

    def publish(self, event: Published) -> None:
        self.published.append(event)
        if event.channel in self.followed or event.video in self.videos:
            self.expected.setdefault(event.video, []).append(event.seq)

    def subscribe(self, channels: set[str], videos: set[str], since: int) -> None:
        added_channels, added_videos = channels - self.followed, videos - self.videos
        for event in self.published:  # ascending: what was added, after since
            kept = event.channel in self.followed or event.video in self.videos
            added = event.channel in added_channels or event.video in added_videos
            if event.seq > since and added and not kept:
                self.expected.setdefault(event.video, []).append(event.seq)
        self.followed |= channels
        self.videos |= videos


@dataclass
class Rig:
    """The frontend, its NATS and the channels one test's examples share."""

    io_loop: IOLoop
    edge: RunningServer
    mesh: MeshConnection
    admin: Member
    pub: EventPublisher
    channels: list[str]
    """The channels the examples follow, publish on and move videos between."""
    marker_channel: str
    """Always followed: its marker event, published last, proves the socket is up to date."""

    def run(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the test's loop (Hypothesis drives the machine synchronously)."""
        return cast(T, self.io_loop.run_sync(lambda: coro))


async def make_rig(
    io_loop: IOLoop, edge: RunningServer, mesh: MeshConnection, accounts: Accounts, admin: Member
) -> Rig:
    """Private channels known to the edge, and the admin's token."""
    channels = [
        (await accounts.add_channel(f"model {n}", Visibility.PRIVATE)).id
        for n in range(CHANNELS + 1)
    ]
    await known_token(edge.app, admin)
    await known_channels(edge.app, *channels)
    pub = EventPublisher(mesh)
    return Rig(io_loop, edge, mesh, admin, pub, channels[:CHANNELS], channels[CHANNELS])


CHANNEL = st.sampled_from(range(CHANNELS))
"""A channel of the example, by its index in :attr:`Rig.channels`."""


class ChannelSubscriptions(RuleBasedStateMachine):
    """One socket per example, against :class:`Model`."""

    def __init__(self, rig: Rig) -> None:
        super().__init__()
        self.rig = rig
        self.model = Model()
        self.marker = new_video_id()
        self.start = 0
        self.client: WsClient | None = None

    def _ids(self, picked: set[int]) -> set[str]:
        return {self.rig.channels[i] for i in picked}

    @initialize()
    def open_socket(self) -> None:
        rig = self.rig

        async def go() -> WsClient:
            self.start = await EventReader(rig.mesh).last_seq()
            client = await ws_open(rig.edge.port, auth=rig.admin.auth)
            await client.send(op="subscribe", channels=[rig.marker_channel], since=self.start)
            await client.reply("subscribed")
            return client

        self.client = rig.run(go())

    @rule(channel=CHANNEL)
    def new_sermon(self, channel: int) -> None:
        """A video appears in ``channel`` (its first event)."""
        video = new_video_id()
        self.model.channel_of[video] = self.rig.channels[channel]
        self._publish(video)

    @precondition(lambda self: bool(self.model.channel_of))
    @rule(data=st.data())
    def progress(self, data: st.DataObject) -> None:
        video = data.draw(st.sampled_from(sorted(self.model.channel_of)))
        self._publish(video)

    @precondition(lambda self: bool(self.model.channel_of))
    @rule(data=st.data(), channel=CHANNEL)
    def move(self, data: st.DataObject, channel: int) -> None:
        """The video's later events carry ``channel``."""
        video = data.draw(st.sampled_from(sorted(self.model.channel_of)))
        self.model.channel_of[video] = self.rig.channels[channel]

    @rule(indices=st.sets(CHANNEL, min_size=1, max_size=2), data=st.data())
    def follow(self, indices: set[int], data: st.DataObject) -> None:
        """Follow channels and (now and then) a few videos, from some point of the past."""
        picked = self._ids(indices)
        known = sorted(self.model.channel_of)
        some = st.sets(st.sampled_from(known), max_size=2) if known else st.just(set[str]())
        videos = data.draw(some, label="videos")
        seqs = [self.start] + [p.seq for p in self.model.published]
        since = data.draw(st.sampled_from(seqs), label="since")
        assert self.client is not None
        client, marker_channel = self.client, self.rig.marker_channel

        async def go() -> None:
            await client.send(
                op="subscribe", channels=sorted(picked), videos=sorted(videos), since=since
            )
            reply = await client.reply("subscribed")
            assert set(reply["channels"]) == self.model.followed | picked | {marker_channel}
            assert set(reply["videos"]) == self.model.videos | videos

        self.rig.run(go())
        self.model.subscribe(picked, videos, since)

    @rule(indices=st.sets(CHANNEL), data=st.data())
    def unfollow(self, indices: set[int], data: st.DataObject) -> None:
        picked = self._ids(indices)
        known = sorted(self.model.videos)
        videos = data.draw(st.sets(st.sampled_from(known)) if known else st.just(set[str]()))
        if not picked and not videos:
            return  # that would be "everything", the marker channel included
        assert self.client is not None
        client = self.client

        async def go() -> None:
            await client.send(op="unsubscribe", channels=sorted(picked), videos=sorted(videos))
            await client.reply("subscribed")

        self.rig.run(go())
        self.model.followed -= picked
        self.model.videos -= videos

    def _publish(self, video: str) -> None:
        channel = self.model.channel_of[video]
        seq = self.rig.run(status(self.rig.pub, video, channel))
        self.model.publish(Published(seq, video, channel))

    @invariant()
    def received_what_the_model_says(self) -> None:
        client = self.client
        if client is None:
            return
        rig = self.rig

        async def sync() -> None:
            seq = await status(rig.pub, self.marker, rig.marker_channel)
            await client.until_seq(seq)

        rig.run(sync())
        for video in self.model.channel_of:
            assert client.seqs(video) == self.model.expected.get(video, []), video
        strangers = {v for _, v in client.events} - set(self.model.channel_of)
        assert strangers <= {self.marker}

    def teardown(self) -> None:
        self.rig.run(close_all())


@pytest.mark.timeout(180)
def test_channel_subscriptions_follow_a_reference_model(
    io_loop: IOLoop, edge: RunningServer, mesh: MeshConnection, accounts: Accounts, admin: Member
) -> None:
    rig = io_loop.run_sync(lambda: make_rig(io_loop, edge, mesh, accounts, admin))
    run_state_machine_as_test(
        lambda: ChannelSubscriptions(rig),
        settings=settings(
            max_examples=40,
            stateful_step_count=10,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
