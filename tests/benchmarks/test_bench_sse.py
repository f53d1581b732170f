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
    for option in ("--quick", "--targets", "--rates", "--idle", "--storm", "--json", "--plot"):
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
