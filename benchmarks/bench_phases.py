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
FULL_RATES = (500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
QUICK_RATES = (1000.0, 4000.0, 16000.0)
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


class Target:
    """The phases against one running target."""

    def __init__(self, args: argparse.Namespace, name: str, url: str, tmp: str, ids: Identities):
        self.args, self.name, self.url, self.tmp, self.ids = args, name, url, tmp, ids
        self.token = ids.admin if name == "culto" else ""
        self.server = Server(name, url, args.uvloop)

    async def specs(self, videos: list[str], n: int) -> list[Spec]:
        """``n`` clients over ``videos``, resuming from the stream's end (only live events
        are measured: no snapshot)."""
        async with Publisher(self.url) as pub:
            head = await pub.head()
        return [Spec(f"video_id={videos[i % len(videos)]}", self.token, head) for i in range(n)]

    async def idle(self) -> Figures:
        """RSS per idle stream, ``--idle`` of them."""
        n = self.args.idle
        await wait_clients(self.server.port, 0)
        before = rss_kib(self.server.pid)
        videos = [str(uuid.uuid4()) for _ in range(self.args.videos)]
        clients = Clients(self.tmp, self.server.port, await self.specs(videos, n), 4, False)
        try:
            clients.go()
            took = await wait_clients(self.server.port, n, timeout=300)
            await asyncio.sleep(2.0)
            after = rss_kib(self.server.pid)
            n = await health(self.server.port)  # connected, in case some connects failed
        finally:
            clients.kill()
        kib = (after - before) / n
        print(
            f"  {self.name:>8} idle: {n:,} streams in {took:.1f}s, {kib:.2f} KiB each", flush=True
        )
        return {"connections": n, "rss_before_kib": before, "rss_after_kib": after,
                "kib_per_connection": kib, "connect_s": took}  # fmt: skip

    async def round(
        self,
        rate: float,
        specs: list[Spec] | None = None,
        channels: dict[str, str] | None = None,
        fanout: int | None = None,
    ) -> Figures:
        """Connect, publish at ``rate`` for ``--seconds``, collect what the clients measured
        (``fanout``: clients each event reaches; by default clients ÷ videos)."""
        args, port = self.args, self.server.port
        videos = [str(uuid.uuid4()) for _ in range(args.videos)]
        if specs is None:
            specs = await self.specs(videos, args.clients)
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
        r["expected"] = total * (fanout or len(specs) // len(videos))
        r["lost"] = r["expected"] - r["deliveries"]
        print_round(r)
        return r

    async def sweep(self, rates: list[float]) -> Figures:
        """Each rate, then half the saturation."""
        rounds = [await self.round(rate) for rate in rates]
        best = max(rounds, key=lambda r: r["deliveries_per_s"])
        saturation = best["deliveries_per_s"]
        fan = self.args.clients // self.args.videos
        half = await self.round(round(saturation / fan / 2))
        return {"sweep": rounds, "saturation_deliveries_per_s": saturation, "half": half}

    def stop(self) -> None:
        self.server.stop()


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
    """Every phase, target after target (each alone on the machine)."""
    from mesh.embedded import EmbeddedNatsServer

    rates = [float(r) for r in args.rates.split(",") if r] or list(
        QUICK_RATES if args.quick else FULL_RATES
    )
    args.seconds = args.seconds or (3.0 if args.quick else 8.0)
    if args.quick:
        args.idle = min(args.idle, 2000)
    keys = ("clients", "videos", "idle", "storm", "procs", "seconds", "uvloop", "quick")
    config = {k: v for k, v in vars(args).items() if k in keys}
    figures: Figures = {"config": {**config, "rates": rates}, "targets": {}}
    with tempfile.TemporaryDirectory(prefix="culto-bench-") as tmp:
        async with EmbeddedNatsServer(store_dir=Path(tmp) / "js", port=0) as natsd:
            ids = await identities(natsd.url)
            for name in args.targets.split(","):
                print(f"\n== {name}", flush=True)
                target = Target(args, name, natsd.url, tmp, ids)
                profiler = _profile(args, target) if name == "culto" else None
                try:
                    fig: Figures = {}
                    if not args.only_phases:
                        fig["idle"] = await target.idle()
                        fig.update(await target.sweep(rates))
                    if name == "culto" and args.storm and not args.only_phases:
                        fig["storm"] = await storm(target)
                    if name == "culto" and args.auth:
                        fig["auth"] = await auth(target)
                    if name == "culto" and args.follow:
                        fig["follow"] = await follow(target)
                finally:
                    if profiler is not None:
                        profiler.send_signal(signal.SIGINT)  # py-spy writes its file
                        profiler.wait()
                    target.stop()
                figures["targets"][name] = fig
    return figures


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
