"""Everything the edge takes from Tornado below its public API, in one place.

Tornado gives no public way to do six things the edge needs, so each is done here, by one
small function, and nowhere else:

- :func:`drop_gzip`: an event stream must not be compressed (a compressor buffers), even where
  the application compresses responses; Tornado keeps a handler's output transforms in the
  private ``RequestHandler._transforms``.
- :func:`response_header`: whether Tornado chose chunked framing for a response is known only
  from the headers it wrote (``RequestHandler._headers``, which ``HTTP1Connection.write_headers``
  completes).
- :func:`detach_socket`: a detached stream keeps the bytes Tornado already read past the request
  (a WebSocket client may send its first frame at once); they are in the private
  ``IOStream._read_buffer``.
- :func:`request_start`: a stream logged at its close (:class:`~ops.http.RequestRecord`) needs
  the time its request arrived (``HTTPServerRequest._start_time``).
- :func:`rewrite_refusal`: Tornado answers a request it cannot parse itself, before any handler,
  with the literal bytes :data:`TORNADO_400`; they are recognised on the way out and replaced.
- :func:`peer_address`: the socket's peer, known to the HTTP/1 connection's ``context``
  (not part of ``HTTPConnection``'s interface).

``tests/ops/test_tornado_seam.py`` pins each of these against the installed Tornado with real
servers and sockets, so a release that changes one fails there, naming it, instead of silently
compressing a stream, losing a WebSocket's first frame or answering a bare 400.
"""

from __future__ import annotations

import socket
import weakref
from asyncio import Future
from typing import Any

from tornado.httputil import HTTPConnection, HTTPServerRequest
from tornado.iostream import IOStream
from tornado.web import GZipContentEncoding, RequestHandler

TORNADO_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"
"""What Tornado writes when it cannot read a request (malformed, or a body over its limit)."""


def drop_gzip(handler: RequestHandler) -> None:
    """Take gzip out of ``handler``'s output transforms (call from ``prepare``)."""
    handler._transforms = [t for t in handler._transforms if not isinstance(t, GZipContentEncoding)]


def response_header(handler: RequestHandler, name: str) -> str | None:
    """The value of header ``name`` as Tornado sent it (after the first flush), else ``None``."""
    value = handler._headers.get(name)
    return None if value is None else str(value)


def detach_socket(handler: RequestHandler) -> tuple[socket.socket, bytes]:
    """Detach ``handler``'s connection from Tornado: the raw socket, and any bytes Tornado
    already read past the request.

    Raises:
        ConnectionError: the connection is not a plain TCP stream, or is closed already.
    """
    stream = handler.detach()
    # ``finish`` breaks the cycle between a handler and its ``ui`` namespace; a detached
    # handler never finishes, and the cycle would keep the handler, its request, the HTTP/1
    # connection and the IOStream (~33 objects) for the cyclic collector, whose full passes
    # then stall the loop for tens of ms after a wave of connects (measured: 60-90 ms for
    # 1,000 streams, the p99 of the 40k-deliveries/s round).
    handler.ui = None  # type: ignore[assignment]
    if type(stream) is not IOStream or stream.closed() or stream.socket is None:
        stream.close()
        raise ConnectionError("the event stream's connection closed (or is not plain TCP)")
    sock = stream.socket
    stream.io_loop.remove_handler(sock)  # Tornado stops watching it; the IOStream is dropped
    pending = bytes(stream._read_buffer[: stream._read_buffer_size])
    return sock, pending


def request_start(request: HTTPServerRequest) -> float:
    """When ``request`` arrived (``time.time()`` scale)."""
    start: float = request._start_time
    return start


def rewrite_refusal(stream: IOStream, replacement: bytes) -> None:
    """Have ``stream`` send ``replacement`` wherever Tornado would write :data:`TORNADO_400`.

    The override reaches its stream by a weak reference: a strong one (the bound ``write``) would
    make a reference cycle of every connection, freed only by the cyclic collector's passes
    (which stall the loop) instead of when the connection ends.
    """
    write, stream_ref = type(stream).write, weakref.ref(stream)

    def rewritten(data: bytes | memoryview, *args: Any, **kwargs: Any) -> Future[None]:
        data = replacement if bytes(data) == TORNADO_400 else data
        return write(stream_ref(), data, *args, **kwargs)  # type: ignore[arg-type]

    stream.write = rewritten  # type: ignore[method-assign]


def peer_address(connection: HTTPConnection) -> str | None:
    """The IP address of the connection's peer (``None`` on a Unix socket)."""
    address = getattr(getattr(connection, "context", None), "address", None)
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        return address[0]
    return None
