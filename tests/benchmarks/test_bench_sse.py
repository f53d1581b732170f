"""The SSE benchmark is not run here (``tox -e bench``); its modules import and parse."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sse.py"


def _bench_module(name: str) -> Any:
    """A module of ``benchmarks/`` (not a package: imported from its directory)."""
    sys.path.insert(0, str(BENCH.parent))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH.parent))


def test_bench_sse_parses_its_arguments() -> None:
    # Without the bench environment's packages (sse-starlette, uvicorn, matplotlib): those are
    # imported only by the roles that use them.
    done = subprocess.run(
        [sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    options = ("--quick", "--targets", "--before", "--rates", "--idle", "--storm", "--soak-seconds")
    for option in (*options, "--json", "--plot", "--follow", "--follow-rate", "--only-phases"):
        assert option in done.stdout
    for option in ("--soak-trace", "--soak-warmup", "--soak-malloc-trim", "--soak-arena-max",
                   "--stages"):  # fmt: skip
        assert option in done.stdout


def test_bench_summary_compares_targets() -> None:
    sse_report = _bench_module("sse_report")

    def target(us: float, kib: float) -> dict[str, object]:
        rounds = {
            t: {"sweep": [{"rate": 1000.0, "lost": 0, "p50_ms": 1.0, "p99_ms": 5.0,
                           "cpu_us_per_delivery": us * (1.2 if t == "ws" else 1.0)}]}
            for t in ("sse", "ws")
        }  # fmt: skip
        idle = {"steps": [{"connections": 10000, "kib_per_connection": kib}]}
        return {"idle": {"sse": idle}, "sweeps": rounds}

    fig = {"targets": {"culto": target(10.0, 4.0), "before": target(30.0, 20.0)}}
    table = "\n".join(sse_report.summary(fig))
    assert "| measure | culto | before | before ÷ culto |" in table
    assert (
        "| SSE at 1,000 events/s: server CPU per delivery (µs) | 10.00 | 30.00 | x3.00 |" in table
    )
    assert "| RSS per idle SSE stream, 10,000 open (KiB) | 4.00 | 20.00 | x5.00 |" in table
    assert "| WebSocket ÷ SSE CPU per delivery (culto) | 1,000/s: 1.20 | | |" in table


def test_bench_summary_has_the_follow_row_and_skips_phases_not_run() -> None:
    sse_report = _bench_module("sse_report")
    follow = {"channel_followed_us": 7.0, "videos_named_us": 14.0, "ratio": 0.5}
    table = "\n".join(sse_report.summary({"targets": {"culto": {"follow": follow}}}))
    assert "following 10 channels ÷ naming their videos (µs) | 7.00 ÷ 14.00 = x0.500" in table
    assert "events/s" not in table and "idle" not in table  # --only-phases: none ran


def test_soak_memory_marks_name_the_allocation_site_that_grew(tmp_path: Path) -> None:
    memory = _bench_module("sse_memory")
    out = tmp_path / "memory.json"
    trace = memory.MemoryTrace(1, out)
    try:
        trace.mark()
        kept = [bytes(1000) + bytes([i % 256]) for i in range(2000)]  # the growth
        trace.mark()
    finally:
        tracemalloc.stop()
    report = json.loads(out.read_text())
    here = f"{__file__}:"
    site = next(s for s in report["by_line"] if s["where"][0].startswith(here))
    assert site["count_diff"] >= 2000 and site["size_diff_kib"] >= 1900
    assert len(kept) == 2000
    figures = memory.summary(report, "test")
    assert figures["traced_kib"] >= 1900
    assert figures["tracemalloc_overhead_kib"] >= 0


def test_soak_memory_marks_without_tracing_read_the_allocators(tmp_path: Path) -> None:
    memory = _bench_module("sse_memory")
    out = tmp_path / "memory.json"
    trace = memory.MemoryTrace(0, out)
    trace.mark()
    trace.mark()
    report = json.loads(out.read_text())
    assert "by_line" not in report
    assert report["last"]["pymalloc"]["arenas allocated current"] > 0
    assert report["last"]["rss_kib"] > 0
    if memory.mallinfo():  # glibc
        assert report["last"]["mallinfo"]["uordblks"] > 0


def test_stages_split_an_events_latency_and_name_what_stalled(tmp_path: Path) -> None:
    stages = _bench_module("sse_stages")
    out = tmp_path / "stages.json"
    s = stages.Stages(out)
    sent = time.time() - 0.010  # published 10 ms ago
    body = b'{"video_id":"v","message":"t=%.6f","progress":1}' % sent
    s.dispatched(body, sent + 0.004)  # the hub saw it 4 ms after publishing
    s.dispatched(b'{"message":"no stamp"}', sent)  # not a benchmark event: not counted
    s.flushed()  # its write pass: now
    s.flushed()  # a pass with nothing new: no burst
    s.collecting("start", {"generation": 2, "collected": 0})
    s.collecting("stop", {"generation": 2, "collected": 7})
    s.slow.append(("Writes.flush", 0.02))
    s.slow.append(("Writes.flush", 0.01))
    s.dump()
    got = json.loads(out.read_text())
    assert got["feed_ms"]["n"] == 1 and 3.9 < got["feed_ms"]["p50"] < 4.1
    assert got["written_ms"]["n"] == 1 and got["written_ms"]["p50"] >= 10.0
    assert got["events_per_flush"]["n"] == 1 and got["events_per_flush"]["p50"] == 1
    assert got["gc"]["runs"] == 1 and got["gc"]["full_runs"] == 1 and got["gc"]["collected"] == 7
    assert got["slow_callbacks"]["Writes.flush"] == {"n": 2, "total_ms": 30.0, "max_ms": 20.0}
    s.dump()  # the next round starts empty
    assert json.loads(out.read_text())["feed_ms"] == {"n": 0}


def _run_bench(tmp_path: Path, script: str, *args: str) -> tuple[str, Any]:
    """Run a benchmark of ``benchmarks/`` with ``args`` and ``--json``; its output and figures."""
    out = tmp_path / "figures.json"
    cmd = [sys.executable, str(BENCH.parent / script), *args, "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, json.loads(out.read_text())


def test_bench_feed_reads_every_event_and_reports_ratios(tmp_path: Path) -> None:
    """A small run of ``bench_feed.py`` (real nats-server, one reader process per target):
    every target must see each stored event once, and the figures are written."""
    stdout, figures = _run_bench(tmp_path, "bench_feed.py", "--events", "300", "--rounds", "1")
    assert "| culto |" in stdout and "| baseline |" in stdout
    assert set(figures["medians"]) == {"baseline", "culto"}
    assert all(value > 0 for value in figures["medians"].values())


def test_bench_send_measures_both_ways_of_writing(tmp_path: Path) -> None:
    """A small run of ``bench_send.py`` (real loopback sockets, a draining child process)."""
    args = ("--sockets", "20", "--passes", "8", "--batch", "4")
    stdout, figures = _run_bench(tmp_path, "bench_send.py", *args)
    assert "one event per send()" in stdout
    assert figures["one_per_send_us"] > 0 and figures["batched_us"] > 0
    assert figures["batch"] == 4 and figures["sockets"] == 20
