"""The reconnect storm: many clients resume at once with ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from typing import Any

from sse_clients import Spec
from sse_procs import Clients, cpu_seconds, health, settle_cpu, wait_clients
from sse_report import Figures

from phases.publish import Publisher
from phases.target import Target, source


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
            # From several loopback addresses: one runs out of ports after a few rounds
            # (each round's 1,000 connections linger in TIME_WAIT), slowing the later rounds.
            Spec(
                f"video_id={v}", viewers[i % len(viewers)], start, history[v][-1], source=source(i)
            )
            for i, v in enumerate(watched)
        ]
        created = 0

        async def on_created(_msg: object) -> None:
            nonlocal created
            created += 1

        await pub.nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.CREATED.CULTO_EVENTS.>", cb=on_created)
        tap = RequestTap()
        await tap.start(pub.nc)
        base = await pub.consumers()
        await wait_clients(port, 0)
        clients = Clients(target.tmp, port, specs, args.procs, True)
        most = 0
        cpu0 = cpu_seconds(target.server.pid)
        t0 = clients.go()
        live_task = asyncio.create_task(pub.acked(videos, 3))  # live events meanwhile
        while time.time() - t0 < 30:
            most = max(most, await pub.consumers() - base)
            if live_task.done() and await health(port) >= n:
                break
            await asyncio.sleep(0.01)
        live = await live_task
        await _storm_over(pub, base, target.server.pid)
        # The frontend's CPU for the storm (the live events' few hundred deliveries included):
        # resuming is CPU-bound on a shared machine; this is what one client costs it.
        cpu_ms = (cpu_seconds(target.server.pid) - cpu0) * 1000 / n
        connected = await health(port)  # below n: streams the server ended (slow clients)
        got = await clients.finish()
    figures = _storm_figures(specs, videos, history, live, got, t0, created, most)
    print(f"  storm CPU: {cpu_ms:.2f} ms per resuming client (frontend)", flush=True)
    ended = {"connected_at_end": connected, "closed_by_server": got.get("closed", 0)}
    if connected < n or ended["closed_by_server"]:
        print(f"  storm: {n - connected} streams ended by the server before the end", flush=True)
    return {**figures, **tap.figures(n), "cpu_ms_per_client": cpu_ms, **ended}


class RequestTap:
    """Counts the history reads the target sends to JetStream during the storm, as the server
    sees them (a plain subscription receives a copy of every request): batched direct gets by
    kind, and how many were the very same request body as an earlier one of the storm (what
    coalescing identical requests could save). Works for any target, ``before`` included."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.bodies: Counter[bytes] = Counter()

    async def start(self, nc: Any) -> None:
        """Subscribe (on the publisher's connection) to the direct and leader reads."""
        await nc.subscribe("$JS.API.DIRECT.GET.CULTO_EVENTS", cb=self._direct)
        await nc.subscribe("$JS.API.STREAM.MSG.GET.CULTO_EVENTS", cb=self._leader)
        await nc.flush()

    async def _direct(self, msg: Any) -> None:
        self.bodies[msg.data] += 1
        try:
            body = json.loads(msg.data)
        except ValueError:
            body = {}
        if "multi_last" in body:
            self.kinds["multi_last"] += 1
        elif "next_by_subj" in body:
            self.kinds["replay"] += 1
        else:
            self.kinds["first_seq"] += 1

    async def _leader(self, _msg: Any) -> None:
        self.kinds["leader"] += 1

    def figures(self, clients: int) -> dict[str, Any]:
        """Requests in all, per client, by kind, and the repeated ones."""
        total = sum(self.kinds.values())
        repeated = sum(c - 1 for c in self.bodies.values())
        print(
            f"  storm reads: {total} requests ({total / clients:.2f} per client) "
            f"{dict(self.kinds)}; {repeated} repeated an earlier body",
            flush=True,
        )
        return {"requests": total, "requests_per_client": total / clients,
                "requests_by_kind": dict(self.kinds), "requests_repeated": repeated}  # fmt: skip


async def _storm_over(pub: Publisher, base: int, pid: int, most: float = 60.0) -> None:
    """Until no replay consumer is left and the frontend is idle (everyone is resumed)."""
    end = time.monotonic() + most
    while time.monotonic() < end and await pub.consumers() > base:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await settle_cpu(pid)
    # Twice, a second apart: a frontend starved by the machine's load also uses little CPU,
    # and clients stopped while the last live events are still on their way count them lost.
    await asyncio.sleep(1.0)
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
    lost = duplicated = lost_history = gaps = 0
    for i, ids in enumerate(got["ids"]):
        video = videos[i % len(videos)]
        expected = set(history[video]) | set(live[video])
        missing = expected - set(ids)
        lost += len(missing)
        lost_history += len(set(history[video]) - set(ids))  # the replay's own share
        # Missing below what the client did receive: a hole, not a tail still unread when
        # the clients were stopped.
        gaps += sum(1 for seq in missing if ids and seq < max(ids))
        duplicated += len(ids) - len(set(ids))
    resumed = got["resumed_at"]
    fig = {"clients": len(specs), "resumed": len(resumed), "refused": got["refused"],
           "all_resumed_s": (max(resumed) - t0) if resumed else float("nan"),
           "p50_resumed_s": (statistics.median(resumed) - t0) if resumed else float("nan"),
           "first_resumed_s": (min(resumed) - t0) if resumed else float("nan"),
           "lost": lost, "lost_history": lost_history, "gaps": gaps, "duplicated": duplicated,
           "consumers_created": created, "consumers_at_once": most}  # fmt: skip
    print(
        f"  storm: {fig['resumed']}/{fig['clients']} resumed, all in {fig['all_resumed_s']:.2f}s"
        f" (median {fig['p50_resumed_s']:.2f}s, first {fig['first_resumed_s']:.2f}s); "
        f"lost {lost} ({lost_history} of the history, {gaps} in holes), "
        f"duplicated {duplicated}, "
        f"consumers created {created} (at most {most} at once)",
        flush=True,
    )
    return fig


def storm_median(rounds: list[Figures]) -> Figures:
    """The round whose time to resume everyone is the median (its times, losses and
    counts: one real round, not a mix), with the median over the rounds of the requests and
    the CPU per client (which vary from round to round on their own), and every round's
    figures beside them."""
    ranked = sorted(rounds, key=lambda r: r["all_resumed_s"])
    median = ranked[(len(ranked) - 1) // 2]
    return {
        **median,
        "rounds": len(rounds),
        "requests_per_client": statistics.median(r["requests_per_client"] for r in rounds),
        "cpu_ms_per_client": statistics.median(r["cpu_ms_per_client"] for r in rounds),
        "all_resumed_s_rounds": [r["all_resumed_s"] for r in rounds],
        "requests_per_client_rounds": [r["requests_per_client"] for r in rounds],
        "cpu_ms_per_client_rounds": [r["cpu_ms_per_client"] for r in rounds],
        "lost_rounds": [r["lost"] for r in rounds],
    }
