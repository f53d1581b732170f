"""One target (a frontend process) and the measures of one round: idle memory, a sweep round."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from sse_clients import Spec
from sse_procs import Clients, Server, cpu_seconds, health, rss_kib, settle_cpu, wait_clients
from sse_report import Figures, pct_ms, print_round

from phases.publish import Identities, Publisher

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
        stages = getattr(args, "stages", False) and self._kind == "culto"
        self.stages = Path(tmp) / f"stages-{name}.json" if stages else None
        self._server: Server | None = self._start()

    def _start(self, extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Server:
        a = self.args
        if self.stages is not None:
            extra = (*extra, "--stages-out", str(self.stages))
        return Server(self._kind, self.url, a.uvloop, a.heartbeat, self._code, extra, env)

    @property
    def server(self) -> Server:
        """The target's process (started again if :meth:`pause` stopped it)."""
        if self._server is None:
            self._server = self._start()
        return self._server

    def restart(self, extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        """A fresh server process (``extra``: more arguments of its role, ``env``: more
        environment)."""
        self.stop()
        self._server = self._start(extra, env)

    def pause(self) -> None:
        """Stop the process while another target measures: an idle frontend still follows
        the whole feed, and its CPU would weigh on the one measured (on 2 cores, the sweep's
        40k deliveries/s round saturated the machine with both running)."""
        self.stop()

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
        if self.stages is not None:
            r["stages"] = await self._stages()
        r["expected"] = total * (fanout or len(specs) // len(videos))
        r["lost"] = r["expected"] - r["deliveries"]
        print_round(r)
        return r

    async def _stages(self) -> Figures:
        """The target's stage figures of the round (:mod:`sse_stages`), then reset."""
        assert self.stages is not None
        self.stages.unlink(missing_ok=True)
        os.kill(self.server.pid, signal.SIGUSR2)
        for _ in range(100):
            if self.stages.exists():
                await asyncio.sleep(0.05)  # written whole: one small write
                return json.loads(self.stages.read_text())  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)
        raise RuntimeError(f"no stage figures from {self.name}")

    async def sweep(self, rates: list[float], transport: str) -> Figures:
        """Each rate over ``transport``."""
        rounds = [await self.round(rate, transport=transport) for rate in rates]
        best = max(rounds, key=lambda r: r["deliveries_per_s"] if not r["lost"] else 0)
        return {"sweep": rounds, "saturation_deliveries_per_s": best["deliveries_per_s"]}

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


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
