"""The servers the event-stream benchmark compares, each run in its own process.

* ``culto``: the project's frontend edge as production serves it (``ops.server.listen``, the
  SSE and WebSocket handlers on one hub, bearer-token authentication), with only the event
  routes. ``--code DIR`` runs it from another checkout (``before``: the same harness against
  the code of another commit, in the same run).
* ``baseline``: the seed's design (:mod:`sse_baseline`), SSE only.

Either prints ``READY <port>`` once it listens and stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any

COOKIE_SECRET = "bench-cookie-secret-0123456789"


async def run_culto(nats_url: str, heartbeat: float, memory: Callable[[], None]) -> None:
    """Serve the frontend's event routes until stdin closes (only interfaces that every
    compared version has: the ``before`` code runs this too); ``memory`` is called in the
    loop first (the soak's tracing, :func:`sse_memory.install`)."""
    memory()
    from tornado.web import Application

    from frontend_server.config import HubConfig
    from frontend_server.events.hub import EventHub
    from frontend_server.security.auth import Authenticator
    from mesh.connection import MeshConnection
    from mesh.directory import Directory
    from ops.server import ListenConfig, listen

    config = HubConfig(heartbeat_interval=heartbeat)
    async with (
        MeshConnection(nats_url, name="bench-frontend") as mesh,
        Directory(mesh) as directory,
    ):
        auth = Authenticator(directory, COOKIE_SECRET)
        async with EventHub(mesh, config, authenticator=auth) as hub:
            routes, sockets = _event_routes(mesh, hub, config)
            app = Application(
                routes,
                cookie_secret=COOKIE_SECRET,
                authenticator=auth,
                log_function=lambda handler: None,  # no access log line per stream
            )
            # Benchmark clients come from 127.0.0.x: no per-peer connection rate.
            server = listen(app, ListenConfig(port=0, connections_per_second=1e9))
            with _frozen_startup_heap():
                print(f"READY {server.port}", flush=True)
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            server.http.stop()
            sockets.close_all()  # leaving closes the hub, which ends every SSE stream


def _frozen_startup_heap() -> contextlib.AbstractContextManager[object]:
    """What ``serve_frontend`` does once started (:mod:`ops.collector`), where the checkout
    has it (a ``before`` checkout may not)."""
    try:
        from ops.collector import frozen_startup_heap
    except ImportError:
        return contextlib.nullcontext()
    return frozen_startup_heap()


def _event_routes(mesh: Any, hub: Any, config: Any) -> tuple[list[tuple[str, Any, Any]], Any]:
    """The SSE, WebSocket and health routes with their dependencies, in the form the running
    checkout's handlers take them, and the socket registry (closed at the end)."""
    from frontend_server.events.cursors import CursorAcks
    from frontend_server.events.sse import handler as sse
    from frontend_server.events.ws import handler as ws_handler
    from frontend_server.events.ws.history import SocketHistory
    from frontend_server.security.limits import ClientLimits, RateLimitConfig
    from mesh.catalog_client import VideoApiClient
    from mesh.cursors import CursorStore
    from mesh.replay import EventReader

    try:
        from mesh.identity.client import IdentityClient
    except ImportError:  # a --before checkout older than the mesh.identity package
        from mesh.identity_client import IdentityClient  # type: ignore[no-redef]

    # No per-client stream cap: every benchmark client is one of a few users.
    unlimited = RateLimitConfig(streams_per_client=10**9)
    limits = ClientLimits(unlimited)
    api = VideoApiClient(mesh)
    stream: dict[str, Any] = {"hub": hub, "config": config, "limits": limits, "api": api}
    sockets = ws_handler.SocketRegistry()
    socket: dict[str, Any] = {
        **stream,
        "cursors": CursorAcks(IdentityClient(mesh), CursorStore(mesh)),
        "sockets": sockets,
        "allowed_origins": frozenset(),
        "history": SocketHistory(EventReader(mesh)),
    }
    if hasattr(sse, "StreamDeps"):  # one dependency object per handler (issue 20)
        stream_kw = {"deps": sse.StreamDeps(**stream)}
        socket_kw = {"deps": ws_handler.SocketDeps(**socket)}
        health_kw: dict[str, Any] = {"hub": hub}
    else:  # a ``before`` checkout from earlier: the dependencies as keywords
        stream_kw, socket_kw, health_kw = stream, socket, stream
    routes = [
        (r"/api/v2/events/stream", sse.EventStreamHandler, stream_kw),
        (r"/api/v2/events/ws", ws_handler.EventSocketHandler, socket_kw),
        (r"/api/v2/events/health", sse.EventsHealthHandler, health_kw),
    ]
    return routes, sockets


def run(
    target: str,
    nats_url: str,
    use_uvloop: bool,
    heartbeat: float,
    memory: Callable[[], None] = lambda: None,
) -> None:
    """Run ``target`` (``culto``, ``before`` or ``baseline``) in this process."""
    if target == "baseline":
        from sse_baseline import serve

        asyncio.run(serve(nats_url, use_uvloop))
        return
    if use_uvloop:
        import uvloop

        uvloop.run(run_culto(nats_url, heartbeat, memory))
    else:
        asyncio.run(run_culto(nats_url, heartbeat, memory))
