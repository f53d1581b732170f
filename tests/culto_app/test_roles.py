"""The separate roles (``culto frontend|api|worker``) before provisioning: they listen on their
port while they wait (``/health`` 200, ``/ready`` 503 naming the missing streams), say what they
wait for, keep waiting as long as it takes, and start once ``culto provision`` has run."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.simple_httpclient import HTTPStreamClosedError

from culto_app import roles
from culto_app.settings import Settings
from mesh.connection import MeshConnection
from mesh.provision import StreamPolicy, provision
from ops.server import ListenConfig
from tests.conftest import NatsProcess, make_settings
from tests.support import eventually

Role = Callable[[Settings, asyncio.Future[int]], Coroutine[Any, Any, int]]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _get(port: int, path: str) -> HTTPResponse:
    client = AsyncHTTPClient()
    return await client.fetch(f"http://127.0.0.1:{port}{path}", raise_error=False)


async def _status(port: int, path: str) -> int:
    """The status code, or 0 while nothing listens (also for the moment the waiting listener
    hands the port over to the role's server)."""
    try:
        return (await _get(port, path)).code
    except (OSError, HTTPStreamClosedError):
        return 0


async def _provision(url: str) -> None:
    async with MeshConnection(url, name="culto-test-provision") as mesh:
        await provision(mesh, StreamPolicy())


def _frontend(settings: Settings, stopped: asyncio.Future[int]) -> Coroutine[Any, Any, int]:
    return roles.run_frontend(settings, stopped)


def _api(settings: Settings, stopped: asyncio.Future[int]) -> Coroutine[Any, Any, int]:
    return roles.run_api(settings, stopped)


def _worker(settings: Settings, stopped: asyncio.Future[int]) -> Coroutine[Any, Any, int]:
    return roles.run_worker(settings, stopped=stopped)


@pytest.mark.parametrize(
    ("role", "started"),
    [
        (_frontend, "frontend on http"),
        (_api, "video API service ready"),
        (_worker, "1 worker(s) ready"),
    ],
    ids=["frontend", "api", "worker"],
)
@pytest.mark.timeout(60)
async def test_a_role_answers_probes_while_it_waits_for_provisioning(
    nats_factory: Callable[..., NatsProcess],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    role: Role,
    started: str,
) -> None:
    server = nats_factory()  # fresh: nothing provisioned
    port = _port()
    settings = make_settings(server.url, tmp_path, port=port)
    stopped: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(role(settings, stopped))
    try:

        async def listening() -> bool:
            return await _status(port, "/health") == 200

        await eventually(listening, timeout=20)
        ready = await _get(port, "/ready")
        assert ready.code == 503
        assert ready.headers["Retry-After"]
        body = json.loads(ready.body)
        assert body["status"] == "not_ready"
        assert body["checks"]["nats_connected"] is True
        assert body["checks"]["streams_present"] is False  # the reason
        waiting = capsys.readouterr().err
        assert re.search(r"waiting for provisioning: .*CULTO_EVENTS.*culto provision", waiting)

        await _provision(server.url)

        async def ready_now() -> bool:
            return await _status(port, "/ready") == 200

        await eventually(ready_now, timeout=20)
        assert started in capsys.readouterr().err
    finally:
        stopped.set_result(15)
        assert await asyncio.wait_for(task, 30) == 0


@pytest.mark.timeout(30)
async def test_a_stop_signal_ends_the_wait_at_once(
    nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> None:
    server = nats_factory()
    port = _port()
    stopped: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    settings = make_settings(server.url, tmp_path, port=port)
    task = asyncio.ensure_future(roles.run_api(settings, stopped))

    async def listening() -> bool:
        return await _status(port, "/health") == 200

    await eventually(listening, timeout=20)
    stopped.set_result(15)
    assert await asyncio.wait_for(task, 10) == 0
    with pytest.raises(OSError):  # the waiting listener is closed too
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.timeout(30)
async def test_the_wait_has_no_deadline_and_reminds_what_it_waits_for(
    nats_factory: Callable[..., NatsProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    # Provisioning may come much later (a cluster forming, an operator away): the role waits,
    # repeating what it waits for, instead of giving up after some minutes.
    server = nats_factory()
    stopped: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    async with MeshConnection(server.url, name="culto-test-role") as mesh:
        waiting = asyncio.ensure_future(
            roles.wait_provisioned(mesh, [ListenConfig(port=0)], stopped, poll=0.05, remind=0.2)
        )

        seen: list[str] = []

        async def reminded_three_times() -> bool:
            seen.append(capsys.readouterr().err)
            return "".join(seen).count("waiting for provisioning") >= 3

        await eventually(reminded_three_times, timeout=10)
        assert not waiting.done()
        assert re.search(r"waiting for provisioning \(\d+s so far\)", "".join(seen))
        await _provision(server.url)
        assert await asyncio.wait_for(waiting, 10) is True
    assert "provisioning found after" in capsys.readouterr().err


@pytest.mark.timeout(60)
async def test_the_frontend_waits_on_its_ops_port_too(
    nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> None:
    server = nats_factory()
    port, ops = _port(), _port()
    settings = make_settings(server.url, tmp_path, port=port, ops_port=ops)
    stopped: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(roles.run_frontend(settings, stopped))
    try:

        async def both_listening() -> bool:
            return await _status(port, "/health") == await _status(ops, "/health") == 200

        await eventually(both_listening, timeout=20)
        assert await _status(ops, "/ready") == 503
        await _provision(server.url)

        async def ready_on_the_ops_port() -> bool:
            return await _status(ops, "/ready") == 200

        await eventually(ready_on_the_ops_port, timeout=20)
    finally:
        stopped.set_result(15)
        assert await asyncio.wait_for(task, 30) == 0
