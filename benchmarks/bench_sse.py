"""SSE fan-out benchmark: one frontend process, a real nats-server, many raw-socket clients.

Run: ``.venv/bin/python benchmarks/bench_sse.py`` (about a minute; stops by itself).

Phase 1: 1,000 SSE clients over 100 videos (10 per video) in separate client processes, events
published at a steady rate. Each event carries its publish time (``time.time()``) in its
``message``; clients measure publish-to-client latency. A raw NATS core subscriber on
``culto.events.>`` in the publishing process measures the same for plain NATS (the baseline).
Phase 1b: the cost of authorization. Two rounds of the same shape (1,000 clients, every event
reaching 100 of them): admin clients naming the 10 videos of their group (an admin reads
everything: nothing to decide per event), then clients of 10 members of 10 private channels
streaming unfiltered ("every video I may read", routed by channel). The frontend's CPU time per
delivery is printed for both, with their ratio (goal: within 10 %).
Phase 2: resident memory of the frontend per idle connection, opening 5,000 idle streams.

Every client authenticates with a bearer token (as in production): the admin and the members
are created in the identity buckets before the frontend starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
COOKIE_SECRET = "bench-cookie-secret-0123456789"
GROUPS = 10  # phase 1b: private channels (and groups of videos)

ClientSpec = tuple[str, str]
"""One client: its query string and its bearer token."""


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

    from frontend_server.auth import Authenticator
    from frontend_server.config import HubConfig
    from frontend_server.events_api import EventsHealthHandler, EventStreamHandler
    from frontend_server.hub import EventHub
    from frontend_server.limits import ClientLimits, RateLimitConfig
    from mesh.catalog_client import VideoApiClient
    from mesh.connection import MeshConnection
    from mesh.directory import Directory

    config = HubConfig()
    async with (
        MeshConnection(nats_url, name="bench-frontend") as mesh,
        Directory(mesh) as directory,
    ):
        auth = Authenticator(directory, COOKIE_SECRET)
        async with EventHub(mesh, config, authenticator=auth) as hub:
            # No per-client stream cap here: every benchmark client is one of a few users.
            unlimited = RateLimitConfig(streams_per_client=10**9)
            deps = {
                "hub": hub,
                "config": config,
                "limits": ClientLimits(unlimited),
                "api": VideoApiClient(mesh),
            }
            app = Application(
                [
                    (r"/api/v2/events/stream", EventStreamHandler, deps),
                    (r"/api/v2/events/health", EventsHealthHandler, deps),
                ],
                cookie_secret=COOKIE_SECRET,
                authenticator=auth,
            )
            sockets = bind_sockets(0, "127.0.0.1", backlog=8192)
            HTTPServer(app).add_sockets(sockets)
            print(f"READY {sockets[0].getsockname()[1]}", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF


# -- a client process ------------------------------------------------------------------------


async def _client(port: int, spec: ClientSpec, latencies: list[float], counts: list[int]) -> None:
    query, token = spec
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/v2/events/stream?{query} HTTP/1.0\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream refused: {head.splitlines()[0]!r}")
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


async def run_clients(port: int, specs: list[ClientSpec], seconds: float) -> None:
    latencies: list[float] = []
    counts = [0]
    gate = asyncio.Semaphore(100)  # stagger connects: the accept backlog is finite

    async def one(spec: ClientSpec) -> None:
        async with gate:
            task = asyncio.create_task(_client(port, spec, latencies, counts))
            await asyncio.sleep(0)
        await task

    tasks = [asyncio.create_task(one(s)) for s in specs]
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


@dataclass
class Identities:
    """Who the benchmark clients are: an admin token, and one member token per private channel
    (``channels[g]`` is the channel of video group ``g``)."""

    admin: str
    channels: list[str]
    members: list[str]


async def _identities(url: str) -> Identities:
    """Provision, then create the users, channels and tokens (before the frontend starts, so
    its directory loads them at once)."""
    from mesh.connection import MeshConnection
    from mesh.identity_store import IdentityStore
    from mesh.provision import StreamPolicy, provision
    from schemas.identity import ChannelRole, TokenScope, Visibility
    from services.identity.accounts import Accounts

    async with MeshConnection(url, name="bench-setup") as mesh:
        await provision(mesh, StreamPolicy())
        accounts = Accounts(IdentityStore(mesh))

        async def token(email: str, admin: bool = False) -> tuple[str, str]:
            user = (await accounts.add_user(email, "bench password", admin=admin)).user
            made = await accounts.create_token(user.id, scope=TokenScope.READ)
            return user.id, made.token

        _, admin = await token("admin@bench.example", admin=True)
        channels, members = [], []
        for group in range(GROUPS):
            channel = await accounts.add_channel(f"bench {group}", Visibility.PRIVATE)
            user_id, member = await token(f"member{group}@bench.example")
            await accounts.grant(channel.id, user_id, ChannelRole.VIEWER)
            channels.append(channel.id)
            members.append(member)
        return Identities(admin, channels, members)


def _spawn_clients(
    tmp: str, port: int, specs: list[ClientSpec], procs: int, seconds: float
) -> list[subprocess.Popen[str]]:
    """Client processes sharing ``specs`` round-robin (specs go by file: tokens stay off the
    command line)."""
    spawned = []
    for n in range(procs):
        path = Path(tmp) / f"clients-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(specs[n::procs]))
        args = ("--role", "clients", "--port", str(port), "--specs", str(path))
        spawned.append(_spawn(*args, "--seconds", str(seconds)))
    return spawned


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(args: argparse.Namespace) -> None:
    _raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="culto-bench-") as tmp:
        from mesh.embedded import EmbeddedNatsServer

        async with EmbeddedNatsServer(store_dir=Path(tmp) / "js", port=0) as natsd:
            ids = await _identities(natsd.url)
            server = _spawn("--role", "server", "--nats", natsd.url, "--data", tmp)
            assert server.stdout is not None
            port = int(server.stdout.readline().split()[1])
            bench = Bench(args, natsd.url, port, server.pid, tmp, ids)
            try:
                await bench.phase1()
                await bench.phase2()  # before 1b: its RSS baseline is not freed memory
                await bench.phase1b()
            finally:
                assert server.stdin is not None
                server.stdin.close()
                server.wait(20)


@dataclass
class Round:
    """What one round of publishing measured."""

    total: int
    elapsed: float
    deliveries: int
    latencies: list[float]
    baseline: list[float]
    cpu: float


class Bench:
    """The phases, against one frontend process."""

    def __init__(
        self,
        args: argparse.Namespace,
        url: str,
        port: int,
        server_pid: int,
        tmp: str,
        ids: Identities,
    ) -> None:
        self.args = args
        self.url = url
        self.port = port
        self.pid = server_pid
        self.tmp = tmp
        self.ids = ids

    async def phase1(self) -> None:
        args = self.args
        videos = [str(uuid.uuid4()) for _ in range(args.videos)]
        specs = [
            (f"video_id={videos[i % len(videos)]}", self.ids.admin) for i in range(args.clients)
        ]
        result = await self._round(specs, videos, {})
        expected = result.total * args.clients // args.videos
        lat, baseline = result.latencies, result.baseline
        print(
            f"\n== Phase 1: {args.clients} SSE clients over {args.videos} videos, "
            f"{result.total} events in {result.elapsed:.1f}s "
            f"({result.total / result.elapsed:.0f} events/s published)"
        )
        print(
            f"deliveries: {result.deliveries}/{expected} "
            f"({result.deliveries / result.elapsed:,.0f} deliveries/s)"
        )
        print(
            f"SSE latency  p50 {_pct(lat, 0.5):6.2f} ms   p99 {_pct(lat, 0.99):6.2f} ms   "
            f"max {max(lat) * 1000:.1f} ms"
        )
        print(
            f"NATS baseline p50 {_pct(baseline, 0.5):6.2f} ms   "
            f"p99 {_pct(baseline, 0.99):6.2f} ms (raw core subscriber, same events)"
        )
        print(
            f"ratio SSE/NATS  p50 x{_pct(lat, 0.5) / _pct(baseline, 0.5):.1f}   "
            f"p99 x{_pct(lat, 0.99) / _pct(baseline, 0.99):.1f}"
        )
        print(f"mean {statistics.fmean(lat) * 1000:.2f} ms")

    async def phase1b(self) -> None:
        """The same fan-out twice: admin streams by video, then member streams by channel."""
        args = self.args
        print(
            f"\n== Phase 1b: authorization cost ({args.clients} clients, {GROUPS} groups, "
            f"{args.auth_rate:.0f} events/s: below saturation, where batching would hide costs)"
        )
        kinds = ("admin, named videos (no per-event decision)", "members, unfiltered")
        per_delivery: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(args.auth_repeats):  # interleaved: drift hits both kinds alike
            for name, named in zip(kinds, (True, False), strict=True):
                specs, videos, channels = await self._groups(named=named)
                result = await self._round(specs, videos, channels, rate=args.auth_rate)
                per = result.cpu / max(1, result.deliveries) * 1e6
                per_delivery[name].append(per)
                print(
                    f"{name}: {result.deliveries:,} deliveries, frontend CPU {result.cpu:.2f}s, "
                    f"{per:.2f} µs per delivery, p50 {_pct(result.latencies, 0.5):.2f} ms"
                )
        plain, authorised = (statistics.fmean(v) for v in per_delivery.values())
        print(
            f"CPU per delivery: {plain:.2f} µs without, {authorised:.2f} µs with authorization; "
            f"ratio x{authorised / plain:.3f} (goal: at most x1.10)"
        )

    async def _groups(self, *, named: bool) -> tuple[list[ClientSpec], list[str], dict[str, str]]:
        """Fresh videos in :data:`GROUPS` groups (group ``g`` in private channel ``g``) and the
        clients of one kind: admins naming the videos of their group, or the group's member
        streaming unfiltered. Every client resumes from the stream's end (``last_event_id``):
        no snapshot or replay, only live deliveries are measured."""
        from mesh.connection import MeshConnection
        from mesh.replay import EventReader

        async with MeshConnection(self.url, name="bench-head") as mesh:
            head = await EventReader(mesh).last_seq()
        ids, clients = self.ids, self.args.clients
        videos = [str(uuid.uuid4()) for _ in range(self.args.videos)]
        by_group = [videos[g::GROUPS] for g in range(GROUPS)]
        channels = {v: ids.channels[g] for g in range(GROUPS) for v in by_group[g]}
        resume = f"last_event_id={head}"
        if named:
            specs = [
                (f"videos={','.join(by_group[i % GROUPS])}&{resume}", ids.admin)
                for i in range(clients)
            ]
        else:
            specs = [(resume, ids.members[i % GROUPS]) for i in range(clients)]
        return specs, videos, channels

    async def _round(
        self,
        specs: list[ClientSpec],
        videos: list[str],
        channels: dict[str, str],
        *,
        rate: float | None = None,
    ) -> Round:
        """Connect ``specs``, publish at the configured rate, collect what clients measured."""
        import nats

        args = self.args
        await _wait_clients_down(self.port)
        procs = _spawn_clients(self.tmp, self.port, specs, args.procs, args.seconds + 8)
        for p in procs:
            assert p.stdout is not None
            p.stdout.readline()
        await _wait_clients(self.port, len(specs))
        baseline: list[float] = []
        raw = await nats.connect(self.url)

        async def on_raw(msg) -> None:  # type: ignore[no-untyped-def]
            now = time.time()
            at = msg.data.find(b'"message":"t=')
            if at >= 0:
                end = msg.data.index(b'"', at + 13)
                baseline.append(now - float(msg.data[at + 13 : end]))

        await raw.subscribe("culto.events.>", cb=on_raw)
        await asyncio.sleep(1.0)  # connections settled: only deliveries are measured
        cpu_before = _cpu_seconds(self.pid)
        total, elapsed = await self._publish(rate or args.rate, videos, channels)
        await asyncio.sleep(1.0)  # let the last deliveries out before reading the CPU time
        cpu = _cpu_seconds(self.pid) - cpu_before
        await raw.drain()
        results = []
        for p in procs:
            out, _ = await asyncio.get_running_loop().run_in_executor(None, p.communicate)
            results.append(json.loads(out.strip().splitlines()[-1]))
        lat = [x for r in results for x in r["latencies"]]
        deliveries = sum(r["deliveries"] for r in results)
        return Round(total, elapsed, deliveries, lat, baseline, cpu)

    async def _publish(
        self, rate: float, videos: list[str], channels: dict[str, str]
    ) -> tuple[int, float]:
        """Publish ``rate`` events/s for ``--seconds``, each stamped with its publish time;
        ``(events, seconds taken)``."""
        from mesh.connection import MeshConnection
        from mesh.events import EventPublisher
        from schemas.events import VideoStatusEventDTO
        from schemas.identity import DEFAULT_CHANNEL_ID

        async with MeshConnection(self.url, name="bench-publisher") as mesh:
            pub = EventPublisher(mesh)
            total = int(rate * self.args.seconds)
            tick = 0.01
            per_tick = max(1, int(rate * tick))
            start = time.monotonic()
            sent = 0
            while sent < total:
                batch = []
                for _ in range(per_tick):
                    vid = videos[sent % len(videos)]
                    event = VideoStatusEventDTO(
                        video_id=vid,
                        status="PROCESSING",
                        progress=sent % 100,
                        message=f"t={time.time():.6f}",
                    )
                    channel = channels.get(vid, DEFAULT_CHANNEL_ID)
                    batch.append(pub.publish(event, channel_id=channel))
                    sent += 1
                await asyncio.gather(*batch)
                delay = start + (sent / per_tick) * tick - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            return total, time.monotonic() - start

    async def phase2(self) -> None:
        args = self.args
        await _wait_clients_down(self.port)
        before = _rss_kib(self.pid)
        videos = [str(uuid.uuid4()) for _ in range(args.videos)]
        specs = [(f"video_id={videos[i % len(videos)]}", self.ids.admin) for i in range(args.idle)]
        procs = _spawn_clients(self.tmp, self.port, specs, args.procs, 600)
        try:
            t0 = time.monotonic()
            await _wait_clients(self.port, args.idle, timeout=90)
            connect_s = time.monotonic() - t0
            await asyncio.sleep(1.0)
            after = _rss_kib(self.pid)
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
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--specs", default="", help="(clients) JSON file of [query, token]")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=500.0, help="events published per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--auth-rate", type=float, default=100.0, help="phase 1b events/s")
    parser.add_argument("--auth-repeats", type=int, default=2, help="phase 1b rounds per kind")
    ns = parser.parse_args()
    _raise_fd_limit()
    if ns.role == "server":
        asyncio.run(run_server(ns.nats, ns.data))
    elif ns.role == "clients":
        specs = [tuple(s) for s in json.loads(Path(ns.specs).read_text())]
        asyncio.run(run_clients(ns.port, specs, ns.seconds))  # type: ignore[arg-type]
    else:
        asyncio.run(asyncio.wait_for(main(ns), 300))
