"""``GET /api/v2/events/ws`` (the WebSocket transport) and ``POST /api/v2/events/ack``.

Before the upgrade, in this order (each refusal is a JSON error and no upgrade):

1. ``Origin``: a browser's upgrade must come from an allowed origin (``FRONTEND_URL``,
   ``CORS_ORIGINS``) or from this very site (same host): cross-site WebSocket hijacking gets a
   403 ``origin_denied``. Programs send no ``Origin`` and are not concerned.
2. The caller: a bearer token or the session cookie, as on every route (a token in the query
   string: 400). An anonymous caller gets 401: a socket is a signed-in client's (it may
   acknowledge cursors); anonymous readers of public channels use SSE.
3. The handshake (RFC 6455 §4.2.1): a plain GET gets 400 ``websocket_upgrade_required``, a
   malformed one 400 ``invalid_websocket_handshake``, another version 426.
4. The per-client cap on open event streams (SSE and WebSocket together): 429.

The 101 answer goes out through Tornado (its headers), then the connection is detached from
Tornado and served by a :class:`~frontend_server.events.ws.socket.WsStream` (RFC 6455 framing of
its own, :mod:`frontend_server.events.ws.frames`) and its
:class:`~frontend_server.events.ws.session.EventSocket`, which serves the messages of
docs/contracts.md §10. No extension (compression) or subprotocol is negotiated.
Keep-alive is WebSocket ping frames every ``SSE_HEARTBEAT_INTERVAL`` seconds from one timer; a
socket that answers nothing between two pings is closed. A message over
:data:`MAX_MESSAGE_BYTES` closes the socket (1009). On shutdown every socket is closed with 1001
"going away" (:class:`SocketRegistry`). The access log line (status 101) is written when the
socket closes, with its lifetime as duration.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import socket
from dataclasses import dataclass
from functools import partial

from tornado.iostream import StreamClosedError

from access.policy import Principal
from culto.errors import Unauthenticated
from culto.origins import normalize_origin
from frontend_server.api.identity import IdentityDeps, IdentityHandler
from frontend_server.config import HubConfig
from frontend_server.events.beats import HeartbeatWheel
from frontend_server.events.cursors import CursorAcks
from frontend_server.events.hub import EventHub
from frontend_server.events.sse.handler import video_channels
from frontend_server.events.ws.codes import CloseCode
from frontend_server.events.ws.history import SocketHistory
from frontend_server.events.ws.session import EventSocket
from frontend_server.events.ws.socket import WsStream
from frontend_server.security.browser import XsrfMixin
from frontend_server.security.limits import ClientLimits
from mesh.catalog_client import VideoApiClient
from ops.http import ApiError, BaseHandler, RequestRecord
from ops.tornado_seam import detach_socket
from schemas.cursors import CursorAck

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest client message (a subscribe naming 200 videos is about 8 KiB)."""


@dataclass
class WsStats:
    """WebSocket figures for ``/metrics`` (SSE has the hub's)."""

    open: int = 0
    opened: int = 0
    messages_in: int = 0
    messages_out: int = 0
    errors_out: int = 0


class SocketRegistry:
    """The application's open sockets: closed all at once on shutdown (an upgraded connection
    is no longer the HTTP server's to close), pinged from one timer per interval."""

    def __init__(self) -> None:
        self.sockets: set[WsStream] = set()
        self.stats = WsStats()
        self._wheels: dict[float, HeartbeatWheel[WsStream]] = {}
        self.empty = asyncio.Event()
        """Set while no socket is open (a shutdown's drain waits for it)."""
        self.empty.set()

    def wheel(self, interval: float) -> HeartbeatWheel[WsStream]:
        """The ping wheel of ``interval`` seconds."""
        wheel = self._wheels.get(interval)
        if wheel is None:
            wheel = self._wheels[interval] = HeartbeatWheel(interval, _ping)
        return wheel

    def opened(self, stream: WsStream) -> None:
        """An upgrade succeeded."""
        self.sockets.add(stream)
        self.empty.clear()
        self.stats.open += 1
        self.stats.opened += 1

    def closed(self, stream: WsStream) -> None:
        """A socket closed (either side)."""
        if stream in self.sockets:
            self.sockets.discard(stream)
            self.stats.open -= 1
        if not self.sockets:
            self.empty.set()
        for wheel in self._wheels.values():
            wheel.remove(stream)

    def close_all(self) -> None:
        """Close every socket with 1001 and the position it resumes from, ``going away;
        since=N`` (on another replica; plain ``going away`` when it has none yet)."""
        for stream in list(self.sockets):
            position = getattr(stream.session, "position", None)
            reason = "going away" if position is None else f"going away; since={position}"
            stream.close(CloseCode.GOING_AWAY, reason)


def _ping(due: list[WsStream]) -> None:
    for stream in due:
        stream.ping()


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketDeps:
    """What the WebSocket route uses, one per application (Tornado passes it as ``deps``).

    ``allowed_origins``: the CORS origins, besides the site itself; ``history``: reads what a
    subscription missed; ``sockets``: the open sockets, closed on shutdown."""

    hub: EventHub
    config: HubConfig
    limits: ClientLimits
    api: VideoApiClient
    cursors: CursorAcks
    sockets: SocketRegistry
    allowed_origins: frozenset[str]
    history: SocketHistory


class EventSocketHandler(XsrfMixin, BaseHandler):
    """``GET /api/v2/events/ws``: checks, then the upgrade; the socket is then a
    :class:`~frontend_server.events.ws.socket.WsStream` detached from Tornado."""

    def initialize(self, deps: SocketDeps) -> None:
        """Tornado passes the route's dependencies here."""
        self.deps = deps

    def check_origin(self, origin: str) -> bool:
        """An allowed origin, or this site itself (the page served by this edge)."""
        normal = normalize_origin(origin)
        if normal is not None and normal in self.deps.allowed_origins:
            return True
        _, _, rest = origin.partition("://")
        return bool(rest) and rest.lower() == self.request.host.lower()

    async def get(self) -> None:
        """Check origin, caller, handshake and stream cap, then upgrade."""
        origin = self.request.headers.get("Origin")
        if origin is not None and not self.check_origin(origin):
            raise ApiError(
                403, "origin_denied", f"WebSocket from origin {origin[:100]!r} is not allowed"
            )
        principal = self.principal  # 400 token_in_query, 401 bad bearer token
        if not principal.authenticated or principal.user_id is None:
            raise Unauthenticated(
                "the WebSocket needs a signed-in caller: the session cookie or"
                " 'Authorization: Bearer culto_…'"
            )
        key = self._handshake_key()
        client = principal.user_id
        if not self.deps.limits.open_stream(client):
            cap = self.deps.limits.config.streams_per_client
            raise ApiError(
                429,
                "too_many_streams",
                f"this client already holds {cap} open event streams",
                headers={"Retry-After": "5"},
            )
        try:
            sock, pending = await self._upgrade(key)
        except (StreamClosedError, ConnectionError):
            self.deps.limits.close_stream(client)  # the client left during the upgrade
            return
        self._serve(sock, pending, principal, client)

    def _handshake_key(self) -> str:
        """``Sec-WebSocket-Key`` of a valid upgrade request (RFC 6455 §4.2.1).

        Raises:
            ApiError: 400 for a plain GET or a malformed handshake, 426 for another version.
        """
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            # The JSON error shape, where Tornado's own answer was a text/html 400.
            raise ApiError(
                400,
                "websocket_upgrade_required",
                "this endpoint speaks WebSocket only: open it with new WebSocket(url)"
                " (or use GET /api/v2/events/stream for Server-Sent Events)",
                headers={"Upgrade": "websocket"},
            )
        tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        key = headers.get("Sec-WebSocket-Key", "").strip()
        if "upgrade" not in tokens or not _valid_key(key):
            raise ApiError(
                400,
                "invalid_websocket_handshake",
                "a WebSocket upgrade needs 'Connection: Upgrade' and a Sec-WebSocket-Key",
            )
        if headers.get("Sec-WebSocket-Version", "").strip() != "13":
            raise ApiError(
                426,
                "unsupported_websocket_version",
                "this server speaks WebSocket version 13 (RFC 6455)",
                headers={"Sec-WebSocket-Version": "13"},
            )
        return key

    async def _upgrade(self, key: str) -> tuple[socket.socket, bytes]:
        """The 101 answer through Tornado (security headers, no body), then the socket.

        No extension or subprotocol is accepted: frames are plain (no compression), which is
        what lets one event's frame be shared by every socket."""
        self.set_status(101)
        self.clear_header("Content-Type")
        self.set_header("Upgrade", "websocket")
        self.set_header("Connection", "Upgrade")
        self.set_header("Sec-WebSocket-Accept", accept_key(key))
        await self.flush()
        sock, pending = detach_socket(self)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, pending

    def _serve(
        self, sock: socket.socket, pending: bytes, principal: Principal, client: str
    ) -> None:
        stream = WsStream(
            sock,
            record=RequestRecord(self, 101),
            handler=self,
            limits=self.deps.limits,
            client_key=client,
            registry=self.deps.sockets,
            max_message=MAX_MESSAGE_BYTES,
        )
        self.deps.sockets.opened(stream)
        session = EventSocket(
            hub=self.deps.hub,
            access=self.deps.hub.access,
            principal=principal,
            credential=self.caller.credential,
            client_key=client,
            outbox=stream,
            # Not a closure over this handler: the handler is freed once the socket is served.
            lookup=partial(video_channels, self.deps.api),
            cursors=self.deps.cursors,
            history=self.deps.history,
            batch_timeout=self.deps.config.replay_batch_timeout,
        )
        stream.start(session, pending, self.deps.sockets.wheel(self.deps.config.heartbeat_interval))


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for ``key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((key + _WS_GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (ValueError, binascii.Error):
        return False


_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True, slots=True, kw_only=True)
class AckDeps(IdentityDeps):
    """The identity routes' dependencies and the acknowledged cursors."""

    cursors: CursorAcks


class AckHandler(IdentityHandler):
    """``POST /api/v2/events/ack`` ``{"cursor", "seq"}`` → 204 (signed-in callers only)."""

    def initialize(self, deps: AckDeps) -> None:  # type: ignore[override]
        """Per-application dependencies."""
        super().initialize(deps)
        self.cursors = deps.cursors

    async def post(self) -> None:
        """Coalesced with the caller's other acks; stored within about a second."""
        body = self.parse_body(CursorAck)
        await self.cursors.ack(self.principal, self.caller.credential, body.cursor, body.seq)
        self.no_content()
