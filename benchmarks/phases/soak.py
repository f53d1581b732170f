"""The churn soak of the event-stream benchmark: does the edge leak?

``--soak-clients`` clients (half SSE, half WebSocket) connect (as new viewers: the current
state of their video, then live), stay two to six seconds, leave and connect again, for
``--soak-seconds``, while events are published (``SOAK_RATE``/s over the
clients' videos). The frontend's resident memory is sampled every ``SAMPLE_S`` seconds; after a
warm-up (a quarter of the run, at most two minutes: the allocator's high-water mark is reached
by then) the report gives the growth (last samples against the first ones after warm-up) and
the least-squares slope over the run's second half. A leak of even a few hundred bytes per
connection shows: the clients make thousands of connections.

``--soak-trace N`` traces the target's allocations (:mod:`sse_memory`): a mark when the warm-up
ends, another at the end, and what grew in between (Python objects by file:line, pymalloc,
glibc, RSS). ``--soak-malloc-trim S``, ``--soak-arena-max N``: glibc's remedies, in the target.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import sse_memory
from sse_clients import Spec
from sse_procs import Clients, cpu_seconds, rss_kib

SOAK_RATE = 50.0
SAMPLE_S = 5.0
STAY = (2.0, 6.0)


async def soak(target: Any, seconds: float, clients: int) -> dict[str, Any]:
    """Run the soak against ``target`` (a ``phases.target.Target``)."""
    from phases.publish import Publisher
    from phases.target import source

    args = target.args
    trace = Path(target.tmp) / f"memory-{target.name}.json"
    extra = ["--trace-frames", str(args.soak_trace), "--trace-out", str(trace)]
    extra += ["--malloc-trim", str(args.soak_malloc_trim)]
    arenas = {"MALLOC_ARENA_MAX": str(args.soak_arena_max)} if args.soak_arena_max else None
    target.restart(tuple(extra), arenas)
    videos = [str(uuid.uuid4()) for _ in range(50)]
    # New connections (no resume point): each gets its videos' current state, then live;
    # distinct viewers, as in life (the hub runs a few histories per user at once).
    viewers = target.ids.viewers
    specs = [
        Spec(f"video_id={videos[i % len(videos)]}", viewers[i % len(viewers)],
             transport="ws" if i % 2 else "sse", source=source(i))
        for i in range(clients)
    ]  # fmt: skip
    group = Clients(target.tmp, target.server.port, specs, 2, False, churn=STAY)
    started, cpu0 = time.monotonic(), cpu_seconds(target.server.pid)
    group.go()
    samples: list[tuple[float, int]] = []
    marked = False  # the warm-up's mark (see sse_memory)
    report: dict[str, Any] | None = None
    warm = warmup(seconds, args.soak_warmup)
    async with Publisher(target.url) as pub:
        publishing = asyncio.ensure_future(_publish(pub, videos, seconds))
        try:
            while (now := time.monotonic() - started) < seconds:
                if not marked and now >= warm:
                    await sse_memory.mark(target.server.pid, trace, wait=False)
                    marked = True
                samples.append((now, rss_kib(target.server.pid)))
                await asyncio.sleep(SAMPLE_S)
            # At the end, under the same load.
            report = await sse_memory.mark(target.server.pid, trace, wait=True)
        finally:
            publishing.cancel()
    share = (cpu_seconds(target.server.pid) - cpu0) / (time.monotonic() - started)
    got = await group.finish()
    fig = {**_figures(samples, seconds, warm, got, target.name), "server_cpu_share": share}
    fig["memory"] = {"malloc_trim_s": args.soak_malloc_trim, "arena_max": args.soak_arena_max,
                     "trace_frames": args.soak_trace}  # fmt: skip
    if report is not None:
        fig["memory"]["growth"] = sse_memory.summary(report, target.name)
        fig["memory"]["report"] = report
    return fig


def warmup(seconds: float, given: float = 0.0) -> float:
    """Seconds of the run before its growth is measured: ``given``, else a quarter of the
    run, at most two minutes."""
    return given or min(120.0, seconds / 4)


async def _publish(pub: Any, videos: list[str], seconds: float) -> None:
    while True:
        await pub.steady(SOAK_RATE, min(seconds, 10.0), videos, {})


def _figures(
    samples: list[tuple[float, int]], seconds: float, warm: float, got: dict[str, Any], name: str
) -> dict[str, Any]:
    after = [(t, kib) for t, kib in samples if t >= warm] or samples
    head = statistics.fmean(k for _, k in after[:3])
    tail = statistics.fmean(k for _, k in after[-3:])
    half = [(t, kib) for t, kib in samples if t >= seconds / 2]
    slope = 0.0
    if len(half) > 2:
        slope = statistics.linear_regression([t for t, _ in half], [k for _, k in half]).slope
    fig = {"seconds": seconds, "warmup_s": warm, "samples": samples,
           "growth_after_warmup_kib": tail - head, "slope_kib_per_min": slope * 60,
           "connects": got["connects"], "deliveries": got["deliveries"],
           "rss_start_kib": samples[0][1], "rss_end_kib": samples[-1][1]}  # fmt: skip
    print(
        f"  {name:>8} soak: {seconds:.0f}s, {got['connects']:,} connections; RSS "
        f"{samples[0][1] / 1024:.1f} -> {samples[-1][1] / 1024:.1f} MiB, growth after warm-up "
        f"{(tail - head) / 1024:+.2f} MiB, slope over the second half "
        f"{slope * 60 / 1024:+.3f} MiB/min",
        flush=True,
    )
    return fig
