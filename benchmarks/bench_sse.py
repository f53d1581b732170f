"""SSE fan-out benchmark: the project's frontend against the seed's design, on the same load.

Run (installs nothing into the product: the ``bench`` tox environment has sse-starlette,
uvicorn, matplotlib and py-spy)::

    scripts/test -e bench                 # the full run, about 12 minutes
    scripts/test -e bench -- --quick      # about a minute and a half
    .tox/bench/bin/python benchmarks/bench_sse.py --targets culto --quick

A fresh nats-server; each target (``culto``: the frontend; ``baseline``: sse-starlette + uvicorn
+ one core NATS subscription + an ``asyncio.Queue`` per client, :mod:`sse_baseline`) runs in its
own process, alone, against clients in ``--procs`` client processes (:mod:`sse_clients`):

1. **idle**: resident memory per idle stream, ``--idle`` (10,000) of them (the file limit is
   raised here, in the benchmark, not in the product).
2. **sweep**: ``--clients`` streams over ``--videos`` videos (each event reaches
   clients/videos of them), events published at each of ``--rates``: deliveries/s, lost,
   p50/p99 publish→client latency, server CPU µs per delivery (``/proc/<pid>/stat``). The
   saturation is the most deliveries/s any rate achieved; one more round runs at half of it.
3. **storm** (culto only: core NATS keeps no history to resume from): ``--storm`` clients
   resume at once with ``Last-Event-ID`` while events keep coming: time until all resumed,
   lost, duplicated, consumers created on ``CULTO_EVENTS`` (JetStream's advisories) and the
   most present at once.
4. **auth** (``--auth``, culto only): CPU per delivery without and with per-channel
   authorization (admin streams naming videos against members' unfiltered streams).
5. **follow** (``--follow``, culto only): CPU per delivery of 1,000 clients following 10
   channels of 100 videos each (``?channel_id=``) against as many naming those 100 videos
   (``?videos=``), each event reaching 100 clients either way; the ratio is printed.
   ``--only-phases`` skips 1-3 (e.g. ``--targets culto --follow --only-phases``).

Prints ratios against the baseline, writes ``--json`` and ``--plot``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # run from a checkout without installing

import sse_report  # noqa: E402
from sse_clients import Spec  # noqa: E402
from sse_procs import raise_fd_limit  # noqa: E402


def main(args: argparse.Namespace) -> None:
    from bench_phases import run_all

    raise_fd_limit()
    figures = asyncio.run(asyncio.wait_for(run_all(args), 3600))
    print("\n== Summary (baseline ÷ culto: above 1 means culto is leaner or faster)")
    print("\n".join(sse_report.summary(figures)))
    sse_report.write_json(figures, Path(args.json))
    print(f"\nfigures: {args.json}")
    if sse_report.plot(figures, Path(args.plot)):
        print(f"plot: {args.plot}")
    else:
        print("plot: skipped (matplotlib is in the bench environment only)")


def parser() -> argparse.ArgumentParser:
    """The command line (also the roles this script plays in its child processes)."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--role", default="main", choices=["main", "server", "clients"])
    p.add_argument("--quick", action="store_true", help="fewer rates and shorter rounds")
    p.add_argument("--targets", default="baseline,culto")
    p.add_argument("--rates", default="", help="events/s, comma-separated")
    p.add_argument("--seconds", type=float, default=0.0, help="publishing per round")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--videos", type=int, default=100)
    p.add_argument("--idle", type=int, default=10_000)
    p.add_argument("--storm", type=int, default=1000)
    p.add_argument("--auth", action="store_true", help="also measure authorization's cost")
    p.add_argument("--follow", action="store_true", help="also measure channel follows")
    p.add_argument("--follow-rate", type=float, default=200.0, help="events/s, follow phase")
    p.add_argument("--only-phases", action="store_true", help="skip idle, sweep and storm")
    p.add_argument("--procs", type=int, default=2, help="client processes")
    p.add_argument("--uvloop", action="store_true", help="run the targets on uvloop")
    p.add_argument("--profile", default="", help="py-spy the culto target into this file")
    p.add_argument("--json", default=str(HERE / "results" / "sse.json"))
    p.add_argument("--plot", default=str(HERE / "results" / "sse.png"))
    # child roles
    p.add_argument("--target", default="culto")
    p.add_argument("--nats", default="")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--specs", default="")
    p.add_argument("--track", action="store_true")
    return p


if __name__ == "__main__":
    ns = parser().parse_args()
    raise_fd_limit()
    if ns.role == "server":
        from sse_targets import run

        run(ns.target, ns.nats, ns.uvloop)
    elif ns.role == "clients":
        from sse_clients import run as run_clients

        loaded = [Spec(**s) for s in json.loads(Path(ns.specs).read_text())]
        asyncio.run(run_clients(ns.port, loaded, ns.track, 100))
    else:
        main(ns)
