"""One WebSocket after the upgrade: a :class:`~frontend_server.events.live.LiveSocket` that reads
client frames (:class:`~frontend_server.events.ws.frames.FrameReader`) and writes server frames.

Events reach it on the hub's direct path as frames built once per event (no per-message
coroutine or future: a batch of queued frames is one ``send``). Client messages are handed to
the socket's :class:`~frontend_server.events.ws.session.EventSocket` one at a time: while one is
being handled, the socket is not read (as Tornado awaited ``on_message``), so a client cannot
queue unbounded work. Pings come from one shared timer (:class:`SocketRegistry`'s heartbeat
wheel); a socket that answered nothing since the previous ping is cut off (a half-open
connection), as Tornado's ``ping_timeout`` equal to the interval did.

Closing follows RFC 6455 §7: the side that closes sends a close frame and waits (at most
``LINGER_SECONDS``) for the other's; a client's close is answered with the same code, then the
connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel
from tornado.web import RequestHandler

from frontend_server.events.beats import NOWHERE, HeartbeatWheel
from frontend_server.events.live import LiveSocket, SocketState
from frontend_server.events.ws.codes import CloseCode
from frontend_server.events.ws.frames import (
    FrameReader,
    Opcode,
    ProtocolError,
    close_code,
    close_frame,
    server_frame,
)
from frontend_server.events.ws.wire import encode_message
from frontend_server.security.limits import WS_BURST, ClientLimits
from ops.http import RequestRecord
from schemas.cursors import WsError

if TYPE_CHECKING:
    from frontend_server.events.ws.handler import SocketRegistry

log = logging.getLogger(__name__)

PING = server_frame(Opcode.PING)
MAX_PENDING_MESSAGES = WS_BURST + 56
"""Client messages waiting while one is handled (above the message rate's burst, so a client
within the rate never reaches it); a client queueing more is closed (1008)."""


class Session(Protocol):
    """What the socket drives (:class:`~frontend_server.events.ws.session.EventSocket`)."""

    def handle(self, raw: str | bytes) -> Coroutine[Any, Any, None]:
        """Act on one client message."""

    def admit(self) -> WsError | None:
        """As a message arrives: ``None`` if it may wait its turn, else the refusal to send."""

    def close(self) -> None:
        """The socket closed: stop following."""


class WsStream(LiveSocket):
    """One open WebSocket (the session's outbox and the hub's direct sink).

    Args:
        registry: The application's open sockets (pings, shutdown, figures).
        max_message: Largest client message (1009 above it).
    """

    __slots__ = ("_busy", "_inbox", "_reader", "_registry", "_silent", "beat_slot", "session")

    def __init__(
        self,
        sock: socket.socket,
        *,
        record: RequestRecord,
        handler: RequestHandler,
        limits: ClientLimits,
        client_key: str,
        registry: SocketRegistry,
        max_message: int,
    ) -> None:
        self._registry = registry
        self._reader = FrameReader(max_message)
        self._busy: asyncio.Task[None] | None = None  # the message being handled
        self._inbox: deque[bytes] = deque()  # messages waiting their turn
        self._silent = False  # pinged, and nothing received since
        self.beat_slot = NOWHERE
        self.session: Session | None = None
        super().__init__(sock, record=record, handler=handler, limits=limits, client_key=client_key)

    def start(self, session: Session, pending: bytes, wheel: HeartbeatWheel[WsStream]) -> None:
        """Serve ``session``; ``pending``: client bytes read before the upgrade completed."""
        self.session = session
        wheel.add(self)
        if pending:
            self._received(pending)

    # -- the session's outbox ------------------------------------------------------------

    async def send_message(self, message: BaseModel) -> None:
        """A control message; a socket that closed meanwhile is not an error."""
        if self.state is not SocketState.OPEN:
            return
        self.write(encode_message(message))
        stats = self._registry.stats
        stats.messages_out += 1
        if isinstance(message, WsError):
            stats.errors_out += 1

    async def send(self, data: bytes) -> bool:
        """Frames (history): written, then awaited until the socket took them; ``False`` if
        the connection is lost (the session then ends: its connection is dropped)."""
        self._registry.stats.messages_out += data.count(b'{"op":"event"')
        return await super().send(data)

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake with ``code``."""
        self.finish(close_frame(code, reason))

    # -- keep-alive ----------------------------------------------------------------------

    def ping(self) -> None:
        """One beat of the registry's wheel: ping, or cut off a peer silent since the last."""
        if self.state is not SocketState.OPEN:
            return
        if self._silent:
            log.info("closing a WebSocket that did not answer a ping")
            self.abort()
            return
        self._silent = True
        if self._out is None:  # a socket still taking earlier bytes needs no ping to be busy
            self.write(PING)

    # -- reading -------------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        self._silent = False
        self._reader.feed(data)
        self._parse()

    def _parse(self) -> None:
        # Frames are read while a message is handled (a subscribe may wait on NATS): pongs,
        # pings and a close are answered at once, messages wait their turn in order.
        while self.state is not SocketState.CLOSED:
            try:
                frame = self._reader.next()
            except ProtocolError as exc:
                self._refuse(exc)
                return
            if frame is None:
                return
            self._frame(*frame)

    def _frame(self, opcode: Opcode, payload: bytes) -> None:
        if opcode is Opcode.PING:
            if self.state is SocketState.OPEN:
                self.write(server_frame(Opcode.PONG, payload))
        elif opcode is Opcode.CLOSE:
            if self.state is SocketState.OPEN:  # the client closes: answer with its code
                self.state = SocketState.CLOSING
                self.write(close_frame(close_code(payload)))
            self.abort()
        elif opcode is not Opcode.PONG and self.state is SocketState.OPEN:
            self._dispatch(payload)

    def _dispatch(self, payload: bytes) -> None:
        session = self.session
        if session is None:
            return
        stats = self._registry.stats
        stats.messages_in += 1
        refusal = session.admit()  # the message rate, counted as messages arrive
        if refusal is not None:
            if self.state is SocketState.OPEN:
                self.write(encode_message(refusal))
                stats.messages_out += 1
                stats.errors_out += 1
            return
        if len(self._inbox) >= MAX_PENDING_MESSAGES:
            self.close(CloseCode.POLICY, f"more than {MAX_PENDING_MESSAGES} messages pending")
            return
        self._inbox.append(payload)
        if self._busy is None:
            self._next(session)

    def _next(self, session: Session) -> None:
        """Handle the oldest waiting message (one at a time: a change runs to its end)."""
        self._busy = asyncio.get_running_loop().create_task(session.handle(self._inbox.popleft()))
        self._busy.add_done_callback(self._handled)

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._busy = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            if not isinstance(exc, ConnectionError):
                log.error("WebSocket message handling failed", exc_info=exc)
            self.abort()
            return
        if self.state is SocketState.CLOSED or self.session is None:
            self._inbox.clear()
            return
        if self._inbox:
            self._next(self.session)

    def _refuse(self, exc: ProtocolError) -> None:
        log.info("closing a WebSocket that broke the protocol: %s", exc)
        if self.state is SocketState.OPEN:
            self.close(exc.code, exc.reason)
        else:
            self.abort()

    def _awaits_peer(self) -> bool:
        return True  # a closing WebSocket waits for the client's close frame (or EOF)

    def _closed(self) -> None:
        # A message being handled runs to its end (an ack in flight is kept, as Tornado let
        # on_message finish); the session is closed, so it sends nothing more.
        self._registry.closed(self)
        self._inbox.clear()
        session, self.session = self.session, None
        if session is not None:
            session.close()
