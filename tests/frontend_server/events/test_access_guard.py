"""The event hub's access rules without NATS (frontend_server/events/access.py): which streams
end, and with which reason, when a token is revoked or expires, a user is deleted, a membership
is removed or a channel turns private (docs/contracts.md §9 "Event streams"); failing closed on
what the directory does not know; re-indexing in place; and the batched re-check of the
identity changes that concern a stream (``settle``, which the identity fence calls).

The directory is an in-memory view (``FakeDirectory``) behind the real authenticator,
resolver and policy; connections, the index and the guard are the real ones, registered as
``EventHub.connect`` registers them, with ``drop`` playing the hub's ``_drop``."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from access.policy import ANONYMOUS, Principal
from culto.errors import NotFound, Unauthenticated
from frontend_server.events import access as access_module
from frontend_server.events.access import AccessGuard
from frontend_server.events.conn import NOWHERE, CloseReason, Connection, Placement, Subscription
from frontend_server.events.index import StreamIndex
from schemas import new_video_id
from schemas.identity import ChannelRole
from schemas.timestamps import utc_now
from tests.frontend_server.events.fakes import PRIVATE, PUBLIC, FakeDirectory

pytestmark = pytest.mark.timeout(5)

PUB, PRIV, OTHER = "pub", "priv", "other"


class Hub:
    """The guard with the hub's index, clients and drop around it."""

    def __init__(self) -> None:
        self.directory = FakeDirectory()
        for channel, visibility in ((PUB, PUBLIC), (PRIV, PRIVATE), (OTHER, PRIVATE)):
            self.directory.set_channel(channel, visibility)
        self.access = self.directory.access()
        self.index = StreamIndex()
        self.clients: set[Connection] = set()
        self.ended: dict[Connection, CloseReason] = {}
        self.dropped = asyncio.Event()
        self.guard = AccessGuard(self.access, self.index, self.clients, self.drop)

    def drop(self, conn: Connection, reason: CloseReason) -> None:
        self.clients.discard(conn)
        self.index.remove(conn)
        conn.close_reason = reason
        self.ended[conn] = reason
        self.dropped.set()

    def connect(
        self,
        principal: Principal,
        *,
        videos: dict[str, str] | None = None,
        channels: tuple[str, ...] = (),
    ) -> Connection:
        """Authorised and indexed as ``EventHub.connect`` does."""
        known = videos or {}
        sub = Subscription.parse(known, (), None, channels)
        channels_of: dict[str, str | None] = dict(known)
        self.access.authorize(principal, channels_of, channels)
        conn = Connection(
            sub, limit=10, abort=None, key="k", principal=principal, video_channels=channels_of
        )
        self.clients.add(conn)
        self.index.add(conn, self.access.placement(principal) if sub.wide else NOWHERE)
        return conn

    def member(self, *channels: str, role: ChannelRole = ChannelRole.VIEWER) -> Principal:
        user = self.directory.add_user()
        for channel in channels:
            self.directory.grant(channel, user, role)
        return self.directory.add_token(user)

    def reaches(self, conn: Connection, channel: str) -> bool:
        """Whether a live event of ``channel`` (of an unnamed video) reaches ``conn``."""
        return any(conn in group for group in self.index.wide_groups(channel))


def started() -> Hub:
    """A started guard (call inside a test: it needs the running loop)."""
    rig = Hub()
    rig.guard.start()
    return rig


# -- HubAccess: the questions ---------------------------------------------------------------


async def test_who_may_read_what_and_unknown_channels_fail_closed() -> None:
    hub = started()
    access = hub.access
    admin = hub.directory.add_token(hub.directory.add_user(admin=True))
    member = hub.member(PRIV)
    assert access.may_read(ANONYMOUS, PUB) and not access.may_read(ANONYMOUS, PRIV)
    assert access.may_read(member, PRIV) and not access.may_read(member, OTHER)
    # A channel the directory does not know (or none): admins only.
    for channel in ("gone", None):
        assert access.may_read(admin, channel)
        assert not access.may_read(member, channel) and not access.may_read(ANONYMOUS, channel)


async def test_naming_an_unreadable_or_unknown_video_or_channel_is_refused_alike() -> None:
    hub = started()
    """docs/contracts.md §9: 404 for a signed-in caller (existence not revealed), 401 for an
    anonymous one; an unknown channel is refused even to an admin (nothing to follow)."""
    access = hub.access
    member = hub.member(PRIV)
    admin = hub.directory.add_token(hub.directory.add_user(admin=True))
    video = new_video_id()
    access.authorize(member, {video: PRIV}, [PRIV, PUB])  # readable: no error
    messages = []
    for channel in (OTHER, "unknown"):
        with pytest.raises(NotFound) as refused:
            access.authorize(member, {}, [channel])
        messages.append(refused.value.message.replace(channel, "C"))
    assert messages[0] == messages[1]  # word for word
    with pytest.raises(NotFound):
        access.authorize(member, {video: OTHER})
    with pytest.raises(NotFound):
        access.authorize(member, {video: None})  # no such video
    with pytest.raises(Unauthenticated):
        access.authorize(ANONYMOUS, {video: PRIV})
    access.authorize(admin, {video: None})  # an admin may name a video without a record
    with pytest.raises(NotFound):
        access.authorize(admin, {}, ["unknown"])


async def test_placement_puts_each_unfiltered_stream_in_disjoint_groups() -> None:
    hub = started()
    access = hub.access
    admin = hub.directory.add_token(hub.directory.add_user(admin=True))
    member = hub.member(PRIV)
    bound = hub.directory.add_token(hub.directory.add_user(), channel=PUB)
    assert access.placement(admin) == Placement(admin=True)
    assert access.placement(member) == Placement(public=True, channels=frozenset({PRIV}))
    assert access.placement(ANONYMOUS) == Placement(public=True)
    # A token bound to a public channel reads it, not every public channel.
    assert access.placement(bound) == Placement(channels=frozenset({PUB}))


# -- AccessGuard: streams that lose access end ----------------------------------------------


async def test_a_revoked_token_ends_its_streams_only() -> None:
    hub = started()
    """docs/contracts.md §9: revoking a token ends its open streams (WebSocket: 4003)."""
    revoked, kept = hub.member(PRIV), hub.member(PRIV)
    mine = [hub.connect(revoked), hub.connect(revoked, videos={new_video_id(): PRIV})]
    theirs = hub.connect(kept, channels=(PRIV,))
    hub.directory.revoke_token(revoked)
    hub.guard.settle()
    assert hub.ended == dict.fromkeys(mine, CloseReason.REVOKED)
    assert theirs in hub.clients and hub.guard.revoked == 2


async def test_a_deleted_user_ends_its_streams() -> None:
    hub = started()
    principal = hub.member(PRIV)
    conn = hub.connect(principal, channels=(PUB,))
    assert principal.user_id is not None
    hub.directory.delete_user(principal.user_id)
    hub.guard.settle()
    assert hub.ended == {conn: CloseReason.REVOKED}


async def test_an_expired_token_ends_with_expired_not_revoked() -> None:
    """An expired credential is told apart (WebSocket 4001: authenticate again) from a
    revoked one (4003)."""
    hub = started()
    user = hub.directory.add_user()
    # The stream's token expired a moment ago (its open stream has not been re-checked since).
    principal = hub.directory.add_token(user, expires_at=utc_now() - timedelta(seconds=1))
    conn = hub.connect(principal, channels=(PUB,))
    hub.directory.grant(PRIV, user)  # any change of the user re-checks its streams
    hub.guard.settle()
    assert hub.ended == {conn: CloseReason.EXPIRED}


async def test_the_clock_ends_streams_whose_credential_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = started()
    hub.guard.stop()
    monkeypatch.setattr(access_module, "EXPIRY_INTERVAL", 0.001)
    user = hub.directory.add_user()
    soon = hub.directory.add_token(user, expires_at=utc_now() + timedelta(hours=1))
    later = hub.directory.add_token(user, expires_at=utc_now() + timedelta(hours=2))
    expiring, lasting = hub.connect(soon, channels=(PUB,)), hub.connect(later, channels=(PUB,))
    # The principal a stream carries says when it expires; no identity change announces it.
    expiring.principal = dataclasses.replace(soon, expires_at=utc_now())
    hub.guard.start()
    async with asyncio.timeout(2):
        await hub.dropped.wait()
    assert hub.ended == {expiring: CloseReason.EXPIRED} and lasting in hub.clients
    hub.guard.stop()


async def test_a_removed_membership_ends_the_streams_that_read_the_channel() -> None:
    hub = started()
    principal, other = hub.member(PRIV), hub.member(PRIV)
    assert principal.user_id is not None
    wide = hub.connect(principal)
    follows = hub.connect(principal, channels=(PRIV,))
    names = hub.connect(principal, videos={new_video_id(): PRIV})
    public = hub.connect(principal, channels=(PUB,))
    theirs = hub.connect(other)
    hub.directory.remove_member(PRIV, principal.user_id)
    hub.guard.settle()
    assert hub.ended == dict.fromkeys([wide, follows, names], CloseReason.REVOKED)
    assert public in hub.clients and theirs in hub.clients
    assert hub.reaches(theirs, PRIV) and not hub.reaches(wide, PRIV)


async def test_a_channel_turned_private_ends_what_streamed_it() -> None:
    hub = started()
    """docs/contracts.md §9: a channel turned private ends the streams that followed it as
    public; an anonymous unfiltered stream is never ended, it stops receiving the channel."""
    outsider, member = hub.member(), hub.member(PUB)
    bound = hub.directory.add_token(hub.directory.add_user(), channel=PUB)
    outsider_wide = hub.connect(outsider)
    outsider_follows = hub.connect(outsider, channels=(PUB,))
    anonymous_names = hub.connect(ANONYMOUS, videos={new_video_id(): PUB})
    bound_wide = hub.connect(bound)
    anonymous_wide = hub.connect(ANONYMOUS)
    member_wide = hub.connect(member)
    assert hub.reaches(anonymous_wide, PUB) and hub.reaches(member_wide, PUB)
    hub.directory.set_channel(PUB, PRIVATE)
    hub.guard.settle()
    lost = [outsider_wide, outsider_follows, anonymous_names, bound_wide]
    assert hub.ended == dict.fromkeys(lost, CloseReason.REVOKED)
    assert anonymous_wide in hub.clients and not hub.reaches(anonymous_wide, PUB)
    # A member still reads it: re-indexed in place, from the public group to the channel's.
    assert member_wide in hub.clients and hub.reaches(member_wide, PUB)
    assert member_wide.placement == Placement(public=True, channels=frozenset({PUB}))


async def test_a_deleted_channel_fails_closed() -> None:
    hub = started()
    member = hub.member(PRIV)
    admin = hub.directory.add_token(hub.directory.add_user(admin=True))
    video = new_video_id()
    names = hub.connect(member, videos={video: PRIV})
    admin_names = hub.connect(admin, videos={video: PRIV})
    hub.directory.delete_channel(PRIV)
    hub.guard.settle()
    assert hub.ended == {names: CloseReason.REVOKED} and admin_names in hub.clients


async def test_a_gained_channel_is_reached_in_place() -> None:
    hub = started()
    principal = hub.member()
    assert principal.user_id is not None
    wide = hub.connect(principal)
    assert not hub.reaches(wide, PRIV)
    hub.directory.grant(PRIV, principal.user_id)
    hub.guard.settle()
    assert wide in hub.clients and hub.reaches(wide, PRIV) and not hub.ended
    assert wide.principal.roles == {PRIV: ChannelRole.VIEWER}  # the refreshed principal


# -- the batched re-check -------------------------------------------------------------------


async def test_only_streams_a_change_concerns_are_rechecked() -> None:
    hub = started()
    principal, other = hub.member(PRIV), hub.member(PRIV)
    assert principal.user_id is not None
    conn = hub.connect(principal, channels=(PRIV,))
    hub.guard.settle()  # the setup's own changes
    hub.directory.remove_member(PRIV, principal.user_id, notify=False)  # not announced yet
    hub.directory.revoke_token(other)  # another principal's change
    hub.guard.settle()
    assert conn in hub.clients  # not concerned by what was announced
    hub.directory.announce_member(PRIV, principal.user_id)
    hub.guard.settle()
    assert hub.ended == {conn: CloseReason.REVOKED}


async def test_changes_wait_for_one_recheck_which_settle_runs_at_once() -> None:
    hub = started()
    principal = hub.member(PRIV)
    conn = hub.connect(principal)
    hub.directory.revoke_token(principal)
    assert conn in hub.clients  # batched: re-checked RECHECK_DELAY later, not in the callback
    hub.guard.settle()  # the fence: before held events are released
    assert hub.ended == {conn: CloseReason.REVOKED}
    hub.guard.settle()  # nothing pending: nothing happens
    assert hub.guard.revoked == 1


async def test_the_batched_recheck_runs_on_its_own() -> None:
    hub = started()
    principal = hub.member(PRIV)
    conn = hub.connect(principal)
    hub.directory.revoke_token(principal)
    async with asyncio.timeout(2):
        await hub.dropped.wait()
    assert hub.ended == {conn: CloseReason.REVOKED}


async def test_a_stopped_or_unstarted_guard_ignores_changes() -> None:
    rig = Hub()  # not started
    principal = rig.member(PRIV)
    conn = rig.connect(principal)
    rig.directory.revoke_token(principal)
    rig.guard.settle()
    assert conn in rig.clients
    rig.guard.start()
    rig.guard.stop()
    revoked = rig.member(PRIV)
    other = rig.connect(revoked)
    rig.directory.revoke_token(revoked)
    rig.guard.settle()
    assert conn in rig.clients and other in rig.clients and not rig.ended
