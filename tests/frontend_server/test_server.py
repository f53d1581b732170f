"""``serve_frontend``: start, stop, SIGTERM with open SSE streams; ``serve_ops`` lifecycle."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import pytest
from pydantic import SecretStr

from culto.errors import ConfigError
from culto_app.roles import stop_signals
from culto_app.settings import Settings
from frontend_server.server import serve_frontend
from mesh import EventPublisher, MeshConnection
from ops.server import serve_ops
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from services.api.service import VideoApiService
from tests.frontend_server.sse_client import SSEClient
from tests.support import Http, Member, body_json


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_start_and_stop(
    mesh: MeshConnection, edge_settings: Settings, api_service: VideoApiService
) -> None:
    async with serve_frontend(edge_settings.edge_config(), mesh) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        client = Http(server.url)
        try:
            assert (await client.request("GET", "/health")).code == 200
            assert (await client.request("GET", "/api/v2/videos/")).code == 200
            assert (await client.request("GET", "/api/v2/events/health")).code == 200
        finally:
            client.close()
        port = server.port
    assert _refused(port)


async def test_two_servers_in_one_process_are_independent(
    mesh: MeshConnection, edge_settings: Settings
) -> None:
    async with (
        serve_frontend(edge_settings.edge_config(), mesh) as one,
        serve_frontend(edge_settings.edge_config(), mesh) as two,
    ):
        assert one.port != two.port
        assert one.app.settings["metrics_registry"] is not two.app.settings["metrics_registry"]


async def _open_stream(port: int, video: str, mesh: MeshConnection, admin: Member) -> SSEClient:
    # An admin may stream a video that has no record (only events are published here).
    client = await SSEClient.open(port, auth=admin.auth, query=[("video_id", video)])
    assert client.status == 200
    seq = (
        await EventPublisher(mesh).publish(
            VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=1),
            channel_id=DEFAULT_CHANNEL_ID,
        )
    ).seq
    await client.until_seq(seq)  # the stream is live
    return client


async def test_sigterm_ends_open_streams(
    mesh: MeshConnection, edge_settings: Settings, admin: Member
) -> None:
    streams: list[SSEClient] = []
    try:
        # As the roles do: the signal future is installed first, the server inside it.
        async with (
            stop_signals() as stopped,
            serve_frontend(edge_settings.edge_config(), mesh) as server,
        ):
            for _ in range(3):
                streams.append(await _open_stream(server.port, new_video_id(), mesh, admin))
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(stopped, 5) == signal.SIGTERM
            port = server.port
        # Leaving the block shut the server down: every open stream has ended.
        for client in streams:
            assert await client.until_end(timeout=5) == []
            assert client.ended
    finally:
        for client in streams:
            await client.close()
    assert _refused(port)
    # The handler was removed again: SIGTERM's default would end the test process.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


async def test_close_ends_streams(
    mesh: MeshConnection, edge_settings: Settings, admin: Member
) -> None:
    video = new_video_id()
    async with serve_frontend(edge_settings.edge_config(), mesh) as server:
        client = await _open_stream(server.port, video, mesh, admin)
        try:
            await asyncio.wait_for(server.close(), 5)  # explicit close; the exit is a no-op
            assert await client.until_end(timeout=5) == []
            assert client.clean_end  # ended by the server on purpose (terminating chunk)
        finally:
            await client.close()
        assert _refused(server.port)  # no longer accepting


async def test_prod_without_cookie_secret_fails(
    mesh: MeshConnection, edge_settings: Settings
) -> None:
    prod = edge_settings.model_copy(update={"environment": "prod", "cookie_secret": None})
    with pytest.raises(ConfigError, match="COOKIE_SECRET"):
        async with serve_frontend(prod.edge_config(), mesh):
            pass


async def test_dev_generates_cookie_secret(mesh: MeshConnection, edge_settings: Settings) -> None:
    dev = edge_settings.model_copy(update={"environment": "dev", "cookie_secret": None})
    async with serve_frontend(dev.edge_config(), mesh) as server:
        client = Http(server.url)
        try:
            assert body_json(await client.request("GET", "/api/v2/csrf"))["csrf_token"]
        finally:
            client.close()
    assert (dev.data_dir / "cookie_secret").exists()


async def test_secret_never_in_app_repr_or_logs(
    mesh: MeshConnection, edge_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "a-very-secret-cookie-value-123"
    settings = edge_settings.model_copy(update={"cookie_secret": SecretStr(secret)})
    with caplog.at_level("DEBUG"):
        async with serve_frontend(settings.edge_config(), mesh) as server:
            client = Http(server.url)
            try:
                await client.request("GET", "/health")
            finally:
                client.close()
    assert secret not in caplog.text
    assert secret not in repr(settings)


async def test_serve_ops_lifecycle(mesh: MeshConnection, edge_settings: Settings) -> None:
    async with serve_ops(edge_settings.listen_config(), mesh, lambda: {"queue_depth": 3}) as ops:
        client = Http(ops.url)
        try:
            text = (await client.request("GET", "/metrics")).body.decode()
        finally:
            client.close()
        port = ops.port
    assert "culto_queue_depth 3.0" in text
    assert _refused(port)
