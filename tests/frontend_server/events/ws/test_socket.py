"""The WebSocket wire against a real frontend, with a raw socket: the handshake's refusals, a
message fragmented around a ping, pongs, the client's close answered with its code, and a
protocol violation closed with 1002."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct

import pytest

from frontend_server.events.ws.frames import Opcode, unmask
from frontend_server.events.ws.handler import accept_key
from ops.server import RunningServer
from schemas import new_video_id
from tests.frontend_server.sse_client import known_token
from tests.support import Member

pytestmark = pytest.mark.timeout(30)


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> bytes:
    mask = os.urandom(4) if masked else b""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    head = (
        bytes((first, (0x80 if masked else 0) | size))
        if size < 126
        else (struct.pack("!BBH", first, (0x80 if masked else 0) | 126, size))
    )
    return head + mask + (unmask(mask, payload) if masked else payload)


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read_frame(self) -> tuple[int, bytes]:
        first, second = await asyncio.wait_for(self.reader.readexactly(2), 10)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(size)

    async def until(self, opcode: int) -> bytes:
        while True:
            op, payload = await self.read_frame()
            if op == opcode:
                return payload

    def close(self) -> None:
        self.writer.close()


async def handshake(
    port: int, headers: dict[str, str], version: str = "13"
) -> tuple[int, dict[str, str], RawSocket]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = headers.pop("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode())
    lines = [
        "GET /api/v2/events/ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: keep-alive, Upgrade",
        f"Sec-WebSocket-Version: {version}",
        *([f"Sec-WebSocket-Key: {key}"] if key else []),
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    status = int(head.split()[1])
    found = {}
    for line in head.split("\r\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            found[name.strip().lower()] = value.strip()
    if status == 101:
        assert found["sec-websocket-accept"] == accept_key(key)
    return status, found, RawSocket(reader, writer)


async def test_handshake_refusals_are_json(edge: RunningServer, admin: Member) -> None:
    await known_token(edge.app, admin)
    status, headers, sock = await handshake(edge.port, {**admin.auth, "Sec-WebSocket-Key": ""})
    assert status == 400
    body = await sock.reader.read(2000)
    assert b"invalid_websocket_handshake" in body
    sock.close()
    status, headers, sock = await handshake(edge.port, dict(admin.auth), version="8")
    assert (status, headers["sec-websocket-version"]) == (426, "13")
    sock.close()


async def test_fragments_pings_and_the_clients_close(edge: RunningServer, admin: Member) -> None:
    await known_token(edge.app, admin)
    status, _, sock = await handshake(edge.port, dict(admin.auth))
    assert status == 101
    video = new_video_id()
    text = json.dumps({"op": "subscribe", "videos": [video]}).encode()
    sock.writer.write(
        frame(Opcode.TEXT, text[:7], fin=False)
        + frame(Opcode.PING, b"are you there")  # between fragments
        + frame(Opcode.CONTINUATION, text[7:20], fin=False)
        + frame(Opcode.CONTINUATION, text[20:])
    )
    assert await sock.until(Opcode.PONG) == b"are you there"
    subscribed = json.loads(await sock.until(Opcode.TEXT))
    assert subscribed["op"] == "subscribed" and subscribed["videos"] == [video]
    sock.writer.write(frame(Opcode.CLOSE, struct.pack("!H", 1000) + b"bye"))
    payload = await sock.until(Opcode.CLOSE)
    assert struct.unpack("!H", payload[:2])[0] == 1000
    assert await asyncio.wait_for(sock.reader.read(), 10) == b""  # then the server closes
    sock.close()


async def test_an_unmasked_frame_is_a_protocol_error(edge: RunningServer, admin: Member) -> None:
    await known_token(edge.app, admin)
    status, _, sock = await handshake(edge.port, dict(admin.auth))
    assert status == 101
    sock.writer.write(frame(Opcode.TEXT, b'{"op":"subscribe"}', masked=False))
    payload = await sock.until(Opcode.CLOSE)
    assert struct.unpack("!H", payload[:2])[0] == 1002
    sock.writer.write(frame(Opcode.CLOSE, payload[:2]))  # the closing handshake completes
    assert await asyncio.wait_for(sock.reader.read(), 10) == b""
    sock.close()
