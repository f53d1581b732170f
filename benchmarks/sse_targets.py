"""The two servers the fan-out benchmark compares, each run in its own process.

* ``culto``: the project's frontend edge as production serves it (``ops.server.listen``, the
  event stream handler, the hub, bearer-token authentication), with only the event routes.
* ``baseline``: the seed's design (:mod:`sse_baseline`).

Either prints ``READY <port>`` once it listens and stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

COOKIE_SECRET = "bench-cookie-secret-0123456789"


async def run_culto(nats_url: str, use_uvloop: bool) -> None:
    """Serve the frontend's event routes until stdin closes."""
    from tornado.web import Application

    from frontend_server.config import HubConfig
    from frontend_server.events.hub import EventHub
    from frontend_server.events.sse.handler import EventsHealthHandler, EventStreamHandler
    from frontend_server.security.auth import Authenticator
    from frontend_server.security.limits import ClientLimits, RateLimitConfig
    from mesh.catalog_client import VideoApiClient
    from mesh.connection import MeshConnection
    from mesh.directory import Directory
    from ops.server import ListenConfig, listen

    config = HubConfig()
    async with (
        MeshConnection(nats_url, name="bench-frontend") as mesh,
        Directory(mesh) as directory,
    ):
        auth = Authenticator(directory, COOKIE_SECRET)
        async with EventHub(mesh, config, authenticator=auth) as hub:
            # No per-client stream cap: every benchmark client is one of a few users.
            unlimited = RateLimitConfig(streams_per_client=10**9)
            deps = {
                "hub": hub,
                "config": config,
                "limits": ClientLimits(unlimited),
                "api": VideoApiClient(mesh),
            }
            app = Application(
                [
                    (r"/api/v2/events/stream", EventStreamHandler, deps),
                    (r"/api/v2/events/health", EventsHealthHandler, deps),
                ],
                cookie_secret=COOKIE_SECRET,
                authenticator=auth,
            )
            # Every benchmark client comes from 127.0.0.1: no per-peer connection rate.
            server = listen(app, ListenConfig(port=0, connections_per_second=1e9))
            print(f"READY {server.port}", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            server.http.stop()  # leaving closes the hub, which ends every stream


def run(target: str, nats_url: str, use_uvloop: bool) -> None:
    """Run ``target`` (``culto`` or ``baseline``) in this process."""
    if target == "baseline":
        from sse_baseline import serve

        asyncio.run(serve(nats_url, use_uvloop))
        return
    if use_uvloop:
        import uvloop

        uvloop.run(run_culto(nats_url, use_uvloop))
    else:
        asyncio.run(run_culto(nats_url, use_uvloop))
