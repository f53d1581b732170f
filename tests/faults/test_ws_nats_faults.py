"""WebSocket sessions through NATS trouble (issue 21, defect 7): never left open and dead, never
closed with an undocumented 1000 "ping timed out" because a subscribe waited on NATS."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from frontend_server.server import serve_frontend
from mesh.connection import MeshConnection
from mesh.identity.store import IdentityStore
from mesh.provision import provision
from ops.server import RunningServer
from schemas.ids import new_video_id
from services.identity.accounts import Accounts
from tests.conftest import NatsProcess, make_settings
from tests.frontend_server.sse_client import known_token
from tests.frontend_server.ws_client import close_all, hub_of, ws_open
from tests.support import Member, eventually, make_member

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]


@asynccontextmanager
async def _edge(server: NatsProcess, tmp_path: Path) -> AsyncIterator[tuple[RunningServer, Member]]:
    """A frontend on its own nats-server, pinging WebSockets every 0.3 s."""
    settings = make_settings(server.url, tmp_path, sse_heartbeat_interval=0.3, port=0)
    async with MeshConnection(server.url, name="culto-test-ws-faults") as mesh:
        await provision(mesh, settings.stream_policy())
        accounts = Accounts(IdentityStore(mesh))
        await accounts.ensure_default_channel()
        admin = await make_member(accounts, admin=True)
        async with serve_frontend(settings.edge_config(), mesh) as edge:
            await known_token(edge.app, admin)
            try:
                yield edge, admin
            finally:
                await close_all()


async def test_a_subscribe_waiting_on_a_stalled_nats_keeps_the_socket_alive(
    nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> None:
    # Frames (pongs too) were not read while a message was handled: a subscribe waiting on
    # NATS longer than the ping interval got the socket closed with 1000 "ping timed out".
    server = nats_factory()
    async with _edge(server, tmp_path) as (edge, admin):
        client = await ws_open(edge.port, auth=admin.auth)
        os.kill(server.proc.pid, signal.SIGSTOP)  # NATS stalls (a long GC, a saturated node)
        try:
            # Resuming from a cursor reads it from KV: this subscribe waits on NATS.
            await client.send(op="subscribe", videos=[new_video_id()], cursor="inbox")
            await asyncio.sleep(2.0)  # six ping intervals
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        reply = await client.next(timeout=15)
        assert reply is not None, (client.conn.close_code, client.conn.close_reason)
        assert reply["op"] == "subscribed"


async def test_a_subscribe_while_nats_is_down_closes_with_1013_not_an_open_dead_socket(
    nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> None:
    # After a failover a client that re-subscribed got {"op":"error","code":"mesh_unavailable"}
    # and then an open socket that never carried anything.
    server = nats_factory()
    async with _edge(server, tmp_path) as (edge, admin):
        live = await ws_open(edge.port, auth=admin.auth)
        await live.send(op="subscribe", videos=[new_video_id()])
        await live.reply("subscribed")
        fresh = await ws_open(edge.port, auth=admin.auth)
        server.kill()
        assert await live.until_closed() == 1013  # its stream ended: reconnect and resume
        await eventually(lambda: not _connected(edge), what="the edge noticing NATS is gone")
        await fresh.send(op="subscribe", videos=[new_video_id()])
        assert await fresh.until_closed() == 1013, fresh.control
        assert fresh.conn.close_reason and "retry" in fresh.conn.close_reason


def _connected(edge: RunningServer) -> bool:
    return hub_of(edge).healthy
