"""Failover benchmark: the loopback production topology, run once, with recovery times.

Runs the scenario of ``tests/topology/test_cluster_topology.py`` outside pytest (3-node
JetStream cluster with R3 streams, two frontends, one API, two workers; the ``CULTO_EVENTS``
leader and then one frontend are SIGKILLed mid-batch) and prints how long each recovery took.

Usage: ``.venv/bin/python benchmarks/bench_failover.py [--videos 12] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

# The harness lives with the tests; make the repository importable when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.topology.harness import run_failover


def main() -> int:
    """Run once; exit 1 if a video did not finish or a client's events differ from JetStream."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12, help="batch size (default 12)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="culto-failover-") as tmp:
        report = asyncio.run(run_failover(Path(tmp), videos=args.videos))
    problems = report.mismatches()
    unfinished = {v: s for v, s in report.listed.items() if s != "PROCESSED"}
    results = {
        "videos": len(report.videos),
        "events_stored": report.events_total,
        "sse_clients": len(report.clients),
        "frames_received": sum(len(c.frames) for c in report.clients),
        "killed_leader": report.killed_node,
        "new_leader": report.new_leader,
        "leader_election_s": round(report.leader_election_s, 3),
        "all_streams_led_again_s": round(report.all_leaders_s, 3),
        "first_event_stored_after_leader_kill_s": round(report.first_publish_after_kill_s, 3),
        "killed_frontend": report.killed_frontend,
        "frontend_clients_moved": report.frontend_clients_moved,
        "frontend_resume_s": round(report.frontend_resume_s, 3),
        "video_list_lag_s": round(report.list_lag_s, 3),
        "total_s": round(report.duration_s, 1),
        "extra_videos_from_retried_posts": len(set(report.listed) - set(report.videos)),
        "unfinished_videos": len(unfinished),
        "clients_with_wrong_events": len(problems),
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        width = max(map(len, results))
        for key, value in results.items():
            print(f"{key:<{width}}  {value}")
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    return 1 if problems or unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
