"""Catch-up that converges: live events published at a high rate during a long replay no longer
drop a client that reads as fast as the server sends; one that does not read still is."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from mesh import EventPublisher, EventReader
from mesh.identity.store import IdentityStore
from mesh.subjects import event_filters
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from services.identity.accounts import Accounts
from tests.conftest import IsolatedMesh
from tests.frontend_server.sse_client import SSEClient, serve_events
from tests.support import eventually, make_member

pytestmark = pytest.mark.timeout(120)

HISTORY = 3000
BODY = "x" * 2000  # ~2 KB events: a replay of a few megabytes


def _event(video: str, n: int) -> VideoStatusEventDTO:
    return VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=n % 100, message=BODY)


async def test_fast_reader_converges_to_live_slow_one_is_dropped(
    isolated_mesh: Callable[..., Any],
) -> None:
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    pub = EventPublisher(mesh)
    vid = new_video_id()
    for start in range(0, HISTORY, 100):
        await asyncio.gather(
            *(
                pub.publish(_event(vid, n), channel_id=DEFAULT_CHANNEL_ID)
                for n in range(start, start + 100)
            )
        )
    # A small buffer: far fewer frames than arrive live during one replay round.
    config = dataclasses.replace(
        env.settings.edge_config().hub, client_buffer=64, replay_batch_timeout=1.0
    )
    reader = EventReader(mesh, batch=64)
    stop = asyncio.Event()

    other = new_video_id()  # events the client does not follow: gaps in its sequence

    async def publisher() -> int:
        sent = 0
        while not stop.is_set():  # ~2,000 events/s of the client's video, in bursts of 10
            await asyncio.gather(
                *(
                    pub.publish(_event(vid if n % 3 else other, n), channel_id=DEFAULT_CHANNEL_ID)
                    for n in range(15)
                )
            )
            sent += 10
            await asyncio.sleep(0.005)
        return sent

    async with serve_events(mesh, env.settings, hub_config=config, reader=reader) as srv:
        query, resume = [("video_id", vid)], {"Last-Event-ID": "0"}
        publishing = asyncio.create_task(publisher())
        await asyncio.sleep(0.2)  # events flow before and during the replays
        stalled = await SSEClient.open(
            srv.port, auth=admin.auth, query=query, headers=resume, rcvbuf=4096
        )
        stalled.writer.transport.pause_reading()  # never reads again
        fast = await SSEClient.open(srv.port, auth=admin.auth, query=query, headers=resume)
        received: list[int] = []
        while srv.hub.stats().catch_up_rounds == 0 or len(received) < HISTORY:
            frames = await fast.collect(200, timeout=10)
            assert frames and not fast.ended, "the fast reader was dropped while catching up"
            received += [f.seq for f in frames]
        await asyncio.sleep(0.5)  # live for a while at full rate
        stop.set()
        live_published = await publishing
        marker = (await pub.publish(_event(vid, 0), channel_id=DEFAULT_CHANNEL_ID)).seq
        received += [f.seq for f in await fast.until_seq(marker, timeout=30)]
        stored = [e.seq async for b in EventReader(mesh).replay(event_filters([vid]), 0) for e in b]
        assert received == stored  # nothing lost, nothing twice, ascending
        try:
            stats = srv.hub.stats()
            assert stats.catch_up_rounds >= 1, "the live queue never overflowed: test too gentle"
            assert live_published > 500
            # Only the reader that reads nothing is dropped (by the replay batch timeout, which
            # may run out after the fast reader is done on a quick machine).
            await eventually(
                lambda: srv.hub.stats().slow_client_drops == 1, what="the stalled reader dropped"
            )
            stats = srv.hub.stats()
            assert (stats.slow_client_drops, stats.connected_clients) == (1, 1)
            print(f"catch-up: {stats.catch_up_rounds} rounds, {live_published} live events")
        finally:
            for client in (stalled, fast):
                await client.close()
