"""The identity fence (issue 21, defect 2): events stored after a revocation never reach the
revoked principal, even while the replica's directory has not learnt of the revocation (a
partition, a lost watch: here the watch is stopped by hand), and flow again once it has."""

from __future__ import annotations

import asyncio

import pytest

from access.credentials import split_token
from culto_app.settings import Settings
from frontend_server.events.fence import CLOCK_MARGIN, PROBE_INTERVAL
from mesh import EventPublisher, MeshConnection
from mesh.fence import FenceMark
from mesh.subjects import EVENTS_STREAM, FENCE_SUBJECT
from schemas import new_video_id
from services.identity.accounts import Accounts
from tests.frontend_server.sse_client import SSEClient, serve_events
from tests.support import eventually, make_member, publish_status

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "wait", [CLOCK_MARGIN + 2 * PROBE_INTERVAL, 0.0], ids=["past the clock margin", "at once"]
)
async def test_nothing_stored_after_a_revocation_reaches_the_revoked_principal(
    mesh: MeshConnection, settings: Settings, accounts: Accounts, wait: float
) -> None:
    # Past the margin the clock rule holds the events; at once (inside the margin, which the
    # clock rule alone let through) the revocation's mark in the stream does.
    revoked, other = (
        await make_member(accounts, admin=True),
        await make_member(accounts, admin=True),
    )
    token_id = (split_token(revoked.token) or ("",))[0]
    pub = EventPublisher(mesh)
    video = new_video_id()
    async with serve_events(mesh, settings) as srv:
        await eventually(lambda: token_id in srv.directory.tokens, what="the token known")
        query = [("video_id", video)]
        streams = {
            who.email: await SSEClient.open(srv.port, auth=who.auth, query=query)
            for who in (revoked, other)
        }
        before = await publish_status(pub, video, 1)
        for stream in streams.values():
            assert [f.seq for f in await stream.until_seq(before)] == [before]

        # The replica's identity watch stalls (its node is cut off); the token is revoked (its
        # mark stored before revoke_token returns) and events keep being stored.
        await srv.directory._identity._stop_watch()
        await accounts.revoke_token(token_id)
        await asyncio.sleep(wait)
        after = [await publish_status(pub, video, n) for n in (2, 3, 4)]
        await asyncio.sleep(2 * PROBE_INTERVAL)
        assert token_id in srv.directory.tokens  # the directory still believes in the token
        stats = srv.hub.stats()
        assert (stats.fence_marks_waited, stats.held_events) == (1, len(after))
        for stream in streams.values():
            with pytest.raises(TimeoutError):
                await stream.next(timeout=0.2)

        # The watch comes back: the revocation is applied first, then the events flow.
        srv.directory._identity._restart()
        got = [f.seq for f in await streams[other.email].until_seq(after[-1], timeout=15)]
        assert got == after
        assert await streams[revoked.email].until_end(timeout=10) == []  # ended, nothing new
        assert token_id not in srv.directory.tokens
        for stream in streams.values():
            await stream.close()


async def test_a_mark_the_buckets_never_reached_holds_events_only_briefly(
    mesh: MeshConnection, settings: Settings, accounts: Accounts
) -> None:
    # A forged mark (or one from buckets since restored) cannot stop the feed: once the
    # directory is known current without reaching it, it is dropped.
    reader = await make_member(accounts, admin=True)
    pub = EventPublisher(mesh)
    video = new_video_id()
    async with serve_events(mesh, settings) as srv:
        stream = await SSEClient.open(srv.port, auth=reader.auth, query=[("video_id", video)])
        forged = FenceMark(identity=10**9, sessions=10**9).model_dump_json().encode()
        await mesh.js.publish(FENCE_SUBJECT, forged, stream=EVENTS_STREAM)
        seqs = [await publish_status(pub, video, n) for n in (1, 2)]
        assert [f.seq for f in await stream.until_seq(seqs[-1], timeout=10)] == seqs
        stats = srv.hub.stats()
        assert (stats.fence_marks_waited, stats.held_events) == (1, 0)
        await stream.close()
