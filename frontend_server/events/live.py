"""A live event stream detached from Tornado: the socket, its pending output and its end.

Tornado serves an event stream's request like any other: routing, authentication, the response
head (status, CORS and security headers). Then the handler *detaches* the connection
(``RequestHandler.detach``): the handler, the request and its headers, the HTTP/1 connection
and their coroutines are freed, and what is left of the stream for the rest of its life is one
:class:`LiveSocket` (a few slots) holding the socket, plus the hub's
:class:`~frontend_server.events.conn.Connection` (filters, queue). An idle stream thus costs its
socket, these two objects and one reader registration on the event loop — about 2 KiB instead of
the ~13 KiB of Tornado's request machinery it kept before.

Writing is the hub's direct path: :meth:`LiveSocket.push` sends at once what the socket takes
and keeps the rest, registering for writability only then. Nothing is awaited on the hot path:
no future unless a write is incomplete, no task, no coroutine. The access log line and the HTTP
metrics of the request are written once, when the stream closes
(:class:`~ops.http.RequestRecord`, with the stream's lifetime as duration), and the per-client
stream count is released then.

Subclasses say what reading means (:meth:`_received`: SSE ignores what a client sends;
WebSocket parses frames) and what closing means for the hub (:meth:`_closed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from enum import Enum

from tornado.web import RequestHandler

from frontend_server.security.limits import ClientLimits
from ops.http import RequestRecord

log = logging.getLogger(__name__)

READ_BYTES = 4096
"""Bytes read per readiness event (an SSE client sends nothing; WebSocket messages are small)."""
LINGER_SECONDS = 5.0
"""How long a closing stream waits for its last bytes (or the peer's close) before it aborts."""


class SocketState(Enum):
    """Where a detached socket is in its life."""

    OPEN = "open"
    CLOSING = "closing"
    """Its last bytes are going out (or, for WebSocket, the peer's close frame is awaited)."""
    CLOSED = "closed"


class LiveSocket:
    """A detached connection: direct writes, a reader, one close (see the module docstring).

    Args:
        sock: The connection's socket (non-blocking), taken with
            :func:`~ops.tornado_seam.detach_socket`.
        record: The request, for the access log at close.
        handler: The handler it came from (only its application is kept, to log).
        limits: Released at close: one stream of ``client_key`` less.
        client_key: Whose stream it is (user id, else address).
    """

    __slots__ = (
        "_app",
        "_drained",
        "_fd",
        "_key",
        "_limits",
        "_linger",
        "_out",
        "_record",
        "_sock",
        "state",
    )

    def __init__(
        self,
        sock: socket.socket,
        *,
        record: RequestRecord,
        handler: RequestHandler,
        limits: ClientLimits,
        client_key: str,
    ) -> None:
        self._sock = sock
        self._fd = sock.fileno()
        self._record = record
        self._app = handler.application
        self._limits = limits
        self._key = client_key
        self._out: bytes | None = None  # what the socket has not taken yet
        self._drained: asyncio.Future[None] | None = None  # for writers waiting on _out
        self._linger: asyncio.TimerHandle | None = None
        self.state = SocketState.OPEN
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)

    # -- writing -----------------------------------------------------------------------------

    def write(self, data: bytes) -> asyncio.Future[None] | None:
        """Send ``data`` after anything still pending; ``None`` if the socket took all of it,
        else a future that completes once it has, or once the connection is lost (see
        :meth:`abort`: whoever waits checks :attr:`state`)."""
        if self.state is SocketState.CLOSED:
            return _done()
        if self._out is not None:
            self._out += data
            return self._waiter()
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.abort()
            return _done()
        if sent == len(data):
            return None
        self._out = data[sent:]
        asyncio.get_running_loop().add_writer(self._fd, self._on_writable)
        return self._waiter()

    def push(self, data: bytes) -> asyncio.Future[None] | None:
        """The hub's direct write (:class:`~frontend_server.events.conn.Sink`): ``data``
        framed for the transport (subclasses), then :meth:`write`."""
        return self.write(data)

    async def send(self, data: bytes) -> bool:
        """:meth:`push` and wait until the socket took it (paces history); ``False`` if the
        connection is lost (not an exception: see :meth:`abort`)."""
        pending = self.push(data)
        if pending is not None:
            await pending
        return self.state is not SocketState.CLOSED

    def _waiter(self) -> asyncio.Future[None]:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()
        return self._drained

    def _on_writable(self) -> None:
        out = self._out
        if out is None:
            return
        try:
            sent = self._sock.send(out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.abort()
            return
        if sent < len(out):
            self._out = out[sent:]
            return
        self._out = None
        asyncio.get_running_loop().remove_writer(self._fd)
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)
        if self.state is SocketState.CLOSING and not self._awaits_peer():
            self.abort()

    # -- reading -----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = self._sock.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.abort()  # the peer closed (or reset) the connection
            return
        self._received(data)

    def _received(self, data: bytes) -> None:
        """Bytes from the client (an SSE client sends none that matter: ignored)."""

    def _awaits_peer(self) -> bool:
        """Whether a closing socket waits for the peer once its output is out (WebSocket's
        close handshake); SSE closes as soon as its last bytes left."""
        return False

    # -- closing -----------------------------------------------------------------------------

    def finish(self, last: bytes = b"") -> None:
        """Close gracefully: send ``last`` after what is pending, then close (or abort after
        :data:`LINGER_SECONDS` if the client does not take it)."""
        if self.state is not SocketState.OPEN:
            return
        self.state = SocketState.CLOSING
        if last:
            self.write(last)
        if self._out is None and not self._awaits_peer():
            self.abort()
            return
        self._linger = asyncio.get_running_loop().call_later(LINGER_SECONDS, self.abort)

    def abort(self) -> None:
        """Close now (idempotent): unregister, close the socket, tell the hub, log, release."""
        if self.state is SocketState.CLOSED:
            return
        self.state = SocketState.CLOSED
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._fd)
        if self._out is not None:
            loop.remove_writer(self._fd)
            self._out = None
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        with contextlib.suppress(OSError):
            self._sock.close()
        # Writers waiting for the drain are woken with a result, not an exception: an
        # exception kept by a future and raised into the frames awaiting it (through
        # ``asyncio.wait_for``'s own frame, which holds the future) makes a reference cycle
        # that keeps the whole connection for the cyclic collector. They check ``state``.
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)
        try:
            self._closed()
        finally:
            self._limits.close_stream(self._key)
            # The application's log function reads of a handler what the record answers.
            self._app.log_request(self._record)  # type: ignore[arg-type]

    def _closed(self) -> None:
        """The socket is closed: let go of the hub (subclasses)."""


def _done() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done
