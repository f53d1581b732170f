"""A burst of resumes and late joiners creates no JetStream consumer: history is read by batched
direct get. Counted on the server (stream info and the consumer-created advisories)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from nats.aio.msg import Msg

from mesh import EventPublisher
from mesh.identity.store import IdentityStore
from mesh.subjects import EVENTS_STREAM
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from services.identity.accounts import Accounts
from tests.conftest import IsolatedMesh
from tests.frontend_server.sse_client import SSEClient, serve_events
from tests.support import make_member

pytestmark = pytest.mark.timeout(60)

CLIENTS = 90  # under the default 100 open streams per client (all come from one user)


async def test_resumes_and_snapshots_create_no_consumer(
    isolated_mesh: Callable[..., Any],
) -> None:
    env: IsolatedMesh = await isolated_mesh()
    mesh = env.mesh
    admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    pub = EventPublisher(mesh)
    videos = [new_video_id() for _ in range(10)]
    seqs: dict[str, list[int]] = {v: [] for v in videos}
    for n in range(300):
        video = videos[n % len(videos)]
        event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=n % 100)
        seqs[video].append((await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq)
    created: list[str] = []

    async def advisory(msg: Msg) -> None:
        created.append(msg.subject)

    advisories = await mesh.nc.subscribe(
        f"$JS.EVENT.ADVISORY.CONSUMER.CREATED.{EVENTS_STREAM}.>", cb=advisory
    )
    async with serve_events(mesh, env.settings) as srv:
        before = (await mesh.jsm.stream_info(EVENTS_STREAM)).state.consumer_count
        await mesh.nc.flush()
        created.clear()  # the hub's own live feed

        async def join(i: int) -> list[int]:
            video = videos[i % len(videos)]
            # Half resume (replay), half join without an id (snapshot of the latest state).
            headers = {"Last-Event-ID": str(seqs[video][i % 7])} if i % 2 else {}
            client = await SSEClient.open(
                srv.port, auth=admin.auth, query=[("video_id", video)], headers=headers
            )
            frames = await client.until_seq(seqs[video][-1], timeout=30)
            await client.close()
            return [f.seq for f in frames]

        results = await asyncio.gather(*(join(i) for i in range(CLIENTS)))
        after = (await mesh.jsm.stream_info(EVENTS_STREAM)).state.consumer_count
        await mesh.nc.flush()
    await advisories.unsubscribe()
    for i, got in enumerate(results):
        video = videos[i % len(videos)]
        want = seqs[video][i % 7 + 1 :] if i % 2 else seqs[video][-1:]
        assert got == want
    assert before == after == 1  # the live feed's ordered consumer, nothing else
    assert created == []
