"""Event-stream benchmark (SSE and WebSocket): this checkout against another, on the same load.

Run (installs nothing into the product: the ``bench`` tox environment has sse-starlette,
uvicorn, matplotlib and py-spy)::

    git worktree add /tmp/before <commit>            # or: git archive <commit> | tar -x -C …
    scripts/test -e bench -- --before /tmp/before    # the full run, about 40 minutes
    scripts/test -e bench -- --before /tmp/before --quick                 # a few minutes
    scripts/test -e bench -- --before /tmp/before --soak-seconds 600      # + the soak
    scripts/test -e bench                            # against the seed's design (SSE only)

A fresh nats-server; each target runs in its own process: ``culto`` (this checkout's frontend
edge: SSE and WebSocket routes on one hub, :mod:`sse_targets`), ``before`` (the very same
server code of the harness, importing the product from ``--before``'s checkout: the figures
of both come from one run) and ``baseline`` (sse-starlette + uvicorn + one core NATS
subscription + an ``asyncio.Queue`` per client, :mod:`sse_baseline`, SSE only). The targets
take turns phase by phase and round by round, so that the load of a shared machine weighs on
each alike; in the sweep and the storm only the measured target's process runs (an idle
frontend still follows the whole feed: at 40k deliveries/s the two saturated the 2 cores).
Clients run in separate processes, on uvloop (:mod:`sse_clients`):

1. **idle**: resident memory per idle stream at each of ``--idle``'s counts (10,000 then
   19,000), per transport, in a fresh server process each; clients in several processes,
   connecting from 127.0.0.2 to .9 (one process may hold 20,000 files here, and one source
   address runs out of ports); heartbeats every ``--heartbeat`` s, and the gaps between them
   as clients saw them.
2. **sweep**: ``--clients`` streams over ``--videos`` videos (each event reaches
   clients/videos of them), for each transport of ``--transports`` and each of ``--rates``:
   deliveries/s, lost, p50/p99 publish→client latency, server CPU µs per delivery
   (``/proc/<pid>/stat``).
3. **storm**: ``--storm`` clients (200 distinct viewers) resume at once with
   ``Last-Event-ID`` while events keep coming: time until all resumed, lost, duplicated,
   consumers created on ``CULTO_EVENTS`` (JetStream's advisories).
4. **soak** (``--soak-seconds``, :mod:`phases.soak`): ``--soak-clients`` clients, half SSE and
   half WebSocket, connect, stay a few seconds, leave and come back; the RSS slope.
   ``--soak-trace N`` traces the soaked target's allocations (:mod:`sse_memory`, ``N`` frames)
   and prints what grew after warm-up: Python objects by file:line against pymalloc, glibc and
   the RSS; ``--soak-malloc-trim S`` and ``--soak-arena-max N`` try glibc's remedies.
5. **auth** (``--auth``, culto only): CPU per delivery without and with per-channel
   authorization (admin streams naming videos against members' unfiltered streams).
5. **follow** (``--follow``, culto only): CPU per delivery of 1,000 clients following 10
   channels of 100 videos each (``?channel_id=``) against as many naming those 100 videos
   (``?videos=``), each event reaching 100 clients either way; the ratio is printed.
   ``--only-phases`` skips 1-3 (e.g. ``--targets culto --follow --only-phases``).

Prints the table (culto against the other target), writes ``--json`` and ``--plot``.
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
    from phases.run import run_all

    args.targets = args.targets or ("before,culto" if args.before else "baseline,culto")
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
    soak_plot = Path(args.plot).with_name("soak.png")
    if sse_report.plot_soak(figures, soak_plot):
        print(f"soak plot: {soak_plot}")


def parser() -> argparse.ArgumentParser:
    """The command line (also the roles this script plays in its child processes)."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--role", default="main", choices=["main", "server", "clients"])
    p.add_argument("--quick", action="store_true", help="fewer rates and shorter rounds")
    p.add_argument(
        "--targets",
        default="",
        help="culto (this checkout), before (--before's checkout), baseline (the seed's"
        " design); default: before,culto with --before, else baseline,culto",
    )
    p.add_argument("--before", default="", help="checkout of the code to compare with")
    p.add_argument("--rates", default="", help="events/s, comma-separated")
    p.add_argument("--seconds", type=float, default=0.0, help="publishing per round")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--videos", type=int, default=100)
    p.add_argument("--idle", default="10000,19000", help="idle streams, counts in one phase")
    p.add_argument("--idle-transports", default="sse,ws")
    p.add_argument("--transports", default="sse,ws", help="transports of the sweep")
    p.add_argument("--heartbeat", type=float, default=5.0, help="heartbeat seconds (targets)")
    p.add_argument("--soak-seconds", type=float, default=0.0, help="churn soak (0: none)")
    p.add_argument("--soak-clients", type=int, default=300)
    p.add_argument("--soak-targets", default="culto", help="targets the soak runs against")
    p.add_argument(
        "--soak-trace",
        type=int,
        default=0,
        help="tracemalloc frames in the soaked target (0: no tracing): what grew after warm-up",
    )
    p.add_argument(
        "--soak-warmup", type=float, default=0.0, help="soak warm-up s (0: 1/4, at most 120)"
    )
    p.add_argument(
        "--soak-malloc-trim", type=float, default=0.0, help="malloc_trim(0) every S s (soak)"
    )
    p.add_argument(
        "--soak-arena-max", type=int, default=0, help="MALLOC_ARENA_MAX of the soaked target"
    )
    p.add_argument("--storm", type=int, default=1000)
    p.add_argument(
        "--storm-rounds", type=int, default=1, help="storm rounds per target (interleaved)"
    )
    p.add_argument("--auth", action="store_true", help="also measure authorization's cost")
    p.add_argument("--follow", action="store_true", help="also measure channel follows")
    p.add_argument("--follow-rate", type=float, default=200.0, help="events/s, follow phase")
    p.add_argument("--only-phases", action="store_true", help="skip idle, sweep and storm")
    p.add_argument("--procs", type=int, default=2, help="client processes")
    p.add_argument("--uvloop", action="store_true", help="run the targets on uvloop")
    p.add_argument(
        "--stages",
        action="store_true",
        help="sweep: where the latency goes inside the culto targets (sse_stages.py)",
    )
    p.add_argument("--profile", default="", help="py-spy the culto target into this file")
    p.add_argument("--profile-phase", default="sweep", choices=["sweep", "storm"])
    p.add_argument("--json", default=str(HERE / "results" / "sse.json"))
    p.add_argument("--plot", default=str(HERE / "results" / "sse.png"))
    # child roles
    p.add_argument("--target", default="culto")
    p.add_argument("--nats", default="")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--specs", default="")
    p.add_argument("--track", action="store_true")
    p.add_argument("--code", default="", help="(server) run the product from this checkout")
    p.add_argument("--churn", default="", help="(clients) stay seconds: min,max")
    p.add_argument("--trace-frames", type=int, default=0, help="(server) tracemalloc frames")
    p.add_argument("--trace-out", default="", help="(server) where the memory report goes")
    p.add_argument("--malloc-trim", type=float, default=0.0, help="(server) trim every S s")
    p.add_argument("--stages-out", default="", help="(server) where the stage figures go")
    return p


if __name__ == "__main__":
    ns = parser().parse_args()
    raise_fd_limit()
    if ns.role == "server":
        if ns.code:
            sys.path.insert(0, str(Path(ns.code).resolve()))  # the product of that checkout
        from sse_memory import install
        from sse_stages import install as install_stages
        from sse_targets import run

        def hooks() -> None:
            install(ns.trace_frames, ns.trace_out, ns.malloc_trim)
            if ns.stages_out:
                install_stages(ns.stages_out)

        run(ns.target, ns.nats, ns.uvloop, ns.heartbeat, hooks)
    elif ns.role == "clients":
        from sse_clients import run as run_clients
        from sse_clients import run_fast as run_clients_fast

        loaded = [Spec(**s) for s in json.loads(Path(ns.specs).read_text())]
        lo, _, hi = ns.churn.partition(",")
        churn = (float(lo), float(hi)) if ns.churn else None
        run_clients_fast(run_clients(ns.port, loaded, ns.track, 100, churn))
    else:
        main(ns)
