"""A small WebSocket test client on Tornado's ``websocket_connect``, speaking docs/contracts.md
§10."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.routing import URLSpec
from tornado.websocket import WebSocketClientConnection, websocket_connect

from frontend_server.events.hub import EventHub
from frontend_server.events.ws.handler import SocketDeps
from ops.server import RunningServer

WS_PATH = "/api/v2/events/ws"
OPENED: list[WsClient] = []
"""Every client opened, closed by :func:`close_all` after each test (a client the server
closed still holds its protocol object until closed here)."""


@dataclass
class WsClient:
    """An open socket and everything it received so far.

    Attributes:
        events: ``(seq, video_id)`` of every ``event`` message, in arrival order.
        control: Every other message (``subscribed``, ``error``, ``reset``).
    """

    conn: WebSocketClientConnection
    events: list[tuple[int, str]] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    control: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    async def send(self, **message: Any) -> None:
        """One JSON message."""
        await self.conn.write_message(json.dumps(message))

    async def next(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next message (``None`` once the socket closed)."""
        raw = await asyncio.wait_for(self.conn.read_message(), timeout)
        if raw is None:
            self.closed = True
            return None
        message: dict[str, Any] = json.loads(raw)
        if message["op"] == "event":
            self.events.append((message["seq"], message["event"]["video_id"]))
            self.payloads.append(message["event"])
        else:
            self.control.append(message)
        return message

    async def reply(self, op: str, timeout: float = 10.0) -> dict[str, Any]:
        """Read until the next control message of ``op`` (events meanwhile are kept)."""
        while True:
            message = await self.next(timeout)
            assert message is not None, f"socket closed while waiting for {op}"
            if message["op"] == op:
                return message
            assert message["op"] == "event", message

    async def until_seq(self, seq: int, timeout: float = 15.0) -> None:
        """Read until an event with sequence ``seq`` arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while seq not in {s for s, _ in self.events}:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"event {seq} not received")
            message = await self.next(left)
            assert message is not None, "socket closed"

    async def until_closed(self, timeout: float = 20.0) -> int | None:
        """Read everything until the socket closes; its close code."""
        while not self.closed:
            await self.next(timeout)
        return self.conn.close_code

    def seqs(self, video: str) -> list[int]:
        """The sequences received for ``video``, in arrival order."""
        return [s for s, v in self.events if v == video]

    def close(self) -> None:
        self.conn.close()


async def ws_open(
    port: int,
    *,
    auth: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> WsClient:
    """Connect (raises :class:`HTTPClientError` for a refused upgrade)."""
    request = HTTPRequest(
        f"ws://127.0.0.1:{port}{WS_PATH}{query}",
        headers={**(headers or {}), **(auth or {})},
        request_timeout=10,
    )
    client = WsClient(await websocket_connect(request))
    OPENED.append(client)
    return client


async def close_all() -> None:
    """Close every client of the test, and wait until each socket is really closed: a close
    frame alone leaves the socket to the garbage collector if the loop ends before the server
    answers (a ResourceWarning in some later test)."""
    while OPENED:
        client = OPENED.pop()
        client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.conn.read_message(), 1)  # None once closed
        stream = getattr(client.conn.protocol, "stream", None)
        if stream is not None:
            stream.close()


@dataclass(frozen=True)
class Refusal:
    """The answer to an upgrade that was refused."""

    code: int
    response: HTTPResponse | None


async def ws_refusal(
    port: int,
    *,
    auth: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Refusal:
    """The answer to an upgrade that must be refused. Sent as a plain HTTP request with the
    upgrade headers: ``websocket_connect`` keeps the socket of a refused upgrade open until the
    garbage collector finds it (a ResourceWarning in a later test)."""
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(
            f"http://127.0.0.1:{port}{WS_PATH}{query}",
            headers={**upgrade, **(headers or {}), **(auth or {})},
            raise_error=False,
            request_timeout=10,
        )
    finally:
        client.close()
    assert response.code != 101, "the upgrade was accepted"
    return Refusal(response.code, response)


def hub_of(server: RunningServer) -> EventHub:
    """The hub behind a running frontend (the WebSocket route's dependency)."""
    for rule in server.app.wildcard_router.rules:
        if isinstance(rule, URLSpec) and rule.name == WS_PATH:
            deps: SocketDeps = rule.kwargs["deps"]
            return deps.hub
    raise AssertionError("no WebSocket route")
