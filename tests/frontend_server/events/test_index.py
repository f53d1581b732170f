"""The hub's index with channel followers: who a live event goes to, once each."""

from __future__ import annotations

import pytest

from access.policy import Principal
from culto.errors import InvalidInput
from culto_app.settings import Settings
from frontend_server.events.conn import (
    MAX_CHANNELS_PER_CLIENT,
    Connection,
    Placement,
    Subscription,
)
from frontend_server.events.hub import EventHub
from frontend_server.events.index import StreamIndex
from frontend_server.security.auth import Authenticator
from mesh import EventPublisher, MeshConnection
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from tests.frontend_server.events.test_hub import ADMIN
from tests.support import eventually


def _conn(sub: Subscription, principal: Principal = ADMIN) -> Connection:
    return Connection(sub, limit=10, abort=None, key="k", principal=principal, video_channels={})


def test_channel_filters_are_validated_and_matched() -> None:
    video = new_video_id()
    sub = Subscription.parse([video], ["video.status"], None, ["grace", "grace", "hope"])
    assert sub.channels == frozenset({"grace", "hope"}) and not sub.wide
    # The channel is not in the subject: history reads every video's events and filters.
    assert sub.filters == ("culto.events.*.video.status",)
    assert sub.matches(video, "elsewhere") and sub.matches(new_video_id(), "hope")
    assert not sub.matches(new_video_id(), "elsewhere")
    assert Subscription.parse().wide and Subscription.parse().matches(video, "any")
    for bad in (["a.b"], [""], ["*"], ["x" * 65], [f"c{n}" for n in range(51)]):
        with pytest.raises(InvalidInput):
            Subscription.parse((), (), None, bad)
    assert MAX_CHANNELS_PER_CLIENT == 50


def test_followers_are_indexed_by_channel_and_never_placed_wide() -> None:
    index = StreamIndex()
    index.public_channels = frozenset({"grace"})
    follower = _conn(Subscription.parse((), (), None, ["grace"]))
    wide = _conn(Subscription.parse())
    index.add(follower, Placement(admin=True))  # ignored: a follower is not wide
    index.add(wide, Placement(public=True))
    groups = index.wide_groups("grace")
    assert [set(g) for g in groups] == [{follower}, {wide}]  # disjoint
    assert [set(g) for g in index.wide_groups("hope")] == []
    index.move(follower, Placement(admin=True))  # a follower is re-checked, not moved
    assert follower not in index.admins
    index.remove(follower)
    index.remove(follower)  # idempotent
    assert "grace" not in index.followers


async def test_a_video_named_in_a_followed_channel_is_queued_once(
    mesh: MeshConnection, settings: Settings, authenticator: Authenticator
) -> None:
    pub = EventPublisher(mesh)
    named, other = new_video_id(), new_video_id()
    async with EventHub(mesh, settings.edge_config().hub, authenticator=authenticator) as hub:
        await eventually(lambda: DEFAULT_CHANNEL_ID in authenticator.directory.channels)
        both = hub.connect(
            Subscription.parse([named], (), None, [DEFAULT_CHANNEL_ID]), principal=ADMIN
        )
        only_video = hub.connect(Subscription.parse([named]), principal=ADMIN)
        seqs = []
        for video in (named, other):
            event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=3)
            seqs.append((await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq)
        await eventually(lambda: hub.head >= seqs[-1])
        # Named and followed: one entry, from the followers' group; the other video of the
        # channel too. Named only: its video.
        assert [entry[0] for entry in both.queue] == seqs
        assert [entry[0] for entry in only_video.queue] == seqs[:1]
        hub.disconnect(both)
        hub.disconnect(only_video)
