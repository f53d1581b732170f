"""Listening and graceful close of a Tornado application, and the ops-only server.

:func:`serve_ops` runs ``/health``, ``/ready`` and ``/metrics`` for the ``api`` and ``worker``
roles. The frontend listens through the same :func:`listen` with its own application.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from asyncio import Future
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.registry import Collector
from tornado.httpserver import HTTPServer
from tornado.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPMessageDelegate,
    RequestStartLine,
    ResponseStartLine,
)
from tornado.iostream import IOStream
from tornado.netutil import bind_sockets
from tornado.routing import URLSpec
from tornado.web import Application, RequestHandler

from culto.errors import ConfigError
from mesh.connection import MeshConnection
from ops.handlers import HealthHandler, Liveness, MetricsHandler, ReadyHandler
from ops.http import JsonNotFoundHandler, error_body
from ops.metrics import ExtraStats, HttpMetrics, StatsSource, make_registry

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """Where a server listens and the largest body it reads.

    Attributes:
        host: Interface to bind.
        port: TCP port (0 = any free port, see :attr:`RunningServer.port`).
        max_body_bytes: Tornado refuses larger bodies at the connection level.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 2**20

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"PORT: must be between 0 and 65535, got {self.port}")
        if self.max_body_bytes < 1:
            raise ConfigError("max_body_bytes: must be positive")


@dataclass
class RunningServer:
    """A listening server; :meth:`close` stops it gracefully (once).

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
    _closed: bool = False

    @property
    def url(self) -> str:
        """``http://host:port`` of this server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        """Stop accepting, run the pre-close step (end SSE streams), close connections.

        Order matters: stop accepting first (a load balancer moves new clients elsewhere), then
        end the open streams (clients resume on another replica by ``Last-Event-ID``).
        """
        if self._closed:
            return
        self._closed = True
        self.http.stop()
        try:
            if self._before_close is not None:
                await self._before_close()
        finally:
            try:
                await asyncio.wait_for(self.http.close_all_connections(), CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("some HTTP connections did not close within %.0fs", CLOSE_TIMEOUT)


_TORNADO_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"
_JSON_400_BODY = error_body(
    "bad_request",
    "the request could not be read: malformed HTTP, or a body over the server's size limit",
)
_JSON_400 = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_JSON_400_BODY), _JSON_400_BODY)
)


MAX_HEADER_BYTES = 64 * 1024
"""Largest request head answered normally; a larger one gets a JSON 431."""
_READ_HEADER_BYTES = 1024 * 1024
"""What Tornado reads at most before it drops the connection (without any answer)."""


class _HeaderLimit(HTTPMessageDelegate):
    """Answers a request whose headers are over :data:`MAX_HEADER_BYTES` with a JSON 431."""

    def __init__(self, inner: HTTPMessageDelegate, connection: HTTPConnection) -> None:
        self._inner = inner
        self._connection = connection
        self._refused = False

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        """Refuse oversized heads; pass everything else on."""
        size = sum(len(name) + len(value) + 4 for name, value in headers.get_all())
        if size <= MAX_HEADER_BYTES:
            return self._inner.headers_received(start_line, headers)
        self._refused = True
        body = error_body("headers_too_large", f"request headers are over {MAX_HEADER_BYTES} bytes")
        reply = HTTPHeaders(
            {
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(body)),
                "Connection": "close",
            }
        )
        line = ResponseStartLine("HTTP/1.1", 431, "Request Header Fields Too Large")
        self._connection.write_headers(line, reply, body)
        self._connection.finish()
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Dropped once refused."""
        return None if self._refused else self._inner.data_received(chunk)

    def finish(self) -> None:
        """Nothing left to do once refused."""
        if not self._refused:
            self._inner.finish()

    def on_connection_close(self) -> None:
        """Passed on unless refused."""
        if not self._refused:
            self._inner.on_connection_close()


class JsonErrorsHTTPServer(HTTPServer):
    """An ``HTTPServer`` whose own refusals are JSON too.

    Tornado answers a request it cannot read (malformed HTTP, a body over ``max_body_size``)
    itself, before any handler, with a bare ``400`` and no body. That one write is recognised
    and replaced, so clients always get ``{"error": {"code", "message"}}``. Oversized headers
    (which Tornado answers with nothing at all) are read up to 1 MiB and refused with a 431.
    """

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Tornado's delegate, behind the header limit."""
        return _HeaderLimit(super().start_request(server_conn, request_conn), request_conn)

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        """Serve ``stream`` with the refusal rewritten (see the class docstring)."""
        write = stream.write

        def json_refusal(data: bytes | memoryview, *args: Any, **kwargs: Any) -> Future[None]:
            return write(_JSON_400 if bytes(data) == _TORNADO_400 else data, *args, **kwargs)

        stream.write = json_refusal  # type: ignore[method-assign]
        super().handle_stream(stream, address)


def listen(
    app: Application,
    config: ListenConfig,
    before_close: Callable[[], Awaitable[None]] | None = None,
) -> RunningServer:
    """Bind ``config.host:config.port`` and serve ``app``.

    Raises:
        OSError: when the port cannot be bound.
    """
    http = JsonErrorsHTTPServer(
        app,
        xheaders=True,
        max_body_size=config.max_body_bytes,
        max_header_size=_READ_HEADER_BYTES,
    )
    sockets = bind_sockets(config.port, config.host)
    http.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    log.info("listening on %s:%d", config.host, port)
    return RunningServer(app, http, port, config.host, before_close)


def ops_routes(
    mesh: MeshConnection, registry_source: object, alive: Liveness | None = None
) -> list[URLSpec]:
    """``/health``, ``/ready`` and ``/metrics`` routes (``registry_source`` is the registry)."""
    return [
        URLSpec("/health", HealthHandler, {"alive": alive}, name="/health"),
        URLSpec("/ready", ReadyHandler, {"mesh": mesh}, name="/ready"),
        URLSpec("/metrics", MetricsHandler, {"registry": registry_source}, name="/metrics"),
    ]


def route_names(specs: list[URLSpec]) -> dict[type[RequestHandler], str]:
    """Handler class → route template: the bounded ``route`` label of HTTP metrics."""
    return {spec.target: spec.name for spec in specs if spec.name and isinstance(spec.target, type)}


def make_ops_app(
    mesh: MeshConnection,
    *,
    hub: StatsSource | None = None,
    extra_stats: Mapping[str, ExtraStats] | ExtraStats | None = None,
    collectors: Sequence[Collector] = (),
) -> Application:
    """An application with the ops routes only (the ``api`` and ``worker`` roles).

    Args:
        mesh: The process's connection (readiness and metrics).
        hub: An SSE hub to export (frontend only).
        extra_stats: The role's stats: a callable returning a mapping or dataclass of numbers
            (gauges ``culto_<name>``), or ``{prefix: callable}`` (``culto_<prefix>_<name>``).
    """
    registry = make_registry(mesh, hub=hub, extra=extra_stats, collectors=collectors)
    specs = ops_routes(mesh, registry)
    metrics = HttpMetrics(registry, route_names(specs))
    return Application(
        specs,
        default_handler_class=JsonNotFoundHandler,
        log_function=metrics.observe,
        serve_traceback=False,
    )


@contextlib.asynccontextmanager
async def serve_ops(
    config: ListenConfig,
    mesh: MeshConnection,
    extra_stats: Mapping[str, ExtraStats] | ExtraStats | None = None,
    collectors: Sequence[Collector] = (),
) -> AsyncIterator[RunningServer]:
    """Run ``/health``, ``/ready`` and ``/metrics`` until the block exits."""
    app = make_ops_app(mesh, extra_stats=extra_stats, collectors=collectors)
    server = listen(app, config)
    try:
        yield server
    finally:
        await server.close()
