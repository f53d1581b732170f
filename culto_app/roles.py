"""The long-running roles (``up``, ``frontend``, ``api``, ``worker``) and the one-shot commands
that talk to the mesh (``provision``, ``tail``): the composition root, the only place where
components are built and wired.

Each role enters its resources into one :class:`~contextlib.AsyncExitStack`, so a signal unwinds
them in reverse order: HTTP stops accepting, SSE streams end, workers hand back their jobs, NATS
drains. Each component gets its own small config, built here from :class:`Settings`.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TextIO

from culto.errors import ConfigError, MeshUnavailable
from culto_app.settings import Settings
from frontend_server.server import serve_frontend
from mesh.connection import MeshConnection
from mesh.embedded import EmbeddedNatsServer
from mesh.provision import provision, streams_present
from ops.server import serve_ops
from services.api.service import VideoApiService
from services.worker import Worker


def say(message: str, stream: TextIO | None = None) -> None:
    """Progress output for people (stderr, so stdout stays machine-readable)."""
    print(f"culto: {message}", file=stream or sys.stderr, flush=True)


@asynccontextmanager
async def stop_signals() -> AsyncIterator[asyncio.Future[int]]:
    """A future resolved by the first SIGINT or SIGTERM received inside the block.

    Installed before start-up work, so a signal that arrives early still stops cleanly.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[int] = loop.create_future()

    def resolve(number: int) -> None:
        if not received.done():
            received.set_result(number)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, resolve, int(sig))
    try:
        yield received
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@asynccontextmanager
async def connected(settings: Settings, name: str) -> AsyncIterator[MeshConnection]:
    """A connection to ``NATS_URL`` (required by every role except ``up``)."""
    if not settings.nats_url:
        raise ConfigError("NATS_URL: required for this command (e.g. nats://127.0.0.1:4222)")
    async with MeshConnection(settings.nats_url, name=name) as mesh:
        yield mesh


async def wait_provisioned(mesh: MeshConnection, *, timeout: float = 60.0) -> None:
    """Roles do not provision (a Job does); they wait for the streams to appear."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    warned = False
    while not await streams_present(mesh):
        if loop.time() > deadline:
            raise MeshUnavailable("JetStream streams are missing: run 'culto provision' first")
        if not warned:
            say("waiting for JetStream streams (run 'culto provision')...")
            warned = True
        await asyncio.sleep(1.0)


async def run_up(settings: Settings, *, workers: int) -> int:
    """Everything in one process tree: embedded NATS (unless NATS_URL), API, workers, frontend."""
    settings = settings.with_dev_cookie_secret()
    edge = settings.edge_config()
    async with stop_signals() as stopped, AsyncExitStack() as stack:
        url = settings.nats_url
        if url is None:
            port = settings.embedded_nats_port
            if port and not _port_free(port):
                say(f"port {port} is busy; the embedded nats-server takes a free port instead")
                port = 0
            store = settings.data_dir / "jetstream"
            say(f"starting embedded nats-server (JetStream data in {store})...")
            server = await stack.enter_async_context(EmbeddedNatsServer(store_dir=store, port=port))
            url = server.url
            settings = settings.model_copy(update={"nats_url": url})
            # 'culto tail' (and other tools) find this server here while it runs.
            announced = settings.data_dir / "nats.url"
            announced.write_text(url + "\n", encoding="utf-8")
            stack.callback(announced.unlink, missing_ok=True)
        say(f"NATS at {url}  (export NATS_URL={url} to use 'culto tail')")
        mesh = await stack.enter_async_context(MeshConnection(url, name="culto-up"))
        steps = await provision(mesh, settings.stream_policy())
        say("provisioned " + ", ".join(f"{s.name} ({s.action})" for s in steps))
        await stack.enter_async_context(VideoApiService(mesh, settings.api_config()))
        say("video API service ready")
        config = settings.worker_config()
        for index in range(workers):
            await stack.enter_async_context(Worker(mesh, config, name=f"worker-{index + 1}"))
        say(f"{workers} worker(s) ready")
        frontend = await stack.enter_async_context(serve_frontend(edge, mesh))
        say(f"frontend on http://localhost:{frontend.port}  (Ctrl-C to stop)")
        sig = await stopped
        say(f"received {signal.Signals(sig).name}; shutting down...")
    say("stopped")
    return 0


async def run_frontend(settings: Settings) -> int:
    """The HTTP edge role."""
    edge = settings.edge_config()  # fail before connecting, naming the variable
    async with stop_signals() as stopped, connected(settings, "culto-frontend") as mesh:
        await wait_provisioned(mesh)
        async with serve_frontend(edge, mesh) as frontend:
            say(f"frontend on http://{settings.host}:{frontend.port}")
            await stopped
            say("draining...")
    return 0


async def run_api(settings: Settings) -> int:
    """The video API service role (ops endpoints on PORT)."""
    async with stop_signals() as stopped, connected(settings, "culto-api") as mesh:
        await wait_provisioned(mesh)
        async with (
            VideoApiService(mesh, settings.api_config()) as service,
            serve_ops(
                settings.listen_config(),
                mesh,
                {"api": lambda: {"requests": service.requests, "errors": service.errors}},
            ) as ops,
        ):
            say(f"video API service ready (ops on port {ops.port})")
            await stopped
            say("draining...")
    return 0


async def run_worker(settings: Settings, *, workers: int = 1) -> int:
    """The worker role (ops endpoints on PORT)."""
    config = settings.worker_config()
    async with stop_signals() as stopped, connected(settings, "culto-worker") as mesh:
        await wait_provisioned(mesh)
        async with AsyncExitStack() as stack:
            pool = [
                await stack.enter_async_context(Worker(mesh, config, name=f"worker-{i + 1}"))
                for i in range(workers)
            ]

            def stats() -> dict[str, int]:
                return {
                    "jobs_done": sum(w.jobs_done for w in pool),
                    "jobs_failed": sum(w.jobs_failed for w in pool),
                    "jobs_retried": sum(w.jobs_retried for w in pool),
                    "busy": sum(w.busy for w in pool),
                }

            ops = await stack.enter_async_context(
                serve_ops(settings.listen_config(), mesh, {"worker": stats})
            )
            say(f"{workers} worker(s) ready (ops on port {ops.port})")
            await stopped
            say("finishing the current job...")
    return 0


async def run_provision(settings: Settings) -> int:
    """Create or update every JetStream resource, printing what changed."""
    async with connected(settings, "culto-provision") as mesh:
        for step in await provision(mesh, settings.stream_policy()):
            print(step, flush=True)
    return 0
