"""Pins what ``ops.tornado_seam`` takes from Tornado below its public API.

Each test drives the installed Tornado with a real server and a raw socket and checks the one
private attribute or literal answer the seam relies on, so a Tornado release that changes it
fails here, by name.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import tornado
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPConnection, HTTPMessageDelegate
from tornado.iostream import IOStream
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from ops.tornado_seam import (
    TORNADO_400,
    detach_socket,
    drop_gzip,
    peer_address,
    request_start,
    response_header,
    rewrite_refusal,
)

BODY = b"event stream text " * 200  # long enough for Tornado's gzip to apply (over 1 KiB)


@asynccontextmanager
async def serving(
    handler: type[RequestHandler], server: type[HTTPServer] = HTTPServer, **settings: Any
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """A real server on an unused port; ``seen`` collects what the handler observed."""
    seen: dict[str, Any] = {}
    app = Application([(r"/", handler, {"seen": seen})], **settings)
    http = server(app)
    sockets = bind_sockets(0, "127.0.0.1")
    http.add_sockets(sockets)
    try:
        yield sockets[0].getsockname()[1], seen
    finally:
        http.stop()
        await asyncio.wait_for(http.close_all_connections(), 5)


async def exchange(
    port: int, request: bytes, until: Callable[[bytes], bool], source: str = "127.0.0.1"
) -> bytes:
    """Send ``request`` in one write and read until ``until(received)`` or the peer closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(request)
        received = b""
        while not until(received):
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            received += chunk
        return received
    finally:
        writer.close()


def _head_done(data: bytes) -> bool:
    return b"\r\n\r\n" in data


class _Seen(RequestHandler):
    def initialize(self, seen: dict[str, Any]) -> None:
        self.seen = seen

    def get(self) -> None:
        self.write(b"ok")


def test_the_seam_was_pinned_on_tornado_6() -> None:
    # A new major release rewrites internals freely: re-run this file and read the seam again.
    assert tornado.version_info[0] == 6, tornado.version


async def test_drop_gzip_takes_the_compressor_out_of_the_transforms() -> None:
    class Compressed(_Seen):
        def get(self) -> None:
            self.write(BODY)

    class Plain(Compressed):
        def prepare(self) -> None:
            drop_gzip(self)

    request = b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    for handler, gzipped in ((Compressed, True), (Plain, False)):
        async with serving(handler, compress_response=True) as (port, _):
            answer = await exchange(port, request, lambda _: False)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert (b"Content-Encoding: gzip" in head) is gzipped, head
        assert (gzip.decompress(body) if gzipped else body) == BODY


async def test_response_header_reads_the_framing_tornado_chose() -> None:
    class Streaming(_Seen):
        async def get(self) -> None:
            self.write(b"retry: 3000\n\n")
            await self.flush()  # no Content-Length: HTTP/1.1 is chunked, HTTP/1.0 is not
            self.seen["framing"] = response_header(self, "Transfer-Encoding")
            self.seen["type"] = response_header(self, "Content-Type")
            self.seen["absent"] = response_header(self, "X-Not-Set")

    async with serving(Streaming) as (port, seen):
        await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", _head_done)
        await asyncio.sleep(0.05)
        assert seen == {"framing": "chunked", "type": "text/html; charset=UTF-8", "absent": None}
        await exchange(port, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", _head_done)
        await asyncio.sleep(0.05)
        assert seen["framing"] is None


async def test_detach_socket_keeps_the_bytes_read_past_the_request() -> None:
    class Detaching(_Seen):
        async def get(self) -> None:
            self.set_status(101)
            await self.flush()
            sock, pending = detach_socket(self)
            self.seen["pending"] = pending
            self.seen["blocking"] = sock.getblocking()
            sock.setblocking(True)
            sock.sendall(b"raw after detach")  # the socket is ours now, not Tornado's
            sock.close()

    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nfirst frame"  # one write: one read by Tornado
    async with serving(Detaching) as (port, seen):
        answer = await exchange(port, request, lambda data: data.endswith(b"raw after detach"))
    assert answer.startswith(b"HTTP/1.1 101 ")
    assert answer.endswith(b"\r\n\r\nraw after detach")
    assert seen == {"pending": b"first frame", "blocking": False}


async def test_request_start_is_when_the_request_arrived() -> None:
    class Timed(_Seen):
        def get(self) -> None:
            self.seen["start"] = request_start(self.request)
            self.write(b"ok")

    async with serving(Timed) as (port, seen):
        before = time.time()
        await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", _head_done)
        after = time.time()
    assert before <= seen["start"] <= after


MALFORMED = b"GET / HTTP/1.1\r\nthis is not a header line\r\n\r\n"


async def test_tornado_refuses_a_malformed_request_with_the_pinned_bytes() -> None:
    async with serving(_Seen) as (port, _):
        answer = await exchange(port, MALFORMED, lambda _: False)
    assert answer == TORNADO_400


async def test_rewrite_refusal_replaces_exactly_that_answer() -> None:
    class Rewriting(HTTPServer):
        def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
            rewrite_refusal(stream, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}")
            super().handle_stream(stream, address)

    async with serving(_Seen, server=Rewriting) as (port, _):
        refused = await exchange(port, MALFORMED, lambda _: False)
        served = await exchange(
            port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", lambda _: False
        )
    assert refused == b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}"
    assert served.startswith(b"HTTP/1.1 200 OK\r\n") and served.endswith(b"ok")


async def test_peer_address_is_the_sockets_peer() -> None:
    peers: list[str | None] = []

    class Recording(HTTPServer):
        def start_request(
            self, server_conn: object, request_conn: HTTPConnection
        ) -> HTTPMessageDelegate:
            peers.append(peer_address(request_conn))
            return super().start_request(server_conn, request_conn)

    request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    async with serving(_Seen, server=Recording) as (port, _):
        # From other loopback addresses than the server's, so the peer is not just "the host".
        await exchange(port, request, _head_done, source="127.0.0.2")
        await exchange(port, request, _head_done, source="127.0.0.3")
    # Tornado starts a request per message it may read, the one after the close included.
    assert list(dict.fromkeys(peers)) == ["127.0.0.2", "127.0.0.3"]
