"""The phases of the fan-out benchmark (see ``bench_sse.py``), against one nats-server."""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sse_clients import Spec
from sse_procs import Clients, Server, cpu_seconds, health, rss_kib, settle_cpu, wait_clients
from sse_report import Figures, pct_ms, print_round

GROUPS = 10
FULL_RATES = (1000.0, 2000.0, 4000.0, 8000.0)
QUICK_RATES = (1000.0, 4000.0)
PLACEHOLDER = "t=0000000000.000000"


@dataclass
class Identities:
    """The admin's token, and one member token per private channel (the auth phase)."""

    admin: str
    channels: list[str]
    members: list[str]
    viewers: list[str]
    """Tokens of distinct users for the reconnect storm: resuming viewers are many people,
    and the hub runs at most a few replays of one user at once (``REPLAYS_PER_CLIENT``)."""


async def identities(url: str) -> Identities:
    """Provision, then create users, channels and tokens (before any frontend starts)."""
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
        return Identities(admin, channels, members, await _viewers(accounts))


STORM_USERS = 200


async def _viewers(accounts: Any) -> list[str]:
    """Admin tokens of :data:`STORM_USERS` users, made without a KDF run each (one hash,
    shared: nobody signs in with these passwords)."""
    from access.credentials import hash_password
    from schemas.identity import TokenScope, UserRecord
    from services.identity.accounts import new_user_id

    shared = hash_password("bench password")
    tokens = []
    for i in range(STORM_USERS):
        user = UserRecord(
            id=new_user_id(), email=f"viewer{i}@bench.example", admin=True, password_hash=shared
        )
        await accounts.store.create_user(user)
        tokens.append((await accounts.create_token(user.id, scope=TokenScope.READ)).token)
    return tokens


class Publisher:
    """Publishes ``video.status`` events stamped with their publish time."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> Publisher:
        import nats

        from schemas.events import VideoStatusEventDTO

        self.nc = await nats.connect(self.url, pending_size=256 * 1024 * 1024)
        self.js = self.nc.jetstream()
        dto = VideoStatusEventDTO(
            video_id=str(uuid.uuid4()), status="PROCESSING", progress=50, message=PLACEHOLDER
        )
        raw = dto.model_dump_json()
        self.vid = dto.video_id
        self.before, self.after = raw.split(PLACEHOLDER)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()

    def payload(self, video: str) -> bytes:
        text = self.before + f"t={time.time():.6f}" + self.after
        return text.replace(self.vid, video).encode()

    async def steady(
        self, rate: float, seconds: float, videos: list[str], channels: dict[str, str]
    ) -> tuple[int, float]:
        """Core-publish ``rate`` events/s for ``seconds`` (the stream stores them; no ack is
        awaited, so the publisher is cheap); ``(events, seconds taken)``."""
        from mesh.events import CHANNEL_HEADER
        from schemas.identity import DEFAULT_CHANNEL_ID

        total, tick = int(rate * seconds), 0.005
        per_tick = max(1, round(rate * tick))
        start, sent = time.monotonic(), 0
        while sent < total:
            for _ in range(min(per_tick, total - sent)):
                video = videos[sent % len(videos)]
                headers = {CHANNEL_HEADER: channels.get(video, DEFAULT_CHANNEL_ID)}
                subject = f"culto.events.{video}.video.status"
                await self.nc.publish(subject, self.payload(video), headers=headers)
                sent += 1
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let the client flush its buffer
        await self.nc.flush()
        return total, time.monotonic() - start

    async def acked(self, videos: list[str], per_video: int) -> dict[str, list[int]]:
        """Publish ``per_video`` events per video and wait for the acks: the seqs by video."""
        from mesh.events import CHANNEL_HEADER
        from schemas.identity import DEFAULT_CHANNEL_ID

        seqs: dict[str, list[int]] = {v: [] for v in videos}
        for _ in range(per_video):

            async def one(video: str) -> None:
                ack = await self.js.publish(
                    f"culto.events.{video}.video.status",
                    self.payload(video),
                    headers={CHANNEL_HEADER: DEFAULT_CHANNEL_ID},
                )
                seqs[video].append(ack.seq)

            await asyncio.gather(*(one(v) for v in videos))
        return seqs

    async def head(self) -> int:
        return int((await self.js.stream_info("CULTO_EVENTS")).state.last_seq)

    async def consumers(self) -> int:
        return int((await self.js.stream_info("CULTO_EVENTS")).state.consumer_count)


SOURCES = 8
"""Loopback source addresses clients connect from (127.0.0.2 …): ephemeral ports run out
past ~28,000 connections from one address to one port."""
STREAMS_PER_PROCESS = 4000
"""Idle streams one client process holds (each holds at most the file limit)."""


def source(i: int) -> str:
    """The source address of client ``i``."""
    return f"127.0.0.{2 + i % SOURCES}"


class Target:
    """The phases against one running target (``before`` runs ``--before``'s checkout)."""

    def __init__(self, args: argparse.Namespace, name: str, url: str, tmp: str, ids: Identities):
        self.args, self.name, self.url, self.tmp, self.ids = args, name, url, tmp, ids
        self.token = ids.admin if name != "baseline" else ""
        self._code = args.before if name == "before" else ""
        self._kind = "baseline" if name == "baseline" else "culto"
        self.server = self._start()

    def _start(self) -> Server:
        return Server(self._kind, self.url, self.args.uvloop, self.args.heartbeat, self._code)

    def restart(self) -> None:
        """A fresh server process."""
        self.server.stop()
        self.server = self._start()

    async def specs(self, videos: list[str], n: int, transport: str = "sse") -> list[Spec]:
        """``n`` clients over ``videos``, resuming from the stream's end (only live events
        are measured: no snapshot)."""
        async with Publisher(self.url) as pub:
            head = await pub.head()
        return [
            Spec(f"video_id={videos[i % len(videos)]}", self.token, head,
                 transport=transport, source=source(i))
            for i in range(n)
        ]  # fmt: skip

    async def idle(self, transport: str) -> Figures:
        """RSS per idle stream at each of ``--idle``'s counts (connected in steps), and how
        regular their heartbeats are."""
        counts = sorted(int(c) for c in self.args.idle.split(",") if c)
        port, beat = self.server.port, self.args.heartbeat
        await wait_clients(port, 0)
        await asyncio.sleep(2.0)  # settled after the previous phase
        before = rss_kib(self.server.pid)
        videos = [str(uuid.uuid4()) for _ in range(self.args.videos)]
        everyone = await self.specs(videos, counts[-1], transport)
        procs = max(2, -(-counts[-1] // STREAMS_PER_PROCESS))
        groups: list[Clients] = []
        steps: list[Figures] = []
        try:
            done = 0
            for count in counts:
                batch = everyone[done:count]
                groups.append(
                    Clients(self.tmp, port, batch, max(1, procs * len(batch) // counts[-1]), False)
                )
                groups[-1].go()
                took = await wait_clients(port, count, timeout=600)
                await asyncio.sleep(3 * beat + 1 if count == counts[-1] else 2.0)
                n = await health(port)
                rss = rss_kib(self.server.pid)
                steps.append({"connections": n, "rss_kib": rss, "connect_s": took,
                              "kib_per_connection": (rss - before) / max(1, n)})  # fmt: skip
                print(f"  {self.name:>8} idle {transport}: {n:,} streams in {took:.1f}s, "
                      f"{(rss - before) / max(1, n):.2f} KiB each", flush=True)  # fmt: skip
                done = count
            gots = [await c.finish() for c in groups]
        except BaseException:
            for c in groups:
                c.kill()
            raise
        gaps = sorted(g for got in gots for g in got["beat_gaps"])
        return {"rss_before_kib": before, "steps": steps, "heartbeat_s": beat,
                "beats": sum(got["beats"] for got in gots), "beat_gaps": _spread(gaps),
                "kib_per_connection": steps[0]["kib_per_connection"]}  # fmt: skip

    async def round(
        self,
        rate: float,
        specs: list[Spec] | None = None,
        channels: dict[str, str] | None = None,
        fanout: int | None = None,
        transport: str = "sse",
    ) -> Figures:
        """Connect, publish at ``rate`` for ``--seconds``, collect what the clients measured
        (``fanout``: clients each event reaches; by default clients ÷ videos)."""
        args, port = self.args, self.server.port
        videos = [str(uuid.uuid4()) for _ in range(args.videos)]
        if specs is None:
            specs = await self.specs(videos, args.clients, transport)
        else:
            videos = sorted({v for c in (channels or {}) for v in [c]}) or videos
        await wait_clients(port, 0)
        clients = Clients(self.tmp, port, specs, args.procs, False)
        clients.go()
        await wait_clients(port, len(specs))
        await asyncio.sleep(1.0)
        cpu0 = cpu_seconds(self.server.pid)
        began = time.time()
        client_cpu0 = [cpu_seconds(p.pid) for p in clients.procs]
        async with Publisher(self.url) as pub:
            total, elapsed = await pub.steady(rate, args.seconds, videos, channels or {})
        # The busiest client process's share of a core while publishing: near 1, the
        # clients (not the server) limit the round.
        busiest = max(
            cpu_seconds(p.pid) - c for p, c in zip(clients.procs, client_cpu0, strict=True)
        )
        await settle_cpu(self.server.pid)
        cpu = cpu_seconds(self.server.pid) - cpu0
        got = await clients.finish()
        r = _round_figures(self.name, rate, total, elapsed, began, cpu, busiest, got)
        r["transport"] = transport
        r["expected"] = total * (fanout or len(specs) // len(videos))
        r["lost"] = r["expected"] - r["deliveries"]
        print_round(r)
        return r

    async def sweep(self, rates: list[float], transport: str) -> Figures:
        """Each rate over ``transport``."""
        rounds = [await self.round(rate, transport=transport) for rate in rates]
        best = max(rounds, key=lambda r: r["deliveries_per_s"] if not r["lost"] else 0)
        return {"sweep": rounds, "saturation_deliveries_per_s": best["deliveries_per_s"]}

    def stop(self) -> None:
        self.server.stop()


def _spread(values: list[float]) -> Figures:
    """p50/p99/max of sorted ``values`` (seconds)."""
    if not values:
        return {"n": 0}
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {"n": len(values), "p50": pick(0.5), "p99": pick(0.99), "max": values[-1],
            "min": values[0]}  # fmt: skip


def _round_figures(
    name: str,
    rate: float,
    total: int,
    elapsed: float,
    began: float,
    cpu: float,
    busiest: float,
    got: dict[str, Any],
) -> Figures:
    lat, deliveries = got["latencies"], got["deliveries"]
    return {
        "target": name,
        "rate": rate,
        "published": total,
        "elapsed_s": elapsed,
        "events_per_s": total / elapsed,
        "deliveries": deliveries,
        # Sustained: until the last delivery (a saturated server is still sending when the
        # publisher is done).
        "deliveries_per_s": deliveries / max(elapsed, got["last"] - began),
        "p50_ms": pct_ms(lat, 0.5),
        "p99_ms": pct_ms(lat, 0.99),
        "cpu_s": cpu,
        "cpu_us_per_delivery": cpu / max(1, deliveries) * 1e6,
        "server_cpu_share": cpu / elapsed,
        "busiest_client_cpu_share": busiest / elapsed,
    }


async def storm(target: Target) -> Figures:
    """``--storm`` clients resume at once with ``Last-Event-ID`` while events keep coming."""
    args, port = target.args, target.server.port
    n, nvideos = args.storm, args.videos
    videos = [str(uuid.uuid4()) for _ in range(nvideos)]
    async with Publisher(target.url) as pub:
        await pub.acked([str(uuid.uuid4())], 1)  # the resume point is never 0 ("no id")
        start = await pub.head()
        history = await pub.acked(videos, 10)  # 10 missed events per video
        watched = [videos[i % nvideos] for i in range(n)]
        viewers = target.ids.viewers if target.token else [""]
        specs = [
            Spec(f"video_id={v}", viewers[i % len(viewers)], start, history[v][-1])
            for i, v in enumerate(watched)
        ]
        created = 0

        async def on_created(_msg: object) -> None:
            nonlocal created
            created += 1

        await pub.nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.CREATED.CULTO_EVENTS.>", cb=on_created)
        base = await pub.consumers()
        await wait_clients(port, 0)
        clients = Clients(target.tmp, port, specs, args.procs, True)
        most = 0
        t0 = clients.go()
        live_task = asyncio.create_task(pub.acked(videos, 3))  # live events meanwhile
        while time.time() - t0 < 30:
            most = max(most, await pub.consumers() - base)
            if live_task.done() and await health(port) >= n:
                break
            await asyncio.sleep(0.01)
        live = await live_task
        await _storm_over(pub, base, target.server.pid)
        got = await clients.finish()
    return _storm_figures(specs, videos, history, live, got, t0, created, most)


async def _storm_over(pub: Publisher, base: int, pid: int, most: float = 60.0) -> None:
    """Until no replay consumer is left and the frontend is idle (everyone is resumed)."""
    end = time.monotonic() + most
    while time.monotonic() < end and await pub.consumers() > base:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await settle_cpu(pid)


def _storm_figures(
    specs: list[Spec],
    videos: list[str],
    history: dict[str, list[int]],
    live: dict[str, list[int]],
    got: dict[str, Any],
    t0: float,
    created: int,
    most: int,
) -> Figures:
    lost = duplicated = 0
    for i, ids in enumerate(got["ids"]):
        video = videos[i % len(videos)]
        expected = set(history[video]) | set(live[video])
        lost += len(expected - set(ids))
        duplicated += len(ids) - len(set(ids))
    resumed = got["resumed_at"]
    fig = {"clients": len(specs), "resumed": len(resumed), "refused": got["refused"],
           "all_resumed_s": (max(resumed) - t0) if resumed else float("nan"),
           "p50_resumed_s": (statistics.median(resumed) - t0) if resumed else float("nan"),
           "lost": lost, "duplicated": duplicated, "consumers_created": created,
           "consumers_at_once": most}  # fmt: skip
    print(
        f"  storm: {fig['resumed']}/{fig['clients']} resumed, all in {fig['all_resumed_s']:.2f}s"
        f" (median {fig['p50_resumed_s']:.2f}s); lost {lost}, duplicated {duplicated}, "
        f"consumers created {created} (at most {most} at once)",
        flush=True,
    )
    return fig


async def auth(target: Target) -> Figures:
    """CPU per delivery: admin streams naming videos, then members' unfiltered streams."""
    ids, args = target.ids, target.args
    out: dict[str, list[float]] = {"admin_named": [], "members_unfiltered": []}
    for _ in range(2):
        for kind in out:
            videos = [str(uuid.uuid4()) for _ in range(args.videos)]
            groups = [videos[g::GROUPS] for g in range(GROUPS)]
            channels = {v: ids.channels[g] for g in range(GROUPS) for v in groups[g]}
            async with Publisher(target.url) as pub:
                head = await pub.head()
            if kind == "admin_named":
                specs = [Spec(f"videos={','.join(groups[i % GROUPS])}", ids.admin, head)
                         for i in range(args.clients)]  # fmt: skip
            else:
                specs = [Spec("", ids.members[i % GROUPS], head) for i in range(args.clients)]
            r = await target.round(100.0, specs, channels)
            out[kind].append(r["cpu_us_per_delivery"])
    plain, authorised = (statistics.fmean(v) for v in out.values())
    print(f"  auth: {plain:.2f} µs without, {authorised:.2f} µs with (x{authorised / plain:.3f})")
    return {"admin_named_us": plain, "members_unfiltered_us": authorised}


FOLLOW_VIDEOS = 100
"""Videos per channel in the follow phase (10 channels: 1,000 videos)."""


async def follow(target: Target) -> Figures:
    """CPU per delivery: ``--clients`` streams following one of 10 channels of
    :data:`FOLLOW_VIDEOS` videos each (``?channel_id=``, members of private channels) against
    as many streams naming the same 100 videos (``?videos=``, the admin: no look-ups). Each
    event reaches clients ÷ 10 streams either way; rounds alternate, twice each."""
    ids, args = target.ids, target.args
    out: dict[str, list[float]] = {"videos_named": [], "channel_followed": []}
    lost: dict[str, int] = {kind: 0 for kind in out}
    fanout = args.clients // GROUPS
    for _ in range(2):
        for kind in out:
            groups = [[str(uuid.uuid4()) for _ in range(FOLLOW_VIDEOS)] for _ in range(GROUPS)]
            channels = {v: ids.channels[g] for g in range(GROUPS) for v in groups[g]}
            async with Publisher(target.url) as pub:
                head = await pub.head()
            if kind == "videos_named":
                specs = [Spec(f"videos={','.join(groups[i % GROUPS])}", ids.admin, head)
                         for i in range(args.clients)]  # fmt: skip
            else:
                specs = [Spec(f"channel_id={ids.channels[i % GROUPS]}", ids.members[i % GROUPS],
                              head) for i in range(args.clients)]  # fmt: skip
            r = await target.round(args.follow_rate, specs, channels, fanout)
            out[kind].append(r["cpu_us_per_delivery"])
            lost[kind] += r["lost"]
    named, followed = (statistics.fmean(v) for v in out.values())
    print(
        f"  follow: {followed:.2f} µs per delivery following channels, {named:.2f} µs naming"
        f" videos (channels ÷ videos x{followed / named:.3f}); lost {lost['channel_followed']}"
        f" / {lost['videos_named']}",
        flush=True,
    )
    return {"videos_named_us": named, "channel_followed_us": followed,
            "ratio": followed / named, "rate": args.follow_rate, "fanout": fanout,
            "lost_followed": lost["channel_followed"], "lost_named": lost["videos_named"],
            "rounds": out}  # fmt: skip


async def run_all(args: argparse.Namespace) -> Figures:
    """Every phase, the targets interleaved phase by phase (round by round in the sweep), so
    that the load of a shared machine weighs on each alike; each measures alone."""
    from mesh.embedded import EmbeddedNatsServer

    rates = [float(r) for r in args.rates.split(",") if r] or list(
        QUICK_RATES if args.quick else FULL_RATES
    )
    args.seconds = args.seconds or (3.0 if args.quick else 8.0)
    if args.quick:
        args.idle = "2000"
    keys = ("clients", "videos", "idle", "storm", "procs", "seconds", "uvloop", "quick",
            "heartbeat", "soak_seconds", "soak_clients", "transports")  # fmt: skip
    config = {k: v for k, v in vars(args).items() if k in keys}
    figures: Figures = {"config": {**config, "rates": rates}, "targets": {}}
    names = [n for n in args.targets.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="culto-bench-") as tmp:
        async with EmbeddedNatsServer(store_dir=Path(tmp) / "js", port=0) as natsd:
            ids = await identities(natsd.url)
            targets = {n: Target(args, n, natsd.url, tmp, ids) for n in names}
            figs: dict[str, Figures] = {n: {"idle": {}, "sweeps": {}} for n in names}
            figures["targets"] = figs
            try:
                await _phases(args, rates, targets, figs)
            finally:
                for target in targets.values():
                    target.stop()
    return figures


async def _phases(
    args: argparse.Namespace,
    rates: list[float],
    targets: dict[str, Target],
    figs: dict[str, Figures],
) -> None:
    from bench_soak import soak

    if not args.only_phases:
        await _measure(args, rates, targets, figs)
    for name, target in targets.items():
        if ours(name) and args.soak_seconds and name in args.soak_targets.split(","):
            print(f"\n== {name}: soak", flush=True)
            target.restart()
            figs[name]["soak"] = await soak(target, args.soak_seconds, args.soak_clients)
    if "culto" in targets and args.auth:
        figs["culto"]["auth"] = await auth(targets["culto"])
    if "culto" in targets and args.follow:
        figs["culto"]["follow"] = await follow(targets["culto"])


def ours(name: str) -> bool:
    """Targets of this project (the seed's design serves SSE only, with no history)."""
    return name != "baseline"


async def _measure(
    args: argparse.Namespace,
    rates: list[float],
    targets: dict[str, Target],
    figs: dict[str, Figures],
) -> None:
    """Idle memory, the sweep and the storm, the targets taking turns."""
    for transport in [t for t in args.idle_transports.split(",") if t and args.idle]:
        for name, target in targets.items():
            if ours(name) or transport == "sse":
                print(f"\n== {name}: idle {transport}", flush=True)
                target.restart()  # a fresh process: memory freed by others is not reused
                figs[name]["idle"][transport] = await target.idle(transport)
    for target in targets.values():
        target.restart()
    sweeping = args.profile_phase == "sweep" and "culto" in targets
    profiler = _profile(args, targets["culto"]) if sweeping else None
    try:
        for transport in [t for t in args.transports.split(",") if t]:
            print(f"\n== sweep {transport}", flush=True)
            for rate in rates:
                for name, target in targets.items():
                    if ours(name) or transport == "sse":
                        r = await target.round(rate, transport=transport)
                        sweep = figs[name]["sweeps"].setdefault(transport, {"sweep": []})
                        sweep["sweep"].append(r)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file (the sweep only)
            profiler.wait()
    for name, target in targets.items():
        if ours(name) and args.storm:
            print(f"\n== {name}: storm", flush=True)
            storming = args.profile_phase == "storm" and name == "culto"
            profiler = _profile(args, target) if storming else None
            try:
                figs[name]["storm"] = await storm(target)
            finally:
                if profiler is not None:
                    profiler.send_signal(signal.SIGINT)
                    profiler.wait()


def _profile(args: argparse.Namespace, target: Target) -> subprocess.Popen[bytes] | None:
    """py-spy (from the bench environment) sampling the frontend for the whole run."""
    if not args.profile:
        return None
    import shutil

    spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
    cmd = [
        spy,
        "record",
        "-p",
        str(target.server.pid),
        "-o",
        args.profile,
        "-f",
        "raw",
        "-r",
        "200",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
