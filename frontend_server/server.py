"""Running the HTTP edge: the frontend server and the small operations server of other roles.

Both are async context managers that listen on ``settings.host:settings.port`` (port 0 picks a
free port, exposed as ``.port``) and shut down gracefully on exit::

    async with serve_frontend(settings, mesh) as server:
        await server.wait()  # until SIGTERM/SIGINT or server.request_stop()

Shutdown order matters: stop accepting first (so a load balancer moves new clients elsewhere),
then end the open SSE streams (clients reconnect to another replica and resume by
``Last-Event-ID``), then close what is left. NATS is drained by the owner of ``mesh``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from culto.settings import Settings
from frontend_server.app import make_app, make_ops_app
from frontend_server.hub import EventHub
from frontend_server.ops import ExtraStats
from mesh.connection import MeshConnection
from services.api.client import VideoApiClient

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class RunningServer:
    """A listening server.

    Attributes:
        app: The Tornado application.
        http: The HTTP server.
        port: The bound port (useful with port 0).
        host: The bound host.
    """

    app: Application
    http: HTTPServer
    port: int
    host: str
    _before_close: Callable[[], Awaitable[None]] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False

    @property
    def url(self) -> str:
        """``http://host:port`` of this server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def request_stop(self) -> None:
        """Make :meth:`wait` return (as SIGTERM would)."""
        self._stop.set()

    async def wait(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        """Wait for one of ``signals`` (or :meth:`request_stop`); handlers are removed after."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
        try:
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("received %s: shutting down", sig.name)
        self._stop.set()

    async def close(self) -> None:
        """Stop accepting, run the pre-close step (end SSE streams), close connections."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.http.stop()
        try:
            if self._before_close is not None:
                await self._before_close()
        finally:
            try:
                await asyncio.wait_for(self.http.close_all_connections(), CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("some HTTP connections did not close within %.0fs", CLOSE_TIMEOUT)


def _listen(
    app: Application, settings: Settings, before_close: Callable[[], Awaitable[None]] | None
) -> RunningServer:
    # Tornado refuses larger bodies at the connection level (without JSON); the handlers
    # answer 413 JSON below this bound.
    http = HTTPServer(app, xheaders=True, max_body_size=2 * settings.max_transcript_bytes + 2**20)
    sockets = bind_sockets(settings.port, settings.host)
    http.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    log.info("listening on %s:%d", settings.host, port)
    return RunningServer(app, http, port, settings.host, before_close)


@contextlib.asynccontextmanager
async def serve_frontend(settings: Settings, mesh: MeshConnection) -> AsyncIterator[RunningServer]:
    """Run the frontend (REST, SSE, page, operations) until the block exits.

    Args:
        settings: Process settings; in dev a missing cookie secret is generated and persisted.
        mesh: A connected mesh (not closed here).

    Raises:
        ConfigError: without a cookie secret outside dev.
        OSError: when the port cannot be bound.
    """
    settings = settings.with_dev_cookie_secret()
    hub = EventHub(mesh, settings)
    await hub.start()
    try:
        app = make_app(settings, mesh=mesh, api_client=VideoApiClient(mesh), hub=hub)
        server = _listen(app, settings, hub.close)
    except BaseException:
        await hub.close()
        raise
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def serve_ops(
    settings: Settings,
    mesh: MeshConnection,
    extra_stats: Mapping[str, ExtraStats] | ExtraStats | None = None,
) -> AsyncIterator[RunningServer]:
    """Run ``/health``, ``/ready`` and ``/metrics`` for the ``api`` and ``worker`` roles.

    Args:
        settings: Process settings (``port``, ``host``).
        mesh: The role's connection.
        extra_stats: The role's figures for ``/metrics`` (see :func:`make_ops_app`).
    """
    server = _listen(make_ops_app(settings, mesh=mesh, extra_stats=extra_stats), settings, None)
    try:
        yield server
    finally:
        await server.close()
