"""The SSE benchmark is not run here (``tox -e bench``); its modules import and parse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sse.py"


def test_bench_sse_parses_its_arguments() -> None:
    # Without the bench environment's packages (sse-starlette, uvicorn, matplotlib): those are
    # imported only by the roles that use them.
    done = subprocess.run(
        [sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    options = ("--quick", "--targets", "--rates", "--idle", "--storm", "--json", "--plot")
    for option in (*options, "--follow", "--follow-rate", "--only-phases"):
        assert option in done.stdout


def test_bench_summary_compares_targets() -> None:
    sys.path.insert(0, str(BENCH.parent))
    try:
        import sse_report
    finally:
        sys.path.remove(str(BENCH.parent))
    sweep = {"rate": 1000.0, "lost": 0, "p99_ms": 5.0, "p50_ms": 1.0}
    fig = {
        "targets": {
            name: {
                "half": {"cpu_us_per_delivery": us, "p50_ms": 1.0, "p99_ms": 5.0, "lost": 0},
                "saturation_deliveries_per_s": 1000.0,
                "idle": {"kib_per_connection": 10.0},
                "sweep": [{**sweep, "cpu_us_per_delivery": us}],
            }
            for name, us in (("culto", 10.0), ("baseline", 30.0))
        }
    }
    table = "\n".join(sse_report.summary(fig))
    assert "| server CPU per delivery at half saturation (µs) | 10.00 | 30.00 | x3.00 |" in table
    assert "at 1,000 events/s" in table


def test_bench_summary_has_the_follow_row_and_skips_phases_not_run() -> None:
    sys.path.insert(0, str(BENCH.parent))
    try:
        import sse_report
    finally:
        sys.path.remove(str(BENCH.parent))
    follow = {"channel_followed_us": 7.0, "videos_named_us": 14.0, "ratio": 0.5}
    table = "\n".join(sse_report.summary({"targets": {"culto": {"follow": follow}}}))
    assert "following 10 channels ÷ naming their videos (µs) | 7.00 ÷ 14.00 = x0.500" in table
    assert "half saturation" not in table  # --only-phases: no sweep ran
