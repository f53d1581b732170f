"""The queue in front of the WebSocket session (frontend_server/events/ws/socket.py): a real
``WsStream`` on a socket pair, with a session that holds each message until released. Messages
read while one is handled wait their turn, in order; too many waiting close the socket (1008);
a message refused by the rate is answered at once and never queued."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from types import SimpleNamespace
from typing import cast

import pytest
from tornado.web import RequestHandler

from frontend_server.events.ws.codes import CloseCode
from frontend_server.events.ws.frames import Opcode
from frontend_server.events.ws.handler import SocketRegistry
from frontend_server.events.ws.socket import MAX_PENDING_MESSAGES, WsStream
from frontend_server.security.limits import ClientLimits
from ops.http import RequestRecord
from schemas.cursors import WsError
from tests.frontend_server.events.ws.test_socket import frame

pytestmark = pytest.mark.timeout(5)


class QueuedSession:
    """A session whose every ``handle`` waits until the test lets it finish."""

    def __init__(self) -> None:
        self.started: list[bytes] = []
        self.running = 0
        self.most = 0
        self.finished = 0
        self.progress = asyncio.Event()  # set as each message finishes
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.refuse = False
        self.closed = False

    async def handle(self, raw: str | bytes) -> None:
        assert isinstance(raw, bytes)
        self.started.append(raw)
        self.running += 1
        self.most = max(self.most, self.running)
        self.arrived.set()
        await self.release.wait()
        self.running -= 1
        self.finished += 1
        self.progress.set()

    async def until_finished(self, count: int) -> None:
        while self.finished < count:
            self.progress.clear()
            await self.progress.wait()

    def admit(self) -> WsError | None:
        return WsError(code="rate_limited", message="slow down") if self.refuse else None

    def close(self) -> None:
        self.closed = True


class _App:
    def log_request(self, record: object) -> None:
        pass


class _Limits:
    def close_stream(self, key: str) -> None:
        pass


class Peer:
    """The client end of a socket pair served by a real ``WsStream``."""

    def __init__(self) -> None:
        server, self.client = socket.socketpair()
        server.setblocking(False)
        self.client.setblocking(False)
        self.registry = SocketRegistry()
        handler = cast(RequestHandler, SimpleNamespace(application=_App()))
        self.stream = WsStream(
            server,
            record=cast(RequestRecord, object()),
            handler=handler,
            limits=cast(ClientLimits, _Limits()),
            client_key="k",
            registry=self.registry,
            max_message=1024,
        )
        self.session = QueuedSession()
        self.stream.start(self.session, b"", self.registry.wheel(3600.0))

    def send(self, *payloads: bytes) -> None:
        self.client.sendall(b"".join(frame(Opcode.TEXT, p) for p in payloads))

    async def frames(self) -> list[tuple[int, bytes]]:
        data = await asyncio.get_running_loop().sock_recv(self.client, 65536)
        out = []
        while data:
            size, at = data[1] & 0x7F, 2
            if size == 126:
                size, at = struct.unpack_from("!H", data, 2)[0], 4
            out.append((data[0] & 0x0F, data[at : at + size]))
            data = data[at + size :]
        return out

    async def close(self) -> None:
        """Close both ends; a message still being handled is let finish (a handler task left
        pending would be destroyed with the loop)."""
        self.stream.abort()
        self.client.close()
        self.session.release.set()
        async with asyncio.timeout(2):
            await self.session.until_finished(len(self.session.started))


async def test_messages_read_while_one_is_handled_wait_their_turn_in_order() -> None:
    """A change runs to its end before the next message is handled (one at a time); the
    socket goes on reading meanwhile (socket.py's docstring)."""
    peer = Peer()
    try:
        peer.send(b"1", b"2", b"3")
        async with asyncio.timeout(2):
            await peer.session.arrived.wait()
        # One read took the three frames: the first is handled, the others wait their turn.
        assert peer.registry.stats.messages_in == 3 and peer.session.started == [b"1"]
        peer.session.release.set()
        async with asyncio.timeout(2):
            await peer.session.until_finished(3)
        assert peer.session.started == [b"1", b"2", b"3"] and peer.session.most == 1
    finally:
        await peer.close()
    assert peer.session.closed


async def test_a_client_queueing_too_many_messages_is_closed_1008() -> None:
    peer = Peer()
    try:
        peer.send(*(b"m" for _ in range(MAX_PENDING_MESSAGES + 2)))
        async with asyncio.timeout(2):
            [(opcode, payload)] = await peer.frames()
        assert opcode == Opcode.CLOSE
        assert struct.unpack_from("!H", payload)[0] == CloseCode.POLICY
        assert peer.session.started == [b"m"]  # the rest was never handed over
    finally:
        await peer.close()


async def test_a_refused_message_is_answered_at_once_and_never_queued() -> None:
    """§9 quotas: over the rate, each message is answered with rate_limited."""
    peer = Peer()
    try:
        peer.session.refuse = True
        peer.send(b"x")
        async with asyncio.timeout(2):
            [(opcode, payload)] = await peer.frames()
        assert opcode == Opcode.TEXT
        refusal = {"op": "error", "code": "rate_limited", "message": "slow down"}
        assert json.loads(payload) == refusal
        assert peer.session.started == [] and peer.registry.stats.errors_out == 1
    finally:
        await peer.close()
