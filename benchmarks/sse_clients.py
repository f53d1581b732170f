"""Client processes of the event-stream benchmark (``bench_sse.py --role clients``).

One process holds many raw streams, SSE (an HTTP/1.1 chunked response, as a browser's
``EventSource``) or WebSocket (the handshake, one ``subscribe``, then frames; pings answered
with pongs, as a browser does). Chunk and frame headers are not removed: a frame never spans
two chunks, so looking for the markers below in complete frames is exact.

Each event's ``message`` carries its publish time (``"message":"t=<time.time()>"``); a client
records publish-to-client latency for every event, in ``track`` mode also the ids it got (to
count what was lost or duplicated) and when it received its *resume target*. Every stream also
records the gaps between its heartbeats (SSE ``event: heartbeat``, WebSocket pings).

Clients connect from the loopback address of their spec (``source``: 127.0.0.x spreads many
thousands of connections over several source addresses). In ``churn`` mode each client
connects, stays a few seconds, leaves, and connects again until the process stops (the soak).

Client processes run on uvloop where it is installed (the bench environment has it). They stand
for browsers on other machines but share the target's two cores here: on asyncio's own loop the
two of them took a core between them at 40k deliveries/s, the machine saturated, and every
stage queued behind them (p50 3 → 25-90 ms); uvloop halves their cost.

A process prints ``SPAWNED``, connects when it reads a line (``GO``) on stdin, runs until its
stdin closes, then prints one JSON line and exits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import struct
import sys
import time
from array import array
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

MARKER = b'"message":"t='
ID_FIELD = b"id: "
SEQ_FIELD = b'"seq":'
SSE_BEAT = b"event: heartbeat"
SAMPLE = 50_000
"""Latencies a process reports at most (a uniform stride over all of them)."""


@dataclass
class Tally:
    """What one client process measured."""

    deliveries: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    refused: int = 0
    ids: dict[int, list[int]] = field(default_factory=dict)
    resumed_at: list[float] = field(default_factory=list)
    last: float = 0.0
    beat_gaps: array[float] = field(default_factory=lambda: array("d"))
    beats: int = 0
    connects: int = 0
    open: int = 0
    closed: int = 0
    """Streams that ended before the process was told to stop."""


@dataclass(frozen=True)
class Spec:
    """One client: transport, query (SSE) or video (WebSocket), bearer token, resume point
    (0: none), resume target, source address."""

    query: str
    token: str
    last_event_id: int = 0
    target: int = 0
    transport: str = "sse"
    source: str = "127.0.0.1"


def _sse_request(spec: Spec) -> bytes:
    head = f"GET /api/v2/events/stream?{spec.query} HTTP/1.1\r\nHost: x\r\n"
    if spec.token:
        head += f"Authorization: Bearer {spec.token}\r\n"
    if spec.last_event_id:
        head += f"Last-Event-ID: {spec.last_event_id}\r\n"
    return (head + "\r\n").encode()


def _ws_request(spec: Spec) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        "GET /api/v2/events/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    )
    if spec.token:
        head += f"Authorization: Bearer {spec.token}\r\n"
    return (head + "\r\n").encode()


def masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (masked with a zero key: the XOR is a no-op, the framing is exact)."""
    size = len(payload)
    head = (
        bytes((0x80 | opcode, 0x80 | size))
        if size < 126
        else (struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size))
    )
    return head + b"\0\0\0\0" + payload


class _Stream(asyncio.Protocol):
    """One stream, parsed in ``data_received`` (cheaper than a StreamReader per read: the
    client must not be the bottleneck)."""

    def __init__(self, spec: Spec, tally: Tally, ids: list[int] | None) -> None:
        self.spec, self.tally, self.ids = spec, tally, ids
        self.head: bytes | None = None
        self.buf = b""
        self.last_beat = 0.0
        self.pending_target = ids is not None and spec.target > 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ws = spec.transport == "ws"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.transport.write(_ws_request(self.spec) if self.ws else _sse_request(self.spec))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self.buf + data
        if self.head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            self.head, buf = buf[:end], buf[end + 4 :]
            if not self.head.startswith(b"HTTP/1.1 101" if self.ws else b"HTTP/1.1 200"):
                self.tally.refused += 1
                self.transport.close()
                return
            self.tally.open += 1
            if self.ws:
                self._subscribe()
        if self.ws:
            self.buf = self._ws_frames(buf, now)
            return
        # Complete frames only (LF or CRLF line ends: sse-starlette sends CRLF).
        cut = max(buf.rfind(b"\n\n"), buf.rfind(b"\n\r\n"))
        if cut < 0:
            self.buf = buf
            return
        done, self.buf = buf[:cut], buf[cut + 2 :]
        if SSE_BEAT in done:
            self._beat(now)
        self._events(done, now, ID_FIELD)

    def _subscribe(self) -> None:
        video = self.spec.query.partition("=")[2]
        message: dict[str, object] = {"op": "subscribe", "videos": [video]}
        if self.spec.last_event_id:
            message["since"] = self.spec.last_event_id
        self.transport.write(masked(0x1, json.dumps(message).encode()))

    def _ws_frames(self, buf: bytes, now: float) -> bytes:
        texts = []
        while len(buf) >= 2:
            opcode, size, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    break
                size, at = struct.unpack_from("!H", buf, 2)[0], 4
            elif size == 127:
                if len(buf) < 10:
                    break
                size, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < at + size:
                break
            payload, buf = buf[at : at + size], buf[at + size :]
            if opcode == 0x9:
                self._beat(now)
                self.transport.write(masked(0xA, payload))
            elif opcode == 0x8:
                self.transport.close()
            elif opcode == 0x1:
                texts.append(payload)
        if texts:
            self._events(b"\n".join(texts), now, SEQ_FIELD)
        return buf

    def _beat(self, now: float) -> None:
        if self.last_beat:
            self.tally.beat_gaps.append(now - self.last_beat)
        self.last_beat = now
        self.tally.beats += 1

    def _events(self, done: bytes, now: float, id_field: bytes) -> None:
        tally, ids, lat = self.tally, self.ids, self.tally.latencies
        at = done.find(MARKER)
        while at >= 0:
            start = at + len(MARKER)
            end = done.index(b'"', start)
            lat.append(now - float(done[start:end]))
            tally.deliveries += 1
            tally.last = now
            if ids is not None:
                i = done.rfind(id_field, 0, at) + len(id_field)
                j = i
                while done[j : j + 1].isdigit():
                    j += 1
                seq = int(done[i:j])
                ids.append(seq)
                if self.pending_target and seq >= self.spec.target:
                    tally.resumed_at.append(now)
                    self.pending_target = False
            at = done.find(MARKER, end)


async def _client(n: int, port: int, spec: Spec, tally: Tally, track: bool) -> None:
    ids = tally.ids.setdefault(n, []) if track else None
    loop = asyncio.get_running_loop()
    transport, stream = await loop.create_connection(
        lambda: _Stream(spec, tally, ids), "127.0.0.1", port, local_addr=(spec.source, 0)
    )
    tally.connects += 1
    try:
        await stream.closed
        tally.closed += 1  # by the server (or the network): not cancelled at the end
    finally:
        transport.close()


async def _churn(n: int, port: int, spec: Spec, tally: Tally, stay: tuple[float, float]) -> None:
    """Connect, stay ``stay`` seconds (uniform), leave, pause, again; until cancelled."""
    rng = random.Random(n)
    await asyncio.sleep(rng.uniform(0, stay[1]))  # spread the first connects
    while True:
        try:
            await asyncio.wait_for(_client(n, port, spec, tally, False), rng.uniform(*stay))
        except TimeoutError:
            pass  # stayed its time: leave (the transport is closed by _client's finally)
        except OSError:
            await asyncio.sleep(1.0)
        await asyncio.sleep(rng.uniform(0.05, 0.5))


async def run(
    port: int, specs: list[Spec], track: bool, gate_size: int, churn: tuple[float, float] | None
) -> None:
    """Open every stream (``gate_size`` connects in flight), run until stdin closes, report."""
    tally = Tally()
    gate = asyncio.Semaphore(gate_size)  # the accept backlog is finite

    async def one(n: int, spec: Spec) -> None:
        if churn is not None:
            await _churn(n, port, spec, tally, churn)
            return
        async with gate:
            task = asyncio.create_task(_client(n, port, spec, tally, track))
            await asyncio.sleep(0)
        await task

    loop = asyncio.get_running_loop()
    print("SPAWNED", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "GO": every process at once
    tasks = [asyncio.create_task(one(n, s)) for n, s in enumerate(specs)]
    await loop.run_in_executor(None, sys.stdin.read)  # until EOF
    for t in tasks:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = sum(1 for r in results if isinstance(r, Exception | OSError))
    stride = max(1, len(tally.latencies) // SAMPLE)
    out = {
        "deliveries": tally.deliveries,
        "latencies": list(tally.latencies[::stride]),
        "refused": tally.refused,
        "errors": errors,
        "ids": [tally.ids.get(n, []) for n in range(len(specs))] if track else [],
        "resumed_at": tally.resumed_at,
        "last": tally.last,
        "beats": tally.beats,
        "beat_gaps": list(tally.beat_gaps[:: max(1, len(tally.beat_gaps) // SAMPLE)]),
        "connects": tally.connects,
        "opened": tally.open,
        "closed": tally.closed,
    }
    print(json.dumps(out), flush=True)


def run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop if installed, else on asyncio's loop (see the module docstring)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)
