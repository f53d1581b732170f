"""``GET /api/v2/events/ws`` (the WebSocket transport) and ``POST /api/v2/events/ack``.

Before the upgrade, in this order (each refusal is a JSON error and no upgrade):

1. ``Origin``: a browser's upgrade must come from an allowed origin (``FRONTEND_URL``,
   ``CORS_ORIGINS``) or from this very site (same host): cross-site WebSocket hijacking gets a
   403 ``origin_denied``. Programs send no ``Origin`` and are not concerned.
2. The caller: a bearer token or the session cookie, as on every route (a token in the query
   string: 400). An anonymous caller gets 401: a socket is a signed-in client's (it may
   acknowledge cursors); anonymous readers of public channels use SSE.
3. The per-client cap on open event streams (SSE and WebSocket together): 429.

After it, :class:`~frontend_server.events.ws.session.EventSocket` serves the messages of
docs/contracts.md §10.
Keep-alive is WebSocket ping frames every ``SSE_HEARTBEAT_INTERVAL`` seconds; a message over
:data:`MAX_MESSAGE_BYTES` closes the socket (1009). On
shutdown every socket is closed with 1001 "going away" (:class:`SocketRegistry`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from culto.errors import Unauthenticated
from culto.origins import normalize_origin
from frontend_server.api.identity import IdentityHandler
from frontend_server.config import HubConfig
from frontend_server.events.access import HubAccess
from frontend_server.events.cursors import CursorAcks
from frontend_server.events.drain import Drain
from frontend_server.events.hub import EventHub
from frontend_server.events.sse.handler import video_channels
from frontend_server.events.ws.codes import CloseCode
from frontend_server.events.ws.history import SocketHistory
from frontend_server.events.ws.session import EventSocket
from frontend_server.events.ws.wire import WS_SEPARATOR, encode_message
from frontend_server.security.browser import XsrfMixin
from frontend_server.security.limits import WS_BURST, ClientLimits
from mesh.catalog_client import VideoApiClient
from mesh.identity_client import IdentityClient
from ops.http import ApiError, BaseHandler
from schemas.cursors import CursorAck, WsError

log = logging.getLogger(__name__)

MAX_PENDING_MESSAGES = WS_BURST + 56
"""Client messages queued while one is handled (above the message rate's burst, so a client
within the rate never reaches it); a client queueing more closes (1008)."""
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
    """The application's open sockets, to close them all on shutdown (an upgraded connection
    is no longer the HTTP server's to close)."""

    def __init__(self) -> None:
        self.sockets: set[EventSocketHandler] = set()
        self.stats = WsStats()
        self._ending: set[asyncio.Task[None]] = set()
        self.empty = asyncio.Event()
        """Set while no socket is open (a drain waits for it)."""
        self.empty.set()

    def add(self, handler: EventSocketHandler) -> None:
        """A socket opened."""
        self.sockets.add(handler)
        self.empty.clear()
        self.stats.open += 1
        self.stats.opened += 1

    def remove(self, handler: EventSocketHandler) -> None:
        """A socket closed."""
        if handler in self.sockets:
            self.sockets.discard(handler)
            self.stats.open -= 1
        if not self.sockets:
            self.empty.set()

    def end(self, session: EventSocket) -> None:
        """Stop a closed socket's session in the background (kept referenced until done)."""
        task = asyncio.ensure_future(session.close())
        self._ending.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._ending.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("stopping a closed WebSocket's stream failed: %r", exc)

    def close_all(self) -> None:
        """Close every socket with 1001 and the position it resumes from, ``going away;
        since=N`` (on another replica; plain ``going away`` when it has none yet)."""
        for handler in list(self.sockets):
            session = handler.session
            position = session.position if session is not None else None
            reason = "going away" if position is None else f"going away; since={position}"
            handler.close(CloseCode.GOING_AWAY, reason)


class EventSocketHandler(XsrfMixin, BaseHandler, WebSocketHandler):
    """``GET /api/v2/events/ws``."""

    def initialize(
        self,
        hub: EventHub,
        config: HubConfig,
        limits: ClientLimits,
        api: VideoApiClient,
        cursors: CursorAcks,
        sockets: SocketRegistry,
        allowed_origins: frozenset[str],
        history: SocketHistory,
        drain: Drain | None = None,
    ) -> None:
        """Tornado passes the route's dependencies here."""
        self.hub = hub
        self.hub_config = config
        self.limits = limits
        self.api = api
        self.cursors = cursors
        self.sockets = sockets
        self.allowed_origins = allowed_origins
        self.history = history
        self.session: EventSocket | None = None
        self._client = ""
        self._inbox: deque[str | bytes] = deque()
        self._worker: asyncio.Task[None] | None = None

    @property
    def ping_interval(self) -> float | None:
        """Seconds between WebSocket pings (keep-alive through proxies, dead peers found)."""
        return self.hub_config.heartbeat_interval

    @property
    def max_message_size(self) -> int:
        """Largest client message; a larger one closes the socket (1009)."""
        return MAX_MESSAGE_BYTES

    def check_origin(self, origin: str) -> bool:
        """An allowed origin, or this site itself (the page served by this edge)."""
        normal = normalize_origin(origin)
        if normal is not None and normal in self.allowed_origins:
            return True
        _, _, rest = origin.partition("://")
        return bool(rest) and rest.lower() == self.request.host.lower()

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Check origin, caller and stream cap, then upgrade."""
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
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            # Tornado's own answer would be a text/html 400; ours is the JSON error shape.
            raise ApiError(
                400,
                "websocket_upgrade_required",
                "this endpoint speaks WebSocket only: open it with new WebSocket(url)"
                " (or use GET /api/v2/events/stream for Server-Sent Events)",
                headers={"Upgrade": "websocket"},
            )
        self._client = principal.user_id
        if not self.limits.open_stream(self._client):
            cap = self.limits.config.streams_per_client
            raise ApiError(
                429,
                "too_many_streams",
                f"this client already holds {cap} open event streams",
                headers={"Retry-After": "5"},
            )
        self.session = EventSocket(
            hub=self.hub,
            access=HubAccess(self.authenticator),
            principal=principal,
            credential=self.caller.credential,
            client_key=self._client,
            outbox=self,
            lookup=lambda videos: video_channels(self.api, videos),
            cursors=self.cursors,
            history=self.history,
            batch_timeout=self.hub_config.replay_batch_timeout,
        )
        try:
            await super().get(*args, **kwargs)
        finally:
            if self.ws_connection is None and self.session is not None:
                self._release()  # no upgrade happened (400/426): the stream never opened

    def open(self, *args: str, **kwargs: str) -> None:
        """The upgrade succeeded."""
        self.sockets.add(self)

    def on_message(self, message: str | bytes) -> None:
        """One client message, queued for the socket's worker: Tornado goes on reading frames
        (pongs, a close) while a subscribe waits on NATS, so a slow NATS never makes the ping
        check close a healthy socket. Messages are handled one at a time, in order."""
        self.sockets.stats.messages_in += 1
        if self.session is None:
            return
        refusal = self.session.admit()  # the message rate, counted as messages arrive
        if refusal is not None:
            if self.ws_connection is not None and not self.ws_connection.is_closing():
                self.write_message(encode_message(refusal))
                self.sockets.stats.messages_out += 1
                self.sockets.stats.errors_out += 1
            return
        if len(self._inbox) >= MAX_PENDING_MESSAGES:
            self.close(CloseCode.POLICY, f"more than {MAX_PENDING_MESSAGES} messages pending")
            return
        self._inbox.append(message)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while self._inbox and self.session is not None:
            session, message = self.session, self._inbox.popleft()
            try:
                await session.handle(message)
            except WebSocketClosedError:
                return  # the client left mid-answer: on_close cleans up

    def on_close(self) -> None:
        """The socket closed (either side): stop following and release the stream slot."""
        self.sockets.remove(self)
        self._inbox.clear()
        if self._worker is not None:
            self._worker.cancel()  # a change waiting on NATS: the session's close cleans up
        session, self.session = self.session, None
        if session is not None:
            self._release()
            self.sockets.end(session)

    def _release(self) -> None:
        if self._client:
            self.limits.close_stream(self._client)
            self._client = ""

    # -- the session's outbox ------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Events (newline-ended, see ``ws_wire``): one text message each, then wait until
        the socket took them (this paces the hub's writer)."""
        pending: Awaitable[None] | None = None
        for part in data.split(WS_SEPARATOR):
            if part:
                pending = self.write_message(part)
                self.sockets.stats.messages_out += 1
        if pending is not None:
            await pending

    async def send_message(self, message: BaseModel) -> None:
        """A control message; a socket that closed meanwhile is not an error."""
        try:
            await self.write_message(encode_message(message))
        except WebSocketClosedError:
            return
        self.sockets.stats.messages_out += 1
        if isinstance(message, WsError):
            self.sockets.stats.errors_out += 1


class AckHandler(IdentityHandler):
    """``POST /api/v2/events/ack`` ``{"cursor", "seq"}`` → 204 (signed-in callers only)."""

    def initialize(  # type: ignore[override]
        self, identity: IdentityClient, limits: ClientLimits, cursors: CursorAcks
    ) -> None:
        """Per-application dependencies."""
        super().initialize(identity, limits)
        self.cursors = cursors

    async def post(self) -> None:
        """Coalesced with the caller's other acks; stored within about a second."""
        body = self.parse_body(CursorAck)
        await self.cursors.ack(self.principal, self.caller.credential, body.cursor, body.seq)
        self.no_content()
