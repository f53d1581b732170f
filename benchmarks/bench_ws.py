"""WebSocket next to SSE: server CPU per delivery and idle memory per connection, same run.

Run: ``.venv/bin/python benchmarks/bench_ws.py`` (about a minute; stops by itself).

One frontend process serves both transports from one hub. Round 1: ``--clients`` SSE clients
over ``--videos`` videos, events published at ``--rate`` for ``--seconds``; round 2: the same
with WebSocket clients (each subscribes to its video). For each the frontend's CPU time per
delivery and the publish-to-client latency are printed. Then ``--idle`` idle connections of
each transport are opened and the frontend's resident memory per connection is printed.

Kept apart from ``bench_sse.py`` (which another change rewrites): its building blocks
(:func:`ws_route`, :func:`ws_client`, :func:`run_ws_clients`) can be called from there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
COOKIE_SECRET = "bench-cookie-secret-0123456789"
MARKER = '"message":"t='


# -- the frontend process --------------------------------------------------------------------


def ws_route(deps: dict[str, Any], identity: Any, mesh: Any) -> tuple[str, type, dict[str, Any]]:
    """The WebSocket route for a benchmark application whose SSE route uses ``deps``."""
    from frontend_server.events.cursors import CursorAcks
    from frontend_server.events.ws.handler import EventSocketHandler, SocketRegistry
    from frontend_server.events.ws.history import SocketHistory
    from mesh.cursors import CursorStore
    from mesh.replay import EventReader

    extra = {
        "cursors": CursorAcks(identity, CursorStore(mesh)),
        "sockets": SocketRegistry(),
        "allowed_origins": frozenset(),
        "history": SocketHistory(EventReader(mesh)),
    }
    return (r"/api/v2/events/ws", EventSocketHandler, {**deps, **extra})


async def run_server(nats_url: str) -> None:
    """SSE, WebSocket and health on one hub; prints ``READY <port>``, runs until stdin closes."""
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets
    from tornado.web import Application

    from frontend_server.config import HubConfig
    from frontend_server.events.hub import EventHub
    from frontend_server.events.sse.handler import EventsHealthHandler, EventStreamHandler
    from frontend_server.security.auth import Authenticator
    from frontend_server.security.limits import ClientLimits, RateLimitConfig
    from mesh.catalog_client import VideoApiClient
    from mesh.connection import MeshConnection
    from mesh.directory import Directory
    from mesh.identity_client import IdentityClient

    config = HubConfig()
    async with (
        MeshConnection(nats_url, name="bench-frontend") as mesh,
        Directory(mesh) as directory,
    ):
        auth = Authenticator(directory, COOKIE_SECRET)
        async with EventHub(mesh, config, authenticator=auth) as hub:
            deps = {
                "hub": hub,
                "config": config,
                "limits": ClientLimits(RateLimitConfig(streams_per_client=10**9)),
                "api": VideoApiClient(mesh),
            }
            app = Application(
                [
                    (r"/api/v2/events/stream", EventStreamHandler, deps),
                    ws_route(deps, IdentityClient(mesh), mesh),
                    (r"/api/v2/events/health", EventsHealthHandler, deps),
                ],
                cookie_secret=COOKIE_SECRET,
                authenticator=auth,
            )
            sockets = bind_sockets(0, "127.0.0.1", backlog=8192)
            HTTPServer(app).add_sockets(sockets)
            print(f"READY {sockets[0].getsockname()[1]}", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# -- client processes ------------------------------------------------------------------------


def _latency(text: str, now: float) -> float | None:
    at = text.find(MARKER)
    if at < 0:
        return None
    end = text.index('"', at + len(MARKER))
    return now - float(text[at + len(MARKER) : end])


async def ws_client(
    port: int, token: str, video: str, latencies: list[float], counts: list[int]
) -> None:
    """One WebSocket client following ``video`` until cancelled."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(
        f"ws://127.0.0.1:{port}/api/v2/events/ws",
        headers={"Authorization": f"Bearer {token}"},
    )
    conn = await websocket_connect(request)
    try:
        await conn.write_message(json.dumps({"op": "subscribe", "videos": [video]}))
        while (message := await conn.read_message()) is not None:
            lag = _latency(message if isinstance(message, str) else message.decode(), time.time())
            if lag is not None:
                latencies.append(lag)
                counts[0] += 1
    finally:
        conn.close()


async def sse_client(
    port: int, token: str, video: str, latencies: list[float], counts: list[int]
) -> None:
    """One SSE client following ``video`` until cancelled."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/v2/events/stream?video_id={video} HTTP/1.0\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    buf = b""
    try:
        while data := await reader.read(65536):
            now = time.time()
            buf += data
            *frames, buf = buf.split(b"\n\n")
            for frame in frames:
                lag = _latency(frame.decode(), now)
                if lag is not None:
                    latencies.append(lag)
                    counts[0] += 1
    finally:
        writer.close()


async def run_ws_clients(
    port: int, transport: str, specs: list[tuple[str, str]], seconds: float
) -> None:
    """Clients of ``transport`` (``[video, token]`` specs) for ``seconds``; prints JSON."""
    latencies: list[float] = []
    counts = [0]
    client = ws_client if transport == "ws" else sse_client
    gate = asyncio.Semaphore(100)  # stagger connects: the accept backlog is finite

    async def one(video: str, token: str) -> None:
        async with gate:
            task = asyncio.ensure_future(client(port, token, video, latencies, counts))
            await asyncio.sleep(0.001)
        await task

    tasks = [asyncio.ensure_future(one(v, t)) for v, t in specs]
    print("CONNECTED", flush=True)
    stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # EOF: stop now
    await asyncio.wait([stop], timeout=seconds)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"deliveries": counts[0], "latencies": latencies}), flush=True)


# -- orchestration ---------------------------------------------------------------------------


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _connected(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v2/events/health HTTP/1.0\r\nHost: x\r\n\r\n")
    body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
    writer.close()
    return int(json.loads(body)["connected_clients"])


async def _until_connected(port: int, n: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while (got := await _connected(port)) != n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{got}/{n} clients connected")
        await asyncio.sleep(0.2)


async def _admin_token(url: str) -> str:
    from mesh.connection import MeshConnection
    from mesh.identity_store import IdentityStore
    from mesh.provision import StreamPolicy, provision
    from schemas.identity import TokenScope
    from services.identity.accounts import Accounts

    async with MeshConnection(url, name="bench-setup") as mesh:
        await provision(mesh, StreamPolicy())
        accounts = Accounts(IdentityStore(mesh))
        user = (await accounts.add_user("admin@bench.example", "bench pw", admin=True)).user
        return (await accounts.create_token(user.id, scope=TokenScope.READ)).token


def _clients(
    tmp: str, port: int, transport: str, specs: list[tuple[str, str]], procs: int, seconds: float
) -> list[subprocess.Popen[str]]:
    spawned = []
    for n in range(procs):
        path = Path(tmp) / f"specs-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(specs[n::procs]))  # tokens stay off the command line
        args = ("--role", "clients", "--port", str(port), "--transport", transport)
        spawned.append(_spawn(*args, "--specs", str(path), "--seconds", str(seconds)))
    return spawned


async def _publish(url: str, videos: list[str], rate: float, seconds: float) -> int:
    from mesh.connection import MeshConnection
    from mesh.events import EventPublisher
    from schemas.events import VideoStatusEventDTO
    from schemas.identity import DEFAULT_CHANNEL_ID

    async with MeshConnection(url, name="bench-publisher") as mesh:
        pub = EventPublisher(mesh)
        total, tick = int(rate * seconds), 0.01
        per_tick = max(1, int(rate * tick))
        start, sent = time.monotonic(), 0
        while sent < total:
            batch = []
            for _ in range(per_tick):
                event = VideoStatusEventDTO(
                    video_id=videos[sent % len(videos)],
                    status="PROCESSING",
                    progress=sent % 100,
                    message=f"t={time.time():.6f}",
                )
                batch.append(pub.publish(event, channel_id=DEFAULT_CHANNEL_ID))
                sent += 1
            await asyncio.gather(*batch)
            delay = start + (sent / per_tick) * tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return total


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _round(
    args: argparse.Namespace, url: str, port: int, pid: int, transport: str, token: str, tmp: str
) -> None:
    videos = [str(uuid.uuid4()) for _ in range(args.videos)]
    specs = [(videos[i % len(videos)], token) for i in range(args.clients)]
    procs = _clients(tmp, port, transport, specs, args.procs, args.seconds + 30)
    try:
        await _until_connected(port, args.clients)
        await asyncio.sleep(1.0)  # every subscribe answered
        cpu0, t0 = _cpu_seconds(pid), time.monotonic()
        total = await _publish(url, videos, args.rate, args.seconds)
        await asyncio.sleep(1.0)  # the last deliveries
        cpu, elapsed = _cpu_seconds(pid) - cpu0, time.monotonic() - t0
        deliveries, latencies = 0, []
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.close()
            report = json.loads(p.stdout.read().splitlines()[-1])
            deliveries += report["deliveries"]
            latencies += report["latencies"]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    expected = total * args.clients // args.videos
    print(
        f"{transport.upper():>3}: {args.clients} clients, {total} events in {elapsed:.1f}s, "
        f"{deliveries}/{expected} deliveries; frontend CPU {cpu:.2f}s = "
        f"{cpu / max(deliveries, 1) * 1e6:.1f} µs per delivery; latency "
        f"p50 {_pct(latencies, 0.5):.1f} ms, p99 {_pct(latencies, 0.99):.1f} ms"
    )


async def _idle(port: int, pid: int, transport: str, token: str, args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="culto-bench-idle-")
    video = str(uuid.uuid4())
    await asyncio.sleep(1.0)  # the frontend settled after start-up
    before = _rss_kib(pid)
    specs = [(video, token)] * args.idle
    procs = _clients(tmp, port, transport, specs, args.procs, 600)
    try:
        await _until_connected(port, args.idle)
        await asyncio.sleep(1.0)
        after = _rss_kib(pid)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        await _until_connected(port, 0)
    print(
        f"{transport.upper():>3}: {args.idle} idle connections: frontend RSS "
        f"{before / 1024:.1f} -> {after / 1024:.1f} MiB, "
        f"{(after - before) / args.idle:.1f} KiB per connection"
    )


async def main(args: argparse.Namespace) -> None:
    """Both transports against one frontend process."""
    from mesh.embedded import EmbeddedNatsServer

    with tempfile.TemporaryDirectory(prefix="culto-bench-") as tmp:
        async with EmbeddedNatsServer(store_dir=Path(tmp) / "js", port=0) as natsd:
            token = await _admin_token(natsd.url)
            print(f"\n== Fan-out: {args.rate:.0f} events/s over {args.videos} videos")
            with _frontend(natsd.url) as (port, pid):
                for transport in ("sse", "ws"):
                    await _round(args, natsd.url, port, pid, transport, token, tmp)
            print("\n== Idle memory (a fresh frontend process for each transport)")
            for transport in ("sse", "ws"):
                with _frontend(natsd.url) as (port, pid):
                    await _idle(port, pid, transport, token, args)


@contextlib.contextmanager
def _frontend(url: str) -> Iterator[tuple[int, int]]:
    """A frontend process: ``(port, pid)``."""
    server = _spawn("--role", "server", "--nats", url)
    assert server.stdout is not None and server.stdin is not None
    try:
        yield int(server.stdout.readline().split()[1]), server.pid
    finally:
        server.stdin.close()
        server.wait(20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--role", default="main", choices=["main", "server", "clients"])
    parser.add_argument("--nats", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--transport", default="ws", choices=["sse", "ws"])
    parser.add_argument("--specs", default="", help="(clients) JSON file of [video, token]")
    parser.add_argument("--videos", type=int, default=50)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="events published per second")
    parser.add_argument("--seconds", type=float, default=8.0)
    ns = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if ns.role == "server":
        asyncio.run(run_server(ns.nats))
    elif ns.role == "clients":
        pairs = [(v, t) for v, t in json.loads(Path(ns.specs).read_text())]
        asyncio.run(run_ws_clients(ns.port, ns.transport, pairs, ns.seconds))
    else:
        asyncio.run(asyncio.wait_for(main(ns), 600))
