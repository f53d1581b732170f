"""Running the frontend: the SSE hub and the application, listening until the block exits.

::

    async with serve_frontend(config, mesh) as server:
        ...  # the role waits for SIGTERM/SIGINT

Shutdown order: stop accepting, drain (:mod:`frontend_server.events.drain`: the WebSockets are
closed with 1001 and their ``since``, the SSE streams end with a random ``retry:``; the process
waits for them up to ``drain_timeout``), close what is left, then flush the last cursor acks.
NATS is drained by the owner of ``mesh``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from functools import partial

from prometheus_client.registry import Collector
from tornado.web import Application

from culto.errors import CultoError
from frontend_server.app import make_app
from frontend_server.config import EdgeConfig
from frontend_server.events.cursors import CursorAcks
from frontend_server.events.drain import Drain
from frontend_server.events.follow import catalog_channel_videos
from frontend_server.events.hub import EventHub
from frontend_server.events.ws.handler import SocketRegistry
from frontend_server.security.auth import Authenticator
from mesh.catalog_client import VideoApiClient
from mesh.connection import MeshConnection
from mesh.cursors import CursorStore
from mesh.directory import Directory
from mesh.identity.client import IdentityClient
from ops.collector import frozen_startup_heap
from ops.handlers import Liveness
from ops.malloc import MallocTrim
from ops.server import ListenConfig, RunningServer, listen, make_ops_app

log = logging.getLogger(__name__)

MALLOC_TRIM_S = 30.0
"""Seconds between two ``malloc_trim(0)`` (:mod:`ops.malloc`): what glibc keeps free goes back
to the system, and the frontend's resident memory stays flat (README, "Churn soak")."""


@contextlib.asynccontextmanager
async def serve_frontend(
    config: EdgeConfig,
    mesh: MeshConnection,
    *,
    alive: Liveness | None = None,
    collectors: Sequence[Collector] = (),
) -> AsyncIterator[RunningServer]:
    """Run the frontend (REST, SSE, page, operations) until the block exits.

    Args:
        config: The edge's configuration.
        mesh: A connected mesh (not closed here).
        alive: The process's own liveness check for ``/health``.
        collectors: Further metrics for ``/metrics``.

    Raises:
        OSError: when the port cannot be bound.
    """
    identity = IdentityClient(mesh)
    async with Directory(mesh) as directory:
        # One authenticator for the requests and the hub: the hub follows the same directory
        # to end the streams of revoked credentials.
        authenticator = Authenticator(directory, config.cookie_secret)
        api_client = VideoApiClient(mesh)
        lister = catalog_channel_videos(api_client)  # a followed channel's newest videos
        async with (
            EventHub(mesh, config.hub, authenticator=authenticator, channel_videos=lister) as hub,
            CursorAcks(identity, CursorStore(mesh)) as cursors,
            MallocTrim.glibc(MALLOC_TRIM_S),
        ):
            sockets = SocketRegistry()
            drain = Drain(config.hub)
            app = make_app(
                config,
                mesh=mesh,
                api_client=api_client,
                identity_client=identity,
                hub=hub,
                directory=directory,
                authenticator=authenticator,
                alive=alive,
                collectors=collectors,
                cursors=cursors,
                sockets=sockets,
                drain=drain,
            )

            server = listen(app, config.listen, partial(drain_streams, sockets, hub, drain))
            if config.ops_listen is not None:
                server.ops = _listen_ops(app, config.ops_listen, mesh, hub, alive)
            reporting = asyncio.get_running_loop().create_task(
                report_token_usage(authenticator, identity)
            )
            try:
                with frozen_startup_heap():  # see ops.collector: full GC passes skip it
                    yield server
            finally:
                reporting.cancel()
                await server.close()
                if server.ops is not None:
                    await server.ops.close()


def _listen_ops(
    app: Application,
    listen_config: ListenConfig,
    mesh: MeshConnection,
    hub: EventHub,
    alive: Liveness | None,
) -> RunningServer:
    """The cluster's port: probes and Prometheus, never routed to the internet."""
    registry = app.settings["metrics_registry"]
    live = {"live_feed": lambda: hub.healthy}
    ops_app = make_ops_app(mesh, registry=registry, alive=alive, ready_checks=live)
    return listen(ops_app, listen_config)


async def drain_streams(sockets: SocketRegistry, hub: EventHub, drain: Drain) -> None:
    """Every client learns where to resume (see :mod:`frontend_server.events.drain`), then
    wait until their streams closed or the drain deadline passed."""
    started = asyncio.get_running_loop().time()
    streams, socks = drain.open, len(sockets.sockets)
    sockets.close_all()  # 1001 "going away; since=N", idle sockets included
    await hub.close()  # SSE: a random retry, then the end of the stream
    done = await drain.wait(sockets.empty)
    log.info(
        "drained %d SSE streams and %d WebSockets in %.2fs%s",
        streams,
        socks,
        asyncio.get_running_loop().time() - started,
        "" if done else f" (deadline: {drain.open + len(sockets.sockets)} left)",
    )


USAGE_REPORT_INTERVAL = 30.0
"""Seconds between reports of token use: ``last_used_at`` is this coarse, and a busy token
costs one KV write per interval instead of one per request."""


async def report_token_usage(
    authenticator: Authenticator, identity: IdentityClient, interval: float = USAGE_REPORT_INTERVAL
) -> None:
    """Send the tokens used since the last report to the identity service, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        used = authenticator.take_usage()
        if not used:
            continue
        try:
            await identity.touch(used)
        except CultoError as exc:
            log.info("token usage not reported (kept for the next report): %s", exc.message)
            for token_id, at in used.items():
                authenticator.used.setdefault(token_id, at)
