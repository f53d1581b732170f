"""Drain benchmark: 1,000 SSE streams on a frontend that is rolled (SIGTERM), as Kubernetes does.

Runs one nats-server, ``culto provision`` and two ``culto frontend`` processes. Every client
streams from frontend A (10 clients per video, 100 videos) while events are published; A gets
SIGTERM; each client behaves as a browser's ``EventSource``: when its stream ends it waits the
last ``retry:`` it was given, then resumes on frontend B with ``Last-Event-ID``. Reported:

- the time from SIGTERM to A's exit;
- when the clients reconnected (min / median / p99 / max after SIGTERM) and the peak
  reconnect rate (the most reconnects in one 100 ms window);
- events lost, duplicated or out of order per client against JetStream's truth (must be 0).

The baseline, measured in the same run, is the same roll without spread
(``CULTO_DRAIN_SPREAD`` at its floor, 0.25 s: every client told to come back at once); the
ratio of peak reconnect rates is what the spread buys.

Usage: ``.venv/bin/python benchmarks/bench_drain.py [--clients 1000] [--spread 5] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# The helpers live with the tests; make the repository importable when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mesh.connection import MeshConnection
from mesh.events import EventPublisher
from mesh.identity.store import IdentityStore
from mesh.replay import EventReader
from mesh.subjects import event_filters
from schemas.events import VideoStatusEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.ids import new_video_id
from services.identity.accounts import Accounts
from tests.conftest import start_nats
from tests.frontend_server.sse_client import SSEClient
from tests.support import CultoProcess, Member, culto_env, eventually, make_member

CLIENTS_PER_VIDEO = 10


@dataclass
class Client:
    """One ``EventSource``-like client."""

    video: str
    seqs: list[int] = field(default_factory=list)
    reconnected_at: float | None = None
    retry_ms: int | None = None


@dataclass
class Roll:
    """What one roll measured."""

    spread_s: float
    clients: int
    exit_s: float
    reconnects: list[float]
    peak_per_100ms: int
    lost: int
    duplicated: int
    disordered: int

    def figures(self) -> dict[str, object]:
        times = sorted(self.reconnects)

        def at(q: float) -> float:
            return round(times[min(len(times) - 1, int(q * len(times)))], 3) if times else -1.0

        return {
            "drain_spread_s": self.spread_s,
            "clients": self.clients,
            "sigterm_to_exit_s": round(self.exit_s, 3),
            "reconnected": len(times),
            "reconnect_min_s": at(0.0),
            "reconnect_median_s": round(statistics.median(times), 3) if times else -1.0,
            "reconnect_p99_s": at(0.99),
            "reconnect_max_s": at(1.0),
            "peak_reconnects_per_100ms": self.peak_per_100ms,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "out_of_order": self.disordered,
        }


async def _follow(client: Client, ports: list[int], admin: Member, rolled: list[float]) -> None:
    port = ports[0]
    while True:
        headers = {"Last-Event-ID": str(client.seqs[-1] if client.seqs else 0)}
        try:
            stream = await SSEClient.open(
                port, query=[("video_id", client.video)], headers=headers, auth=admin.auth
            )
        except (OSError, TimeoutError):
            port = ports[1]
            await asyncio.sleep(0.05)
            continue
        if rolled and client.reconnected_at is None and port == ports[1]:
            client.reconnected_at = time.monotonic() - rolled[0]
        try:
            while (frame := await stream.next(timeout=3600)) is not None:
                if frame.id is not None:
                    client.seqs.append(frame.seq)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            await stream.close()
        client.retry_ms = stream.retry
        if rolled:  # an EventSource waits its retry, then comes back (to the other replica)
            await asyncio.sleep((stream.retry or 3000) / 1000)
            port = ports[1]


async def roll(root: Path, clients: int, spread: float, say: object) -> Roll:
    """One roll of a frontend carrying ``clients`` streams."""
    nats = start_nats(root / "js")
    env = culto_env(
        root / "data",
        NATS_URL=nats.url,
        CULTO_ENV="dev",
        PORT="0",
        CULTO_DRAIN_SPREAD=f"{spread}s",
        CULTO_DRAIN_TIMEOUT=f"{max(15.0, spread + 5)}s",
        CULTO_MAX_STREAMS_PER_CLIENT=str(2 * clients),
        CULTO_MAX_CONNECTIONS_PER_SECOND=str(10 * clients),
        CULTO_RATE_LIMIT="1000000",
    )
    procs: list[CultoProcess] = []
    try:
        provisioning = CultoProcess(["provision"], env)
        assert provisioning.wait(60) == 0, provisioning.output
        procs = [CultoProcess(["frontend"], env) for _ in range(2)]
        ports = [int(p.wait_for(r"frontend on http://\S+:(\d+)").group(1)) for p in procs]
        return await _roll(nats.url, ports, procs[0], clients, spread, say)
    finally:
        for proc in procs:
            proc.stop()
        nats.stop()


async def _roll(
    url: str, ports: list[int], victim: CultoProcess, count: int, spread: float, say: object
) -> Roll:
    log = say if callable(say) else print
    async with MeshConnection(url, name="bench-drain") as mesh:
        admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
        for port in ports:
            await _accepted(port, admin)
        videos = [new_video_id() for _ in range(max(1, count // CLIENTS_PER_VIDEO))]
        clients = [Client(videos[i % len(videos)]) for i in range(count)]
        rolled: list[float] = []
        tasks = [asyncio.create_task(_follow(c, ports, admin, rolled)) for c in clients]
        publisher = EventPublisher(mesh)
        await asyncio.sleep(2)  # every client connected (each replays its history at first)
        log(f"{count} clients on frontend A; publishing, then SIGTERM")
        stop = asyncio.Event()
        pub = asyncio.create_task(_publish(publisher, videos, stop))
        await asyncio.sleep(1)
        rolled.append(time.monotonic())
        victim.proc.send_signal(signal.SIGTERM)
        exit_s = await asyncio.to_thread(_wait_exit, victim, rolled[0])
        log(f"frontend A exited {exit_s:.2f}s after SIGTERM")
        await asyncio.sleep(spread + 2)
        stop.set()
        await pub
        truth = {v: await _stored(mesh, v) for v in videos}
        await eventually(
            lambda: all(c.seqs and c.seqs[-1] >= truth[c.video][-1] for c in clients), 60
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    reconnects = [c.reconnected_at for c in clients if c.reconnected_at is not None]
    windows: dict[int, int] = {}
    for t in reconnects:
        windows[int(t * 10)] = windows.get(int(t * 10), 0) + 1
    return Roll(
        spread_s=spread,
        clients=count,
        exit_s=exit_s,
        reconnects=reconnects,
        peak_per_100ms=max(windows.values(), default=0),
        lost=sum(len(set(truth[c.video]) - set(c.seqs)) for c in clients),
        duplicated=sum(len(c.seqs) - len(set(c.seqs)) for c in clients),
        disordered=sum(c.seqs != sorted(c.seqs) for c in clients),
    )


def _wait_exit(proc: CultoProcess, since: float) -> float:
    proc.wait(120)
    return time.monotonic() - since


async def _publish(publisher: EventPublisher, videos: list[str], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        for video in videos:
            event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=n % 100)
            await publisher.publish(event, channel_id=DEFAULT_CHANNEL_ID)
        n += 1
        await asyncio.sleep(0.1)


async def _stored(mesh: MeshConnection, video: str) -> list[int]:
    seqs: list[int] = []
    async for batch in EventReader(mesh).replay(event_filters([video]), 0):
        seqs += [e.seq for e in batch]
    return seqs


async def _accepted(port: int, member: Member) -> None:
    async def accepts() -> bool:
        probe = await SSEClient.open(port, auth=member.auth, headers={"Connection": "close"})
        await probe.close()
        return probe.status != 401

    await eventually(accepts, 30, interval=0.1)


def main() -> int:
    """Run the roll with the spread, then the baseline; exit 1 if anything was lost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=5.0, help="CULTO_DRAIN_SPREAD (s)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    def say(line: str) -> None:
        print(f"[drain] {line}", file=sys.stderr, flush=True)

    results = {}
    for name, spread in (("spread", args.spread), ("baseline_no_spread", 0.25)):
        with tempfile.TemporaryDirectory(prefix="culto-drain-") as tmp:
            say(f"roll with CULTO_DRAIN_SPREAD={spread}s")
            results[name] = asyncio.run(roll(Path(tmp), args.clients, spread, say)).figures()
    peak, base = results["spread"], results["baseline_no_spread"]
    ratio = float(base["peak_reconnects_per_100ms"]) / max(
        1, int(peak["peak_reconnects_per_100ms"])
    )  # type: ignore[arg-type]
    results["baseline_peak_rate_over_spread_peak_rate"] = round(ratio, 2)  # type: ignore[assignment]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, figures in results.items():
            print(f"{name}: {figures}")
    bad = any(r["lost"] or r["duplicated"] or r["out_of_order"] for r in (peak, base))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
