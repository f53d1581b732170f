"""Where a target's memory goes during the churn soak (``bench_sse.py --soak-trace N``).

Resident memory can grow for two unrelated reasons: Python objects that are kept (a leak, or a
cache filling), or allocators that keep pages they no longer use (fragmentation: pymalloc's
arenas, glibc's heaps and per-thread arenas). To tell them apart the target process
(:func:`install`, in the server role) traces allocations with :mod:`tracemalloc` (``N`` frames
per allocation) and, on ``SIGUSR1``, takes a *mark*: the first (after the soak's warm-up) dumps a
snapshot to disk (not kept in memory, which would count as growth), the second (at the end)
compares with it and writes a JSON report: the allocation sites that grew most (by file:line,
with counts and sizes), the traced total, tracemalloc's own overhead, pymalloc's arenas
(``sys._debugmallocstats``), glibc's ``mallinfo2`` and the RSS, each at both marks. The soak
(:func:`report`, in the main role) prints it next to the RSS growth it measured.

Tracing slows the target and its own bookkeeping takes memory (reported, and subtracted in the
summary): traced runs locate growth; untraced runs measure it.

``--soak-malloc-trim S`` (also for the server role) calls glibc's ``malloc_trim(0)`` every ``S``
seconds in the target, so a run can show how much of the RSS is memory glibc keeps free.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import os
import re
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

TOP = 25
"""Allocation sites reported (the largest growths)."""


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def mallinfo() -> dict[str, int]:
    """glibc's heap figures in KiB: ``arena`` (main and thread heaps, from the OS), ``hblkhd``
    (mmapped blocks), ``uordblks`` (in use), ``fordblks`` (free, kept) — empty off glibc."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return {}
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {f: getattr(info, f) // 1024 for f in ("arena", "hblkhd", "uordblks", "fordblks")}


def pymalloc() -> dict[str, int]:
    """pymalloc's own figures (``sys._debugmallocstats``, which prints to the C stderr):
    arenas, bytes in allocated and available blocks, unused pools..."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as out:
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    stats: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"#\s*(.+?)\s+=\s+([\d,]+)\s*$", line)
        if m:
            stats[m.group(1).strip()] = int(m.group(2).replace(",", ""))
    return stats


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Trimmer:
    """``malloc_trim(0)`` every ``seconds`` on the loop, timed: what a periodic trim would cost
    the product (the loop is held while glibc walks its heap)."""

    def __init__(self, libc: Any, seconds: float) -> None:
        self._libc = libc
        self._seconds = seconds
        self.calls = 0
        self.total_s = 0.0
        self.longest_s = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.call_later(self._seconds, self._trim, loop)

    def _trim(self, loop: asyncio.AbstractEventLoop) -> None:
        started = time.perf_counter()
        self._libc.malloc_trim(0)
        took = time.perf_counter() - started
        self.calls += 1
        self.total_s += took
        self.longest_s = max(self.longest_s, took)
        loop.call_later(self._seconds, self._trim, loop)

    def figures(self) -> dict[str, float]:
        return {"calls": self.calls, "total_ms": self.total_s * 1e3,
                "longest_ms": self.longest_s * 1e3}  # fmt: skip


def _state(trimmer: Trimmer | None = None) -> dict[str, Any]:
    current, peak = tracemalloc.get_traced_memory()
    return {
        "trim": trimmer.figures() if trimmer is not None else {},
        "time": time.monotonic(),
        "rss_kib": _rss_kib(),
        "traced_kib": current // 1024,
        "traced_peak_kib": peak // 1024,
        "tracemalloc_overhead_kib": tracemalloc.get_tracemalloc_memory() // 1024,
        "mallinfo": mallinfo(),
        "pymalloc": pymalloc(),
    }


class MemoryTrace:
    """The target's side: marks on ``SIGUSR1`` (see the module docstring). Without tracing
    (``frames`` 0) a mark records the allocators' figures only (pymalloc's are there only
    then: ``sys._debugmallocstats`` says nothing while tracemalloc hooks the allocator)."""

    def __init__(self, frames: int, out: Path, trimmer: Trimmer | None = None) -> None:
        self._frames = frames
        self._trimmer = trimmer
        self._out = out
        self._base = out.with_suffix(".snapshot")
        self._first: dict[str, Any] | None = None
        if frames:
            tracemalloc.start(frames)

    def mark(self) -> None:
        """The first call dumps a snapshot; the second writes the report to ``out``."""
        snapshot = _filtered(tracemalloc.take_snapshot()) if self._frames else None
        state = _state(self._trimmer)
        if self._first is None:
            if snapshot is not None:
                snapshot.dump(str(self._base))
            self._first = state
            return
        report: dict[str, Any] = {"frames": self._frames, "first": self._first, "last": state}
        if snapshot is not None:
            base = tracemalloc.Snapshot.load(str(self._base))
            report["by_line"] = _top(snapshot.compare_to(base, "lineno"))
            report["by_file"] = _top(snapshot.compare_to(base, "filename"))
        if self._frames > 1 and snapshot is not None:
            report["by_traceback"] = _top(snapshot.compare_to(base, "traceback"), 10)
        tmp = self._out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report))
        tmp.rename(self._out)


def _filtered(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces(
        [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            tracemalloc.Filter(False, "<unknown>"),
        ]
    )


def _top(diffs: list[tracemalloc.StatisticDiff], n: int = TOP) -> list[dict[str, Any]]:
    growing = sorted(diffs, key=lambda d: d.size_diff, reverse=True)[:n]
    return [
        {
            "where": [f"{f.filename}:{f.lineno}" for f in d.traceback],
            "size_diff_kib": d.size_diff / 1024,
            "size_kib": d.size / 1024,
            "count_diff": d.count_diff,
            "count": d.count,
        }
        for d in growing
        if d.size_diff > 0
    ]


def install(frames: int, out: str, trim_seconds: float) -> None:
    """In the target's loop: ``SIGUSR1`` marks (when ``out`` is set), tracing (``frames`` >
    0), periodic ``malloc_trim(0)`` (``trim_seconds`` > 0)."""
    loop = asyncio.get_running_loop()
    libc = _libc()
    trimmer = Trimmer(libc, trim_seconds) if trim_seconds > 0 and libc is not None else None
    if trimmer is not None:
        trimmer.start(loop)
    if out:
        trace = MemoryTrace(frames, Path(out), trimmer)
        loop.add_signal_handler(signal.SIGUSR1, trace.mark)


async def mark(pid: int, out: Path, wait: bool) -> dict[str, Any] | None:
    """The soak's side: ask target ``pid`` for a mark; ``wait``: for its report (the second
    mark) and return it."""
    os.kill(pid, signal.SIGUSR1)
    if not wait:
        return None
    for _ in range(1200):  # a snapshot of a large heap takes a while
        if (report := _read(out)) is not None:
            return report
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no memory report from {pid} in {out}")


def _read(out: Path) -> dict[str, Any] | None:
    return dict(json.loads(out.read_text())) if out.exists() else None


def summary(report: dict[str, Any], name: str, lines: int = 12) -> dict[str, float]:
    """Print what grew between the marks; return the growth figures (KiB)."""
    first, last = report["first"], report["last"]

    def grew(*path: str) -> float:
        a: Any = first
        b: Any = last
        for p in path:
            a, b = a.get(p, 0), b.get(p, 0)
        return float(b - a)

    figures = {
        "seconds": last["time"] - first["time"],
        "rss_kib": grew("rss_kib"),
        "traced_kib": grew("traced_kib"),
        "tracemalloc_overhead_kib": grew("tracemalloc_overhead_kib"),
        "pymalloc_arenas": grew("pymalloc", "arenas allocated current"),
        "pymalloc_allocated_kib": grew("pymalloc", "bytes in allocated blocks") / 1024,
        "pymalloc_available_kib": grew("pymalloc", "bytes in available blocks") / 1024,
        "glibc_in_use_kib": grew("mallinfo", "uordblks"),
        "glibc_free_kib": grew("mallinfo", "fordblks"),
        "glibc_heap_kib": grew("mallinfo", "arena") + grew("mallinfo", "hblkhd"),
    }
    trims = last.get("trim", {})
    if trims.get("calls"):
        figures["trim_calls"] = trims["calls"]
        figures["trim_mean_ms"] = trims["total_ms"] / trims["calls"]
        figures["trim_longest_ms"] = trims["longest_ms"]
    untraced = figures["rss_kib"] - figures["tracemalloc_overhead_kib"]
    print(
        f"  {name:>8} {figures['seconds']:.0f}s between marks: RSS "
        f"{figures['rss_kib']:+,.0f} KiB ({untraced:+,.0f} without tracemalloc's own "
        f"{figures['tracemalloc_overhead_kib']:+,.0f}), Python objects (traced) "
        f"{figures['traced_kib']:+,.0f} KiB; pymalloc arenas {figures['pymalloc_arenas']:+.0f}, "
        f"blocks in use {figures['pymalloc_allocated_kib']:+,.0f} KiB, free in its pools "
        f"{figures['pymalloc_available_kib']:+,.0f} KiB; glibc in use "
        f"{figures['glibc_in_use_kib']:+,.0f} KiB, free kept {figures['glibc_free_kib']:+,.0f}"
        f" KiB, heap {figures['glibc_heap_kib']:+,.0f} KiB",
        flush=True,
    )
    if "trim_calls" in figures:
        print(
            f"  {name:>8} malloc_trim: {figures['trim_calls']:.0f} calls, "
            f"{figures['trim_mean_ms']:.2f} ms each on average, longest "
            f"{figures['trim_longest_ms']:.2f} ms (the loop is held meanwhile)",
            flush=True,
        )
    for site in report.get("by_line", [])[:lines]:
        print(
            f"    {site['size_diff_kib']:+9.1f} KiB {site['count_diff']:+8,d} blocks "
            f"(now {site['size_kib']:,.1f} KiB, {site['count']:,d})  {site['where'][0]}",
            flush=True,
        )
    return figures
