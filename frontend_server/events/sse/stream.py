"""An SSE stream once its head is sent: a :class:`~frontend_server.events.live.LiveSocket` the
hub writes directly (chunk framing included), ended by the hub or by the client leaving."""

from __future__ import annotations

import asyncio
import socket

from tornado.web import RequestHandler

from frontend_server.events.conn import CloseReason, Connection
from frontend_server.events.drain import Drain
from frontend_server.events.hub import EventHub
from frontend_server.events.live import LiveSocket
from frontend_server.events.sse.wire import SharedChunks, encode_retry, frame_chunk
from frontend_server.security.limits import ClientLimits
from ops.http import RequestRecord

LAST_CHUNK = b"0\r\n\r\n"
"""Ends a chunked response: the browser sees a clean end and reconnects with Last-Event-ID."""

_CHUNKS = SharedChunks()
"""The process's chunk framer: an event written to many clients is framed once (one loop)."""


class SseStream(LiveSocket):
    """One live ``text/event-stream`` response (the hub's sink and the connection's owner).

    Args:
        hub: The hub serving ``conn``.
        conn: The stream's hub connection.
        chunked: Whether Tornado chose ``Transfer-Encoding: chunked`` (HTTP/1.1): each write is
            then one chunk; HTTP/1.0 bodies end when the connection closes.
        drain: Counts the open streams for a shutdown's drain, and gives the stream its
            ``retry:`` when the server shuts down (:mod:`frontend_server.events.drain`).
    """

    __slots__ = ("_chunked", "_conn", "_drain", "_hub")

    def __init__(
        self,
        sock: socket.socket,
        record: RequestRecord,
        handler: RequestHandler,
        limits: ClientLimits,
        client_key: str,
        *,
        hub: EventHub,
        conn: Connection,
        chunked: bool,
        drain: Drain | None = None,
    ) -> None:
        self._hub = hub
        self._conn = conn
        self._chunked = chunked
        self._drain = drain
        super().__init__(sock, record, handler, limits, client_key)
        if drain is not None:
            drain.opened()

    def push(self, data: bytes) -> asyncio.Future[None] | None:
        """The hub's direct write: whole frames, as one chunk."""
        if not data:
            return None  # an empty chunk would end the response
        return self.write(_CHUNKS(data) if self._chunked else data)

    def ended(self, reason: CloseReason) -> None:
        """The hub dropped the stream: a slow client (or a gone one) is cut off; any other end
        is clean (the last chunk), so the browser reconnects and resumes."""
        if reason in (CloseReason.SLOW, CloseReason.CLIENT_GONE):
            self.abort()
            return
        last = b""
        if reason is CloseReason.SHUTDOWN and self._drain is not None:
            # Drain: where and when to come back (another replica, after a random delay).
            retry = encode_retry(self._drain.retry_ms())
            last = frame_chunk(retry) if self._chunked else retry
        self.finish(last + (LAST_CHUNK if self._chunked else b""))

    def _closed(self) -> None:
        self._hub.disconnect(self._conn)
        if self._drain is not None:
            self._drain.closed()
