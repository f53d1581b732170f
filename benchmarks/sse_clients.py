"""SSE client processes of the fan-out benchmark (``bench_sse.py --role clients``).

One process holds many raw HTTP/1.1 streams (as a browser's ``EventSource`` would: a
chunked response). Chunk headers are not removed: a frame never spans two chunks on either
server, so looking for the markers below in complete frames is exact.

Each event's ``message`` carries its publish time (``"message":"t=<time.time()>"``); a client
records publish-to-client latency for every frame, and in ``storm`` mode also the ids it got
(to count what was lost or duplicated) and when it received its *resume target* (the last
stored event of its video before the storm: from then on it is resumed).

A process prints ``SPAWNED``, connects when it reads a line (``GO``) on stdin, runs until its
stdin closes, then prints one JSON line and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from array import array
from dataclasses import dataclass, field

MARKER = b'"message":"t='
ID_FIELD = b"id: "
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


@dataclass(frozen=True)
class Spec:
    """One client: query string, bearer token, Last-Event-ID (0: none), resume target."""

    query: str
    token: str
    last_event_id: int = 0
    target: int = 0


def _request(spec: Spec) -> bytes:
    head = f"GET /api/v2/events/stream?{spec.query} HTTP/1.1\r\nHost: x\r\n"
    if spec.token:
        head += f"Authorization: Bearer {spec.token}\r\n"
    if spec.last_event_id:
        head += f"Last-Event-ID: {spec.last_event_id}\r\n"
    return (head + "\r\n").encode()


class _Stream(asyncio.Protocol):
    """One stream, parsed in ``data_received`` (cheaper than a StreamReader per read: the
    client must not be the bottleneck)."""

    def __init__(self, spec: Spec, tally: Tally, ids: list[int] | None) -> None:
        self.spec, self.tally, self.ids = spec, tally, ids
        self.head: bytes | None = None
        self.buf = b""
        self.pending_target = ids is not None and spec.target > 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(_request(self.spec))  # type: ignore[attr-defined]
        self.transport = transport

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
            if not self.head.startswith(b"HTTP/1.1 200"):
                self.tally.refused += 1
                self.transport.close()
                return
        # Complete frames only (LF or CRLF line ends: sse-starlette sends CRLF).
        cut = max(buf.rfind(b"\n\n"), buf.rfind(b"\n\r\n"))
        if cut < 0:
            self.buf = buf
            return
        done, self.buf = buf[:cut], buf[cut + 2 :]
        self._frames(done, now)

    def _frames(self, done: bytes, now: float) -> None:
        tally, ids, lat = self.tally, self.ids, self.tally.latencies
        at = done.find(MARKER)
        while at >= 0:
            start = at + len(MARKER)
            end = done.index(b'"', start)
            lat.append(now - float(done[start:end]))
            tally.deliveries += 1
            tally.last = now
            if ids is not None:
                i = done.rfind(ID_FIELD, 0, at) + len(ID_FIELD)
                seq = int(done[i : done.index(b"\n", i)])
                ids.append(seq)
                if self.pending_target and seq >= self.spec.target:
                    tally.resumed_at.append(now)
                    self.pending_target = False
            at = done.find(MARKER, end)


async def _client(n: int, port: int, spec: Spec, tally: Tally, track: bool) -> None:
    ids = tally.ids.setdefault(n, []) if track else None
    loop = asyncio.get_running_loop()
    transport, stream = await loop.create_connection(
        lambda: _Stream(spec, tally, ids), "127.0.0.1", port
    )
    try:
        await stream.closed
    finally:
        transport.close()


async def run(port: int, specs: list[Spec], track: bool, gate_size: int) -> None:
    """Open every stream (``gate_size`` connects in flight), run until stdin closes, report."""
    tally = Tally()
    gate = asyncio.Semaphore(gate_size)  # the accept backlog is finite

    async def one(n: int, spec: Spec) -> None:
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
    }
    print(json.dumps(out), flush=True)
