"""Listening and graceful close of a Tornado application, and the ops-only server.

:func:`serve_ops` runs ``/health``, ``/ready`` and ``/metrics`` for the ``api`` and ``worker``
roles. The frontend listens through the same :func:`listen` with its own application.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import socket
from asyncio import Future
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.registry import Collector, CollectorRegistry
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

from culto.buckets import TokenBuckets
from culto.errors import ConfigError
from mesh.connection import MeshConnection
from ops.handlers import HealthHandler, Liveness, MetricsAccess, MetricsHandler, ReadyHandler
from ops.http import SECURITY_HEADERS, JsonNotFoundHandler, error_body
from ops.metrics import ExtraStats, HttpMetrics, make_registry

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_HEADERS = ("X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Proto", "X-Scheme")
"""Headers a proxy uses to say who the client is and whether it spoke HTTPS."""


def proxy_networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    """``TRUSTED_PROXIES`` entries (IP addresses or CIDR networks) as networks.

    Raises:
        ConfigError: naming the first entry that is neither.
    """
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                "TRUSTED_PROXIES: expected IP addresses or CIDR networks like 10.0.0.0/8, "
                f"got {entry!r}"
            ) from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """Where a server listens, the largest body it reads, and whom it believes about clients.

    Attributes:
        host: Interface to bind.
        port: TCP port (0 = any free port, see :attr:`RunningServer.port`).
        max_body_bytes: Tornado refuses larger bodies at the connection level.
        trusted_proxies: IPs or CIDR networks of the proxies in front (``TRUSTED_PROXIES``):
            only a request whose peer is one of them may set the client's address and scheme
            through :data:`FORWARDED_HEADERS`; anyone else's are removed.
        connections_per_second: New connections one peer address may open per second, on
            average (bursts of four seconds' worth); trusted proxies are not limited, since
            they carry every client.
        write_timeout: Seconds the kernel keeps unacknowledged data for a peer before it drops
            the connection (``TCP_USER_TIMEOUT``): a client whose network vanished without a
            FIN stops holding a stream and its memory (see :func:`keep_alive`).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 2**20
    trusted_proxies: tuple[str, ...] = ()
    connections_per_second: float = 100.0
    write_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"PORT: must be between 0 and 65535, got {self.port}")
        if self.max_body_bytes < 1:
            raise ConfigError("max_body_bytes: must be positive")
        if self.connections_per_second <= 0:
            raise ConfigError("CULTO_MAX_CONNECTIONS_PER_SECOND: must be positive")
        if self.write_timeout <= 0:
            raise ConfigError("CULTO_WRITE_TIMEOUT: must be positive")
        proxy_networks(self.trusted_proxies)


@dataclass
class RunningServer:
    """A listening server; :meth:`close` stops it gracefully (once).

    Attributes:
        app: The Tornado application.
        http: The HTTP server.
        port: The bound port (useful with port 0).
        host: The bound host.
        ops: The ops port's server running beside it (the frontend's ``CULTO_OPS_PORT``).
    """

    app: Application
    http: HTTPServer
    port: int
    host: str
    _before_close: Callable[[], Awaitable[None]] | None = None
    _closed: bool = False
    ops: RunningServer | None = None

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
_SECURITY_LINES = b"".join(f"{k}: {v}\r\n".encode() for k, v in SECURITY_HEADERS.items())
_JSON_400 = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n%s"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
    % (_SECURITY_LINES, len(_JSON_400_BODY), _JSON_400_BODY)
)


LISTEN_BACKLOG = 1024
"""Connections the kernel queues before they are accepted (capped by ``net.core.somaxconn``).
Tornado's default of 128 overflows when a replica dies and its SSE clients reconnect to the
others at once: a dropped SYN is retried only after a second, so resumes took seconds longer."""

MAX_HEADER_BYTES = 64 * 1024
"""Largest request head answered normally; a larger one gets a JSON 431."""
_READ_HEADER_BYTES = 1024 * 1024
"""What Tornado reads at most before it drops the connection (without any answer)."""


def _within(ip: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(address in network for network in networks)


def trust_forwarded(headers: HTTPHeaders, peer: str | None, trusted: Sequence[IPNetwork]) -> None:
    """Keep forwarded headers only from a trusted proxy, reduced to what Tornado should use.

    Tornado's ``xheaders`` believes ``X-Real-IP``/``X-Forwarded-For``/``X-Forwarded-Proto``
    from any client, so anyone could pick the address logged and claim HTTPS. Here:

    - the peer is not a trusted proxy: every :data:`FORWARDED_HEADERS` is removed;
    - it is: the client is the last ``X-Forwarded-For`` hop (read right to left) that is not
      itself a trusted proxy — hops further left were written by whoever sent the request and
      prove nothing; ``X-Real-IP`` is used only without ``X-Forwarded-For``.
    """
    if peer is None or not _within(peer, trusted):
        for name in FORWARDED_HEADERS:
            if name in headers:
                del headers[name]
        return
    hops = [hop.strip() for hop in headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    if not hops:
        return
    client = hops[0]  # every hop is a trusted proxy: the first one is as far as we can see
    for hop in reversed(hops):
        if not _within(hop, trusted):
            client = hop
            break
    headers["X-Forwarded-For"] = client
    if "X-Real-Ip" in headers:
        del headers["X-Real-Ip"]  # Tornado would prefer it over X-Forwarded-For


class _HeaderLimit(HTTPMessageDelegate):
    """Answers a request whose headers are over :data:`MAX_HEADER_BYTES` with a JSON 431, and
    applies :func:`trust_forwarded` before Tornado reads the forwarded headers."""

    def __init__(
        self,
        inner: HTTPMessageDelegate,
        connection: HTTPConnection,
        trusted: Sequence[IPNetwork] = (),
    ) -> None:
        self._inner = inner
        self._connection = connection
        self._trusted = trusted
        self._refused = False

    def _peer(self) -> str | None:
        # The socket's own address (Tornado's request context keeps it; unix sockets: none).
        address = getattr(getattr(self._connection, "context", None), "address", None)
        if isinstance(address, tuple) and address and isinstance(address[0], str):
            return address[0]
        return None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        """Refuse oversized heads; pass everything else on."""
        size = sum(len(name) + len(value) + 4 for name, value in headers.get_all())
        if size <= MAX_HEADER_BYTES:
            trust_forwarded(headers, self._peer(), self._trusted)
            return self._inner.headers_received(start_line, headers)
        self._refused = True
        body = error_body("headers_too_large", f"request headers are over {MAX_HEADER_BYTES} bytes")
        reply = HTTPHeaders(
            {
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(body)),
                "Connection": "close",
                **SECURITY_HEADERS,
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


KEEPALIVE_IDLE = 30
"""Seconds a connection may be silent before the kernel probes the peer (TCP keepalive)."""
KEEPALIVE_INTERVAL = 10
KEEPALIVE_PROBES = 3
"""Unanswered probes, :data:`KEEPALIVE_INTERVAL` apart, after which the connection is dropped."""


def keep_alive(sock: socket.socket, write_timeout: float) -> None:
    """Have the kernel find peers that vanished without a FIN (unplugged, NAT state lost).

    An idle one (an event stream with no events and no heartbeat due yet) is probed after
    :data:`KEEPALIVE_IDLE` seconds and dropped about half a minute later; one with unacknowledged
    data is dropped after ``write_timeout`` (``TCP_USER_TIMEOUT``, Linux). Either way Tornado
    sees the connection close, so the stream's slot and memory are released.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    options = (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", int(write_timeout * 1000)),
    )
    for name, value in options:
        option = getattr(socket, name, None)  # Linux; other systems keep their defaults
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


_JSON_429_BODY = error_body(
    "too_many_connections", "too many new connections from this address; retry in a second"
)
_JSON_429 = (
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_JSON_429_BODY), _JSON_429_BODY)
)


class JsonErrorsHTTPServer(HTTPServer):
    """An ``HTTPServer`` whose own refusals are JSON too.

    Tornado answers a request it cannot read (malformed HTTP, a body over ``max_body_size``)
    itself, before any handler, with a bare ``400`` and no body. That one write is recognised
    and replaced, so clients always get ``{"error": {"code", "message"}}``. Oversized headers
    (which Tornado answers with nothing at all) are read up to 1 MiB and refused with a 431.
    """

    def initialize(
        self,
        *args: Any,
        trusted_proxies: Sequence[str] = (),
        connections_per_second: float = 100.0,
        write_timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        """Tornado's arguments, plus the proxies whose forwarded headers are believed, the
        new-connection rate allowed per peer address and the kernel's write deadline."""
        self.write_timeout = write_timeout
        self.trusted_proxies = proxy_networks(trusted_proxies)
        rate = connections_per_second
        self.connections = TokenBuckets(rate, max(1, math.ceil(4 * rate)))
        super().initialize(*args, **kwargs)

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Tornado's delegate, behind the header limit and the proxy check."""
        inner = super().start_request(server_conn, request_conn)
        return _HeaderLimit(inner, request_conn, self.trusted_proxies)

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        """Serve ``stream`` with the refusal rewritten (see the class docstring); a peer over
        its connection rate gets a JSON 429 and the connection is closed."""
        peer = str(address[0]) if address else ""
        if not _within(peer, self.trusted_proxies) and not self.connections.take(peer)[0]:
            stream.write(_JSON_429).add_done_callback(lambda _: stream.close())
            return
        if stream.socket.family in (socket.AF_INET, socket.AF_INET6):
            keep_alive(stream.socket, self.write_timeout)
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
        # Tornado applies X-Real-IP/X-Forwarded-*; _HeaderLimit has removed them by then
        # unless the peer is one of the trusted proxies.
        xheaders=True,
        trusted_proxies=config.trusted_proxies,
        connections_per_second=config.connections_per_second,
        write_timeout=config.write_timeout,
        max_body_size=config.max_body_bytes,
        max_header_size=_READ_HEADER_BYTES,
    )
    sockets = bind_sockets(config.port, config.host, backlog=LISTEN_BACKLOG)
    http.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    log.info("listening on %s:%d", config.host, port)
    return RunningServer(app, http, port, config.host, before_close)


def ops_routes(
    mesh: MeshConnection,
    registry_source: object,
    alive: Liveness | None = None,
    metrics: MetricsAccess | None = None,
    ready_checks: Mapping[str, Callable[[], bool]] | None = None,
    *,
    started: bool = True,
) -> list[URLSpec]:
    """``/health``, ``/ready`` and ``/metrics`` routes (``registry_source`` is the registry;
    ``metrics`` says who may read it on this port; ``ready_checks`` are the role's own
    readiness conditions, named in ``/ready``'s ``checks``; ``started=False``: the role is
    still waiting for provisioning, ``/ready`` stays 503)."""
    scrape = {"registry": registry_source, "access": metrics or MetricsAccess()}
    ready = {"mesh": mesh, "checks": ready_checks, "started": started}
    return [
        URLSpec("/health", HealthHandler, {"alive": alive}, name="/health"),
        URLSpec("/ready", ReadyHandler, ready, name="/ready"),
        URLSpec("/metrics", MetricsHandler, scrape, name="/metrics"),
    ]


def route_names(specs: list[URLSpec]) -> dict[type[RequestHandler], str]:
    """Handler class → route template: the bounded ``route`` label of HTTP metrics."""
    return {spec.target: spec.name for spec in specs if spec.name and isinstance(spec.target, type)}


def make_ops_app(
    mesh: MeshConnection,
    *,
    extra_stats: Mapping[str, ExtraStats] | ExtraStats | None = None,
    collectors: Sequence[Collector] = (),
    registry: CollectorRegistry | None = None,
    alive: Liveness | None = None,
    started: bool = True,
    ready_checks: Mapping[str, Callable[[], bool]] | None = None,
) -> Application:
    """An application with the ops routes only (the ``api`` and ``worker`` roles, the
    frontend's ``CULTO_OPS_PORT``, and every role while it waits for provisioning).

    Args:
        mesh: The process's connection (readiness and metrics).
        extra_stats: The role's stats: a callable returning a mapping or dataclass of numbers
            (gauges ``culto_<name>``), or ``{prefix: callable}`` (``culto_<prefix>_<name>``).
        collectors: Further collectors.
        registry: An existing registry to serve instead (the frontend's own).
        alive: The process's liveness check for ``/health``.
        started: ``False`` while the role waits for provisioning: ``/ready`` stays 503.
        ready_checks: The role's own readiness conditions (the frontend's live feed).
    """
    own = registry is None
    if registry is None:
        registry = make_registry(mesh, extra=extra_stats, collectors=collectors)
    specs = ops_routes(mesh, registry, alive, None, ready_checks, started=started)
    # A shared registry already counts its own application's requests under these names.
    metrics = HttpMetrics(registry if own else CollectorRegistry(), route_names(specs))
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
    *,
    started: bool = True,
) -> AsyncIterator[RunningServer]:
    """Run ``/health``, ``/ready`` and ``/metrics`` until the block exits (``started=False``:
    a role waiting for provisioning, whose ``/ready`` stays 503)."""
    app = make_ops_app(mesh, extra_stats=extra_stats, collectors=collectors, started=started)
    server = listen(app, config)
    try:
        yield server
    finally:
        await server.close()
