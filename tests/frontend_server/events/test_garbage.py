"""Streams and requests leave no cyclic garbage (ops/collector.py, ops/tornado_seam.py).

Reference counting frees what a connection used when it ends; only objects in reference
cycles wait for the cyclic collector, whose passes stall the event loop (a wave of 1,000
connects left ~48 objects each behind, and the full pass that found them took 60-90 ms: the
p99 of the 40k deliveries/s round). A real frontend serves SSE streams, WebSockets, REST
requests and requests Tornado refuses itself, with the collector off; afterwards it must find
nothing. The clients are raw sockets, so that garbage found is the server's.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import socket
import struct
import traceback
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from mesh import EventPublisher, MeshConnection
from ops.collector import frozen_startup_heap
from ops.server import RunningServer
from schemas import new_video_id
from tests.frontend_server.ws_client import hub_of
from tests.support import Http, Member, eventually, known_to_edge, publish_status

ROUNDS = 5


async def _exchange(port: int, request: bytes, until: bytes, rcvbuf: int = 0) -> socket.socket:
    """Connect, send ``request``, read until ``until`` arrived; the open socket (``rcvbuf``:
    its receive buffer, bytes)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, request)
    got = b""
    while until not in got:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
        assert chunk, f"closed before {until!r}: {got[:200]!r}"
        got += chunk
    return sock


def _get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


async def _sse(port: int, token: str, video: str = "", after: int = 0) -> socket.socket:
    """An SSE stream of ``video`` (a new one by default), resuming ``after`` that id if given."""
    path = f"/api/v2/events/stream?video_id={video or new_video_id()}"
    headers = [f"Authorization: Bearer {token}", *([f"Last-Event-ID: {after}"] if after else [])]
    return await _exchange(port, _get(path, *headers), b"\r\n\r\n", 4096 if after else 0)


async def _ws(port: int, token: str, video: str = "", after: int = 0) -> socket.socket:
    """A WebSocket subscribed to ``video`` (a new one by default), since ``after`` if given."""
    key = base64.b64encode(os.urandom(16)).decode()
    head = _get(
        "/api/v2/events/ws",
        f"Authorization: Bearer {token}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    )
    sock = await _exchange(port, head, b"\r\n\r\n", 4096 if after else 0)
    subscribe = {"op": "subscribe", "videos": [video or new_video_id()]}
    message = json.dumps({**subscribe, **({"since": after} if after else {})}).encode()
    frame = bytes((0x81, 0x80 | len(message))) + b"\0\0\0\0" + message  # zero mask
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, frame)
    got = b""
    while b"subscribed" not in got:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
        assert chunk, "closed before subscribed"
        got += chunk
    return sock


async def _rest(port: int, token: str) -> socket.socket:
    request = _get("/api/v2/videos", f"Authorization: Bearer {token}", "Connection: close")
    return await _exchange(port, request, b"\r\n\r\n")


async def _refused(port: int, token: str) -> socket.socket:
    return await _exchange(port, b"NOT HTTP AT ALL\r\n\r\n", b"\r\n\r\n")  # Tornado's own 400


Opener = Callable[[int, str], Coroutine[Any, Any, socket.socket]]


def _reset_during_history(
    opener: Callable[[int, str, str, int], Coroutine[Any, Any, socket.socket]],
    mesh: MeshConnection,
) -> Opener:
    """An opener whose client resumes a video with ~4 MiB of history, reads nothing of it and
    resets the connection (``SO_LINGER`` 0) while the server is still writing it."""

    async def open_and_stall(port: int, token: str) -> socket.socket:
        video, publisher = new_video_id(), EventPublisher(mesh)
        first = await publish_status(publisher, video, 0, message="x" * 40_000)
        for n in range(1, 100):
            await publish_status(publisher, video, n, message="x" * 40_000)
        sock = await opener(port, token, video, first - 1)
        await asyncio.sleep(0.3)  # the server fills the socket's buffers, then waits
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return sock

    return open_and_stall


@asynccontextmanager
async def _collector_off() -> AsyncIterator[None]:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a pass finds is kept in gc.garbage, to name it
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def _served_then_closed(edge: RunningServer, admin: Member, opener: Opener) -> None:
    socks = [await opener(edge.port, admin.token) for _ in range(ROUNDS)]
    for sock in socks:
        sock.close()
    hub = hub_of(edge)
    await eventually(lambda: hub.stats().connected_clients == 0)
    await asyncio.sleep(0.2)  # the server has seen every close


async def _garbage_of(edge: RunningServer, admin: Member, opener: Opener) -> Counter[str]:
    http = Http(edge.url)
    try:  # the edge's directory learns a new token by a KV watch: asynchronously
        await known_to_edge(http, admin)
    finally:
        http.close()
    await _served_then_closed(edge, admin, opener)  # first uses fill caches: not counted
    gc.collect()
    gc.garbage.clear()
    await _served_then_closed(edge, admin, opener)
    gc.collect()
    found = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    for o in gc.garbage:  # shown when the test fails: what a cycle held
        if isinstance(o, BaseException):
            print("garbage exception:", repr(o), traceback.format_tb(o.__traceback__))
    print("garbage:", sorted(found.items()))
    return found


async def test_sse_streams_leave_no_cyclic_garbage(edge: RunningServer, admin: Member) -> None:
    async with _collector_off():
        assert await _garbage_of(edge, admin, _sse) == Counter()


async def test_websockets_leave_no_cyclic_garbage(edge: RunningServer, admin: Member) -> None:
    async with _collector_off():
        assert await _garbage_of(edge, admin, _ws) == Counter()


async def test_streams_reset_during_their_history_leave_no_cyclic_garbage(
    edge: RunningServer, admin: Member, mesh: MeshConnection
) -> None:
    async with _collector_off():
        assert await _garbage_of(edge, admin, _reset_during_history(_sse, mesh)) == Counter()
        assert await _garbage_of(edge, admin, _reset_during_history(_ws, mesh)) == Counter()


async def test_requests_leave_no_cyclic_garbage(edge: RunningServer, admin: Member) -> None:
    async with _collector_off():
        assert await _garbage_of(edge, admin, _rest) == Counter()
        assert await _garbage_of(edge, admin, _refused) == Counter()


class _Node:
    """An object that can be in a cycle and be weakly referenced."""

    me: _Node


def _cycle() -> weakref.ref[_Node]:
    node = _Node()
    node.me = node
    return weakref.ref(node)  # unreachable once returned: only the collector frees it


def test_start_up_heap_is_frozen_and_its_garbage_freed_first() -> None:
    before = _cycle()
    with frozen_startup_heap() as frozen:
        assert frozen > 1000 and gc.get_freeze_count() > 1000
        assert before() is None  # collected first, not frozen for good
        later = _cycle()
        gc.collect()
        assert later() is None  # what is made later is collected as before
    assert gc.get_freeze_count() == 0
