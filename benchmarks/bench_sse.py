"""SSE fan-out benchmark: one frontend process, a real nats-server, many raw-socket clients.

Run: ``.venv/bin/python benchmarks/bench_sse.py`` (about a minute; stops by itself).

Phase 1: 1,000 SSE clients over 100 videos (10 per video) in separate client processes, events
published at a steady rate. Each event carries its publish time (``time.time()``) in its
``message``; clients measure publish-to-client latency. A raw NATS core subscriber on
``culto.events.>`` in the publishing process measures the same for plain NATS (the baseline).
Phase 2: resident memory of the frontend per idle connection, opening 5,000 idle streams.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- the frontend process --------------------------------------------------------------------


async def run_server(nats_url: str, data_dir: str) -> None:
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets
    from tornado.web import Application

    from frontend_server.config import HubConfig
    from frontend_server.events_api import EventsHealthHandler, EventStreamHandler
    from frontend_server.hub import EventHub
    from frontend_server.limits import ClientLimits, RateLimitConfig
    from mesh.connection import MeshConnection
    from mesh.provision import StreamPolicy, provision

    config = HubConfig()
    async with MeshConnection(nats_url, name="bench-frontend") as mesh:
        await provision(mesh, StreamPolicy())
        async with EventHub(mesh, config) as hub:
            # No per-client stream cap here: every benchmark client comes from 127.0.0.1.
            unlimited = RateLimitConfig(streams_per_client=10**9)
            deps = {"hub": hub, "config": config, "limits": ClientLimits(unlimited)}
            app = Application(
                [
                    (r"/api/v2/events/stream", EventStreamHandler, deps),
                    (r"/api/v2/events/health", EventsHealthHandler, deps),
                ]
            )
            sockets = bind_sockets(0, "127.0.0.1", backlog=8192)
            HTTPServer(app).add_sockets(sockets)
            print(f"READY {sockets[0].getsockname()[1]}", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF


# -- a client process ------------------------------------------------------------------------


async def _client(port: int, video: str, latencies: list[float], counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/v2/events/stream?video_id={video} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    buf = b""
    marker = b'"message":"t='
    while data := await reader.read(65536):
        now = time.time()
        buf += data
        *frames, buf = buf.split(b"\n\n")
        for frame in frames:
            at = frame.find(marker)
            if at >= 0:
                end = frame.index(b'"', at + len(marker))
                latencies.append(now - float(frame[at + len(marker) : end]))
                counts[0] += 1
    writer.close()


async def run_clients(port: int, videos: list[str], seconds: float) -> None:
    latencies: list[float] = []
    counts = [0]
    gate = asyncio.Semaphore(100)  # stagger connects: the accept backlog is finite

    async def one(video: str) -> None:
        async with gate:
            task = asyncio.create_task(_client(port, video, latencies, counts))
            await asyncio.sleep(0)
        await task

    tasks = [asyncio.create_task(one(v)) for v in videos]
    print("CONNECTED", flush=True)
    await asyncio.sleep(seconds)
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


async def _health(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v2/events/health HTTP/1.0\r\nHost: x\r\n\r\n")
    body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
    writer.close()
    return int(json.loads(body)["connected_clients"])


async def _wait_clients(port: int, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (got := await _health(port)) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {got}/{n} clients connected")
        await asyncio.sleep(0.2)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(args: argparse.Namespace) -> None:
    import nats

    from mesh.connection import MeshConnection
    from mesh.embedded import EmbeddedNatsServer
    from mesh.events import EventPublisher
    from schemas.events import VideoStatusEventDTO

    _raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="culto-bench-") as tmp:
        async with EmbeddedNatsServer(store_dir=Path(tmp) / "js", port=0) as natsd:
            server = _spawn("--role", "server", "--nats", natsd.url, "--data", tmp)
            assert server.stdout is not None
            port = int(server.stdout.readline().split()[1])
            server_pid = server.pid
            try:
                await _phase1(
                    args, natsd.url, port, nats, MeshConnection, EventPublisher, VideoStatusEventDTO
                )
                await _phase2(args, port, server_pid)
            finally:
                assert server.stdin is not None
                server.stdin.close()
                server.wait(20)


async def _phase1(args, url, port, nats, MeshConnection, EventPublisher, Dto) -> None:  # type: ignore[no-untyped-def]
    videos = [str(uuid.uuid4()) for _ in range(args.videos)]
    per_proc = [[] for _ in range(args.procs)]  # type: list[list[str]]
    for i in range(args.clients):
        per_proc[i % args.procs].append(videos[i % len(videos)])
    duration = args.seconds
    procs = [
        _spawn(
            "--role",
            "clients",
            "--port",
            str(port),
            "--videos",
            ",".join(vs),
            "--seconds",
            str(duration + 8),
        )
        for vs in per_proc
    ]
    for p in procs:
        assert p.stdout is not None
        p.stdout.readline()
    await _wait_clients(port, args.clients)

    baseline: list[float] = []
    raw = await nats.connect(url)

    async def on_raw(msg) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        at = msg.data.find(b'"message":"t=')
        if at >= 0:
            end = msg.data.index(b'"', at + 13)
            baseline.append(now - float(msg.data[at + 13 : end]))

    await raw.subscribe("culto.events.>", cb=on_raw)
    async with MeshConnection(url, name="bench-publisher") as mesh:
        pub = EventPublisher(mesh)
        total = int(args.rate * duration)
        tick = 0.01
        per_tick = max(1, int(args.rate * tick))
        start = time.monotonic()
        sent = 0
        while sent < total:
            batch = []
            for _ in range(per_tick):
                vid = videos[sent % len(videos)]
                event = Dto(
                    video_id=vid,
                    status="PROCESSING",
                    progress=sent % 100,
                    message=f"t={time.time():.6f}",
                )
                batch.append(pub.publish(event))
                sent += 1
            await asyncio.gather(*batch)
            delay = start + (sent / per_tick) * tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elapsed = time.monotonic() - start
    await raw.drain()
    results = []
    for p in procs:
        out, _ = await asyncio.get_running_loop().run_in_executor(None, p.communicate)
        results.append(json.loads(out.strip().splitlines()[-1]))
    lat = [x for r in results for x in r["latencies"]]
    deliveries = sum(r["deliveries"] for r in results)
    expected = total * args.clients // args.videos
    print(
        f"\n== Phase 1: {args.clients} SSE clients over {args.videos} videos, "
        f"{total} events in {elapsed:.1f}s ({total / elapsed:.0f} events/s published)"
    )
    print(f"deliveries: {deliveries}/{expected} ({deliveries / elapsed:,.0f} deliveries/s)")
    print(
        f"SSE latency  p50 {_pct(lat, 0.5):6.2f} ms   p99 {_pct(lat, 0.99):6.2f} ms   "
        f"max {max(lat) * 1000:.1f} ms"
    )
    print(
        f"NATS baseline p50 {_pct(baseline, 0.5):6.2f} ms   p99 {_pct(baseline, 0.99):6.2f} ms "
        f"(raw core subscriber, same events)"
    )
    print(
        f"ratio SSE/NATS  p50 x{_pct(lat, 0.5) / _pct(baseline, 0.5):.1f}   "
        f"p99 x{_pct(lat, 0.99) / _pct(baseline, 0.99):.1f}"
    )
    print(f"mean {statistics.fmean(lat) * 1000:.2f} ms")


async def _phase2(args: argparse.Namespace, port: int, server_pid: int) -> None:
    await _wait_clients_down(port)
    before = _rss_kib(server_pid)
    videos = [str(uuid.uuid4()) for _ in range(args.videos)]
    per_proc: list[list[str]] = [[] for _ in range(args.procs)]
    for i in range(args.idle):
        per_proc[i % args.procs].append(videos[i % len(videos)])
    procs = [
        _spawn(
            "--role", "clients", "--port", str(port), "--videos", ",".join(vs), "--seconds", "600"
        )
        for vs in per_proc
    ]
    try:
        t0 = time.monotonic()
        await _wait_clients(port, args.idle, timeout=90)
        connect_s = time.monotonic() - t0
        await asyncio.sleep(1.0)
        after = _rss_kib(server_pid)
        print(f"\n== Phase 2: {args.idle} idle SSE connections (connected in {connect_s:.1f}s)")
        print(
            f"frontend RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB: "
            f"{(after - before) / args.idle:.1f} KiB per idle connection"
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()


async def _wait_clients_down(port: int) -> None:
    for _ in range(100):
        if await _health(port) == 0:
            return
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="main", choices=["main", "server", "clients"])
    parser.add_argument("--nats", default="")
    parser.add_argument("--data", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--videos", default="100")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=500.0, help="events published per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    ns = parser.parse_args()
    _raise_fd_limit()
    if ns.role == "server":
        asyncio.run(run_server(ns.nats, ns.data))
    elif ns.role == "clients":
        asyncio.run(run_clients(ns.port, ns.videos.split(","), ns.seconds))
    else:
        ns.videos = int(ns.videos)
        asyncio.run(asyncio.wait_for(main(ns), 170))
