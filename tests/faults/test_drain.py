"""Drain on SIGTERM (issue 21): a stopping ``culto frontend`` tells every client where to resume
and exits once its streams are closed. SSE clients get a random ``retry:`` (spread, so they do
not return in the same millisecond), WebSocket clients a 1001 naming their position; both resume
on the other frontend and lose nothing."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh.connection import MeshConnection
from mesh.events import EventPublisher
from mesh.identity.store import IdentityStore
from schemas.events import VideoStatusEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.ids import new_video_id
from services.identity.accounts import Accounts
from tests.conftest import NatsProcess, start_nats
from tests.frontend_server.sse_client import SSEClient
from tests.frontend_server.ws_client import close_all, ws_open
from tests.support import CultoProcess, Member, culto_env, eventually, make_member

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

SSE_CLIENTS = 40
WS_CLIENTS = 4
SPREAD_MS = 2000


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsProcess]:
    server = start_nats(tmp_path / "js")
    yield server
    server.stop()


def test_sigterm_drains_sse_with_spread_retries_and_websockets_with_1001_since(
    tmp_path: Path, nats: NatsProcess
) -> None:
    env = culto_env(
        tmp_path / "data",
        NATS_URL=nats.url,
        CULTO_ENV="dev",
        PORT="0",
        CULTO_DRAIN_SPREAD=f"{SPREAD_MS / 1000}s",
        CULTO_DRAIN_TIMEOUT="10s",
        CULTO_MAX_STREAMS_PER_CLIENT="1000",
        CULTO_MAX_CONNECTIONS_PER_SECOND="1000",
    )
    provisioning = CultoProcess(["provision"], env)
    assert provisioning.wait(60) == 0, provisioning.output
    frontends = [CultoProcess(["frontend"], env) for _ in range(2)]
    try:
        ports = [int(f.wait_for(r"frontend on http://\S+:(\d+)").group(1)) for f in frontends]
        asyncio.run(_scenario(nats, ports, frontends[0]))
        assert frontends[0].wait(30) == 0, frontends[0].output
        out = frontends[0].output
        assert re.search(rf"drained {SSE_CLIENTS} SSE streams and {WS_CLIENTS} WebSockets", out)
        assert "deadline" not in out and "Traceback" not in out, out
    finally:
        for frontend in frontends:
            frontend.stop()


async def _scenario(nats: NatsProcess, ports: list[int], victim: CultoProcess) -> None:
    async with MeshConnection(nats.url, name="culto-test-drain") as mesh:
        admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
        for port in ports:
            await _accepted(port, admin)
        video = new_video_id()
        publisher = EventPublisher(mesh)
        seqs = [await _publish(publisher, video, n) for n in range(5)]
        query = [("video_id", video)]
        streams = [
            await SSEClient.open(
                ports[0], query=query, auth=admin.auth, headers={"Last-Event-ID": "0"}
            )
            for _ in range(SSE_CLIENTS)
        ]
        sockets = [await ws_open(ports[0], auth=admin.auth) for _ in range(WS_CLIENTS)]
        try:
            for ws in sockets:
                await ws.send(op="subscribe", videos=[video], since=0)
                await ws.until_seq(seqs[-1])
            for stream in streams:
                assert [f.seq for f in await stream.until_seq(seqs[-1])] == seqs
            victim.proc.send_signal(signal.SIGTERM)
            retries = []
            for stream in streams:
                assert await stream.until_end(timeout=20) == []
                assert stream.clean_end
                assert stream.retry is not None and 250 <= stream.retry <= SPREAD_MS
                retries.append(stream.retry)
            assert len(set(retries)) > SSE_CLIENTS // 4, retries  # spread, not one instant
            positions = []
            for ws in sockets:
                assert await ws.until_closed() == 1001
                match = re.fullmatch(r"going away; since=(\d+)", ws.conn.close_reason or "")
                assert match, ws.conn.close_reason
                positions.append(int(match.group(1)))
            assert positions == [seqs[-1]] * WS_CLIENTS
            # Both resume on the other frontend from what they were told: nothing lost.
            more = [await _publish(publisher, video, n) for n in range(5, 8)]
            for stream in streams[:5]:
                again = await SSEClient.open(
                    ports[1],
                    query=query,
                    auth=admin.auth,
                    headers={"Last-Event-ID": stream.last_id or ""},
                )
                assert [f.seq for f in await again.until_seq(more[-1])] == more
                await again.close()
            ws = await ws_open(ports[1], auth=admin.auth)
            await ws.send(op="subscribe", videos=[video], since=positions[0])
            await ws.until_seq(more[-1])
            assert ws.seqs(video) == more
        finally:
            for stream in streams:
                await stream.close()
            await close_all()


async def _publish(publisher: EventPublisher, video: str, n: int) -> int:
    event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=n, message=f"{n}")
    return (await publisher.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq


async def _accepted(port: int, member: Member) -> None:
    async def accepts() -> bool:
        probe = await SSEClient.open(port, auth=member.auth, headers={"Connection": "close"})
        await probe.close()
        return probe.status != 401

    await eventually(accepts, 30, interval=0.1, what="the frontend accepting the admin token")
