"""SSE client processes of the fan-out benchmark (``bench_sse.py --role clients``).

One process holds many raw-socket HTTP/1.1 streams (as a browser's ``EventSource`` would: a
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


async def _client(n: int, port: int, spec: Spec, tally: Tally, track: bool) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request(spec))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        tally.refused += 1
        writer.close()
        return
    ids: list[int] = tally.ids.setdefault(n, []) if track else []
    buf = b""
    lat = tally.latencies
    pending_target = track and spec.target > 0
    try:
        while data := await reader.read(262144):
            now = time.time()
            buf += data
            # Complete frames only (LF or CRLF line ends: sse-starlette sends CRLF).
            cut = max(buf.rfind(b"\n\n"), buf.rfind(b"\n\r\n"))
            if cut < 0:
                continue
            done, buf = buf[:cut], buf[cut + 2 :]
            at = done.find(MARKER)
            while at >= 0:
                start = at + len(MARKER)
                end = done.index(b'"', start)
                lat.append(now - float(done[start:end]))
                tally.deliveries += 1
                if track:
                    i = done.rfind(ID_FIELD, 0, at) + len(ID_FIELD)
                    seq = int(done[i : done.index(b"\n", i)])
                    ids.append(seq)
                    if pending_target and seq >= spec.target:
                        tally.resumed_at.append(now)
                        pending_target = False
                at = done.find(MARKER, end)
    finally:
        writer.close()


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
    }
    print(json.dumps(out), flush=True)
