"""The long-running roles (``up``, ``frontend``, ``api``, ``worker``) and the one-shot commands
that talk to the mesh (``provision``, ``tail``): the composition root, the only place where
components are built and wired.

Each role enters its resources into one :class:`~contextlib.AsyncExitStack`, so a signal unwinds
them in reverse order: HTTP stops accepting, SSE streams end, workers hand back their jobs, NATS
drains. Each component gets its own small config, built here from :class:`Settings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TextIO

from prometheus_client.registry import Collector

from culto.errors import ConfigError, MeshUnavailable
from culto.resources import stop_task
from culto_app.instance import (
    URL_FILE,
    NatsSupervisor,
    data_dir_lock,
    embedded_credentials,
    frontend_url_file,
    port_free,
    write_server_config,
)
from culto_app.settings import Settings
from frontend_server.server import serve_frontend
from mesh.connection import MeshConnection, NatsCredentials
from mesh.cursors import CursorStore
from mesh.directory import Directory
from mesh.embedded import EmbeddedNatsServer
from mesh.identity.store import IdentityStore
from mesh.jobs import JobQueue
from mesh.permissions import Role, inbox_prefix
from mesh.principals import MeshAuthenticator
from mesh.provision import provision, streams_present
from mesh.subjects import EVENTS_STREAM, JOBS_STREAM, VIDEOS_BUCKET
from ops.metrics import ExtraStatsCollector
from ops.server import ListenConfig, serve_ops
from services.api.service import ApiConfig, VideoApiService
from services.identity.accounts import Accounts
from services.identity.migration import migrate_channels
from services.identity.service import IdentityService
from services.worker import Worker, WorkerConfig
from services.worker.metrics import BacklogWatcher, WorkerMetrics


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


def role_connection(
    settings: Settings,
    role: Role,
    *,
    url: str | None = None,
    credentials: NatsCredentials | None = None,
    name: str | None = None,
) -> MeshConnection:
    """An (unopened) connection of ``role``: its user (``NATS_USER``/``NATS_PASSWORD`` unless
    ``credentials``), the CA of ``NATS_CA_FILE``, and the role's own reply inbox."""
    target = url or settings.nats_url
    if not target:
        raise ConfigError("NATS_URL: required for this command (e.g. nats://127.0.0.1:4222)")
    return MeshConnection(
        target,
        name=name or f"culto-{role}",
        credentials=credentials or settings.nats_credentials(),
        tls_ca=settings.nats_ca_file,
        inbox_prefix=inbox_prefix(role),
    )


@asynccontextmanager
async def connected(settings: Settings, role: Role) -> AsyncIterator[MeshConnection]:
    """A connection to ``NATS_URL`` (required by every role except ``up``) as ``role``."""
    async with role_connection(settings, role) as mesh:
        yield mesh


PROVISION_REMINDER = 60.0
"""Seconds between the lines a role prints while it waits for provisioning."""


async def wait_provisioned(
    mesh: MeshConnection,
    listens: Sequence[ListenConfig],
    stopped: asyncio.Future[int],
    *,
    poll: float = 1.0,
    remind: float = PROVISION_REMINDER,
) -> bool:
    """Wait, as long as it takes, for provisioning (a Job or one-shot runs it, not the roles).

    Meanwhile the role's ports (``listens``: PORT, and the frontend's ops port) answer, so
    probes see a live process that is not ready yet rather than a refused connection:
    ``/health`` is 200 (restarting would not help) and ``/ready`` 503 with
    ``"streams_present": false``. A line says what it waits for, again every ``remind`` seconds.
    Returns ``False`` when a stop signal came first.
    """
    if await streams_present(mesh):
        return True
    loop = asyncio.get_running_loop()
    started = loop.time()
    reminder = started
    async with AsyncExitStack() as stack:
        for listen in listens:
            await stack.enter_async_context(serve_ops(listen, mesh, started=False))
        while not stopped.done():
            if await streams_present(mesh):
                say(f"provisioning found after {loop.time() - started:.0f}s; starting")
                return True
            if loop.time() >= reminder:
                waited = f" ({loop.time() - started:.0f}s so far)" if reminder > started else ""
                say(
                    f"waiting for provisioning{waited}: the JetStream streams {EVENTS_STREAM} and"
                    f" {JOBS_STREAM} and the bucket {VIDEOS_BUCKET} must exist and have a leader"
                    f" (run 'culto provision'); /health answers 200 and /ready 503 meanwhile"
                )
                reminder += remind
            await asyncio.wait({stopped}, timeout=poll)
    return False


@asynccontextmanager
async def until_stopped(stopped: asyncio.Future[int] | None) -> AsyncIterator[asyncio.Future[int]]:
    """``stopped`` when given (several roles in one process, as ``culto selfcheck`` runs them),
    else a future resolved by SIGINT or SIGTERM."""
    if stopped is not None:
        yield stopped
        return
    async with stop_signals() as received:
        yield received


async def run_up(settings: Settings, *, workers: int) -> int:
    """Everything in one process tree: embedded NATS (unless NATS_URL), API, workers, frontend.

    One run per data directory (a lock); the embedded server is supervised: restarted on the
    same port and store if it dies, and the run ends with status 1 and one line if it cannot be.
    """
    settings = settings.with_dev_cookie_secret()
    edge = settings.edge_config()
    with data_dir_lock(settings.data_dir):
        async with stop_signals() as stopped, AsyncExitStack() as stack:
            server: EmbeddedNatsServer | None = None
            url = settings.nats_url
            users: dict[Role, NatsCredentials] = {}
            if url is None:
                users = embedded_credentials(settings.data_dir)
                server = await stack.enter_async_context(_embedded_server(settings, users))
                url = server.url
                settings = settings.model_copy(update={"nats_url": url})
            say(f"NATS at {url}")
            # One connection per role, each with its own user: least privilege means something
            # only if the API service, the workers and the frontend do not share one.
            meshes: list[MeshConnection] = []

            async def connect(role: Role) -> MeshConnection:
                conn = role_connection(
                    settings, role, credentials=users.get(role), name=f"culto-up-{role}"
                )
                meshes.append(await stack.enter_async_context(conn))
                return meshes[-1]

            supervisor = None
            if server is not None:
                supervisor = NatsSupervisor(server, on_storage=partial(_flag, meshes))
            once, hint = await _prepare(settings, users)
            await stack.enter_async_context(
                api_services(await connect("api"), settings.api_config())
            )
            say("video API and identity services ready")
            collectors = await _worker_pool(
                stack, await connect("worker"), settings.worker_config(), workers
            )
            say(f"{workers} worker(s) ready")
            alive = None
            if supervisor is not None:
                watched = supervisor
                alive = lambda: watched.healthy  # noqa: E731 - read at every /health
                restarts = ExtraStatsCollector("nats_server", supervisor.counters)
                collectors = [*collectors, restarts]
            frontend = await stack.enter_async_context(
                serve_frontend(edge, await connect("frontend"), alive=alive, collectors=collectors)
            )
            stack.enter_context(_frontend_file(settings, frontend.port))
            _announce(frontend.port, once, settings.admin_email if once or hint else None)
            failure = await _until_stopped(stopped, supervisor)
            if failure is None:
                say(f"received {signal.Signals(stopped.result()).name}; shutting down...")
            else:
                say(f"error: {failure}; shutting down")
    say("stopped")
    return 0 if failure is None else 1


def frontend_base(port: int) -> str:
    """The address people open. localhost, not 127.0.0.1: the default FRONTEND_URL is a
    localhost origin, and SameSite cookies treat the two names as different sites."""
    return f"http://localhost:{port}"


def _announce(port: int, once: str | None, admin: str | None) -> None:
    """The frontend's address and, on a first run, the admin's one-time sign-in link: the one
    place its secret is shown (never logged). ``admin``: how to get a new link is said too
    (the first run, and while the first admin has never chosen a password)."""
    base = frontend_base(port)
    say(f"frontend on {base}  (Ctrl-C to stop)")
    if once is not None:
        say(f"first run: sign in as admin at {base}/login#once={once}")
    if admin is not None:
        say(
            ("the link works once, within an hour; " if once else "")
            + f"a new one-time link: culto user link {admin}  (set a password on the page"
            f" after signing in, or: culto user passwd {admin})"
        )


@contextlib.contextmanager
def _frontend_file(settings: Settings, port: int) -> Iterator[None]:
    """Announce the frontend's address in ``CULTO_DATA_DIR`` while it runs (``culto user
    link`` builds its links on it)."""
    path = frontend_url_file(settings.data_dir)
    path.write_text(frontend_base(port) + "\n", encoding="utf-8")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


async def _prepare(
    settings: Settings, users: dict[Role, NatsCredentials]
) -> tuple[str | None, bool]:
    """``culto up``'s start-up on the mesh: provisioning, the data migration, then the first
    run's admin. Returns the admin's one-time login secret on a first run (else ``None``), and
    whether that admin still has the generated password nobody was shown."""
    async with role_connection(
        settings, "provision", credentials=users.get("provision"), name="culto-up-provision"
    ) as admin:
        steps = await provision(admin, settings.stream_policy())
        moved = await migrate_channels(admin)
    say("provisioned " + ", ".join(f"{s.name} ({s.action})" for s in steps))
    if moved:
        say(f"moved {moved} video(s) without a channel to the default channel")
    return await _bootstrap(settings, users)


async def _bootstrap(
    settings: Settings, users: dict[Role, NatsCredentials]
) -> tuple[str | None, bool]:
    """First run: the public default channel and, when no user exists, the admin
    (``CULTO_ADMIN_EMAIL``); returns its one-time login secret (``None`` if users existed) and
    whether the admin still has its generated password."""
    async with role_connection(
        settings, "admin", credentials=users.get("admin"), name="culto-up-admin"
    ) as mesh:
        accounts = Accounts(IdentityStore(mesh))
        once = await accounts.bootstrap(settings.admin_email)
        return once, await accounts.never_chose_password(settings.admin_email)


@asynccontextmanager
async def _embedded_server(
    settings: Settings, users: dict[Role, NatsCredentials]
) -> AsyncIterator[EmbeddedNatsServer]:
    port = settings.embedded_nats_port
    if port and not port_free(port):
        say(f"port {port} is busy; the embedded nats-server takes a free port instead")
        port = 0
    store = settings.data_dir / "jetstream"
    say(f"starting embedded nats-server (JetStream data in {store})...")
    config = write_server_config(settings.data_dir, users)
    async with EmbeddedNatsServer(store_dir=store, port=port, config_file=config) as server:
        # 'culto tail' (and other tools) find this server here while it runs.
        announced = settings.data_dir / URL_FILE
        announced.write_text(server.url + "\n", encoding="utf-8")
        try:
            yield server
        finally:
            announced.unlink(missing_ok=True)


def _flag(meshes: list[MeshConnection], full: bool) -> None:
    for mesh in meshes:
        mesh.storage_full = full


async def _until_stopped(
    stopped: asyncio.Future[int], supervisor: NatsSupervisor | None
) -> str | None:
    """Wait for a stop signal; with a supervisor, also for the embedded server to be lost.

    Returns ``None`` on a signal, else the one-line reason the run must end.
    """
    if supervisor is None:
        await stopped
        return None
    watch = asyncio.get_running_loop().create_task(supervisor.run())
    try:
        waiters: set[asyncio.Future[Any]] = {stopped, watch}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Stop watching before the stack closes the server: a deliberate stop is no crash.
        await stop_task(watch)
    if stopped.done():
        return None
    exc = watch.exception() if watch.done() and not watch.cancelled() else None
    return exc.message if isinstance(exc, MeshUnavailable) else "the embedded nats-server is lost"


async def run_frontend(settings: Settings, stopped: asyncio.Future[int] | None = None) -> int:
    """The HTTP edge role (until SIGINT/SIGTERM, or ``stopped``)."""
    edge = settings.edge_config()  # fail before connecting, naming the variable
    async with until_stopped(stopped) as stop, connected(settings, "frontend") as mesh:
        listens = [edge.listen] if edge.ops_listen is None else [edge.listen, edge.ops_listen]
        if not await wait_provisioned(mesh, listens, stop):
            return 0
        async with serve_frontend(edge, mesh) as frontend:
            say(f"frontend on http://{settings.host}:{frontend.port}")
            await stop
            say("draining...")
    return 0


async def run_api(settings: Settings, stopped: asyncio.Future[int] | None = None) -> int:
    """The video API service role (ops endpoints on PORT), until SIGINT/SIGTERM or ``stopped``."""
    async with until_stopped(stopped) as stop, connected(settings, "api") as mesh:
        if not await wait_provisioned(mesh, [settings.listen_config()], stop):
            return 0
        async with AsyncExitStack() as stack:
            role = await stack.enter_async_context(api_services(mesh, settings.api_config()))
            stats = {"api": role.videos.rpc.totals, "identity": role.identity.rpc.totals}
            ops = await stack.enter_async_context(serve_ops(settings.listen_config(), mesh, stats))
            say(f"video API service ready (ops on port {ops.port})")
            await stop
            say("draining...")
    return 0


@dataclass(frozen=True, slots=True)
class ApiRole:
    """The API role's running services and the directory they authorize against."""

    videos: VideoApiService
    identity: IdentityService
    directory: Directory


@asynccontextmanager
async def api_services(mesh: MeshConnection, config: ApiConfig) -> AsyncIterator[ApiRole]:
    """The API role's services, each authorizing its callers against the role's own
    directory (never the edge's word: docs/security.md "Trust boundary")."""
    async with AsyncExitStack() as stack:
        directory = await stack.enter_async_context(Directory(mesh))
        store = IdentityStore(mesh)
        authenticate = MeshAuthenticator(directory, store)
        videos = await stack.enter_async_context(
            VideoApiService(mesh, config, authenticate=authenticate)
        )
        identity = await stack.enter_async_context(
            IdentityService(
                mesh,
                authenticate=authenticate,
                accounts=Accounts(store),
                cursors=CursorStore(mesh),
            )
        )
        yield ApiRole(videos, identity, directory)


async def run_worker(
    settings: Settings, *, workers: int = 1, stopped: asyncio.Future[int] | None = None
) -> int:
    """The worker role (ops endpoints on PORT), until SIGINT/SIGTERM or ``stopped``."""
    config = settings.worker_config()
    async with until_stopped(stopped) as stop, connected(settings, "worker") as mesh:
        if not await wait_provisioned(mesh, [settings.listen_config()], stop):
            return 0
        async with AsyncExitStack() as stack:
            collectors = await _worker_pool(stack, mesh, config, workers)
            ops = await stack.enter_async_context(
                serve_ops(settings.listen_config(), mesh, collectors=collectors)
            )
            say(f"{workers} worker(s) ready (ops on port {ops.port})")
            await stop
            say("finishing the current job...")
    return 0


async def _worker_pool(
    stack: AsyncExitStack, mesh: MeshConnection, config: WorkerConfig, count: int
) -> list[Collector]:
    """Start ``count`` workers sharing one set of metrics; returns the collectors to export:
    durations and failures, the job backlog, and the pool's size and busy workers."""
    metrics = WorkerMetrics()
    pool = [
        await stack.enter_async_context(
            Worker(mesh, config, name=f"worker-{i + 1}", metrics=metrics)
        )
        for i in range(count)
    ]
    backlog = await stack.enter_async_context(BacklogWatcher(JobQueue(mesh)))

    def stats() -> dict[str, int]:
        return {
            "count": len(pool),
            "busy": sum(w.busy for w in pool),
            "jobs_done": sum(w.jobs_done for w in pool),
            "jobs_failed": sum(w.jobs_failed for w in pool),
            "jobs_retried": sum(w.jobs_retried for w in pool),
        }

    return [metrics, backlog, ExtraStatsCollector("worker", stats)]


async def run_provision(settings: Settings) -> int:
    """Create or update every JetStream resource, printing what changed."""
    async with connected(settings, "provision") as mesh:
        for step in await provision(mesh, settings.stream_policy()):
            print(step, flush=True)
        await _migrate(mesh)
    return 0


async def _migrate(mesh: MeshConnection) -> None:
    """The data migration after provisioning (idempotent), printed like a step."""
    moved = await migrate_channels(mesh)
    print(f"migration channels: {moved} video(s) moved to the default channel", flush=True)
