"""The phases of the fan-out benchmark (see ``bench_sse.py``), against one nats-server."""

from __future__ import annotations

import argparse
import signal
import subprocess
import tempfile
from pathlib import Path

from sse_report import Figures

from phases.channels import auth, follow
from phases.publish import identities
from phases.storm import storm, storm_median
from phases.target import Target

FULL_RATES = (1000.0, 2000.0, 4000.0, 8000.0)
QUICK_RATES = (1000.0, 4000.0)


async def run_all(args: argparse.Namespace) -> Figures:
    """Every phase, the targets interleaved phase by phase (round by round in the sweep), so
    that the load of a shared machine weighs on each alike; each measures alone."""
    from mesh.embedded import EmbeddedNatsServer

    rates = [float(r) for r in args.rates.split(",") if r] or list(
        QUICK_RATES if args.quick else FULL_RATES
    )
    args.seconds = args.seconds or (3.0 if args.quick else 8.0)
    if args.quick:
        args.idle = "2000"
    keys = ("clients", "videos", "idle", "storm", "storm_rounds", "procs", "seconds", "uvloop",
            "quick", "heartbeat", "soak_seconds", "soak_clients", "transports", "soak_warmup",
            "soak_trace", "soak_malloc_trim", "soak_arena_max")  # fmt: skip
    config = {k: v for k, v in vars(args).items() if k in keys}
    figures: Figures = {"config": {**config, "rates": rates}, "targets": {}}
    names = [n for n in args.targets.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="culto-bench-") as tmp:
        async with EmbeddedNatsServer(store_dir=Path(tmp) / "js", port=0) as natsd:
            ids = await identities(natsd.url)
            targets = {n: Target(args, n, natsd.url, tmp, ids) for n in names}
            figs: dict[str, Figures] = {n: {"idle": {}, "sweeps": {}} for n in names}
            figures["targets"] = figs
            try:
                await _phases(args, rates, targets, figs)
            finally:
                for target in targets.values():
                    target.stop()
    return figures


async def _phases(
    args: argparse.Namespace,
    rates: list[float],
    targets: dict[str, Target],
    figs: dict[str, Figures],
) -> None:
    from phases.soak import soak

    if not args.only_phases:
        await _measure(args, rates, targets, figs)
    for name, target in targets.items():
        if ours(name) and args.soak_seconds and name in args.soak_targets.split(","):
            print(f"\n== {name}: soak", flush=True)
            figs[name]["soak"] = await soak(target, args.soak_seconds, args.soak_clients)
    if "culto" in targets and args.auth:
        figs["culto"]["auth"] = await auth(targets["culto"])
    if "culto" in targets and args.follow:
        figs["culto"]["follow"] = await follow(targets["culto"])


def ours(name: str) -> bool:
    """Targets of this project (the seed's design serves SSE only, with no history)."""
    return name != "baseline"


async def _measure(
    args: argparse.Namespace,
    rates: list[float],
    targets: dict[str, Target],
    figs: dict[str, Figures],
) -> None:
    """Idle memory, the sweep and the storm, the targets taking turns."""
    for transport in [t for t in args.idle_transports.split(",") if t and args.idle]:
        for name, target in targets.items():
            if ours(name) or transport == "sse":
                print(f"\n== {name}: idle {transport}", flush=True)
                target.restart()  # a fresh process: memory freed by others is not reused
                figs[name]["idle"][transport] = await target.idle(transport)
    for target in targets.values():
        target.restart()
    sweeping = args.profile_phase == "sweep" and "culto" in targets
    profiler = _profile(args, targets["culto"]) if sweeping else None
    try:
        for transport in [t for t in args.transports.split(",") if t]:
            print(f"\n== sweep {transport}", flush=True)
            for rate in rates:
                for name, target in targets.items():
                    if ours(name) or transport == "sse":
                        if profiler is None:  # py-spy follows one process: keep it
                            _alone(targets, name)
                        r = await target.round(rate, transport=transport)
                        sweep = figs[name]["sweeps"].setdefault(transport, {"sweep": []})
                        sweep["sweep"].append(r)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file (the sweep only)
            profiler.wait()
    storming = {n: t for n, t in targets.items() if ours(n)}
    for round_ in range(args.storm_rounds if args.storm else 0):
        # Rounds interleaved, the order reversed every other round: the machine's load
        # weighs on each target alike.
        order = list(storming.items())
        for name, target in order if round_ % 2 == 0 else order[::-1]:
            print(f"\n== {name}: storm (round {round_ + 1}, {load_average()})", flush=True)
            _alone(targets, name)
            profiling = args.profile_phase == "storm" and name == "culto" and round_ == 0
            profiler = _profile(args, target) if profiling else None
            try:
                fig = {**await storm(target), "round": round_ + 1, "load": load_average()}
            finally:
                if profiler is not None:
                    profiler.send_signal(signal.SIGINT)
                    profiler.wait()
            figs[name].setdefault("storm_rounds", []).append(fig)
    for name, rounds in ((n, figs[n].get("storm_rounds", [])) for n in storming):
        if rounds:
            figs[name]["storm"] = storm_median(rounds)


def _alone(targets: dict[str, Target], name: str) -> None:
    """Only ``name``'s process runs (see :meth:`Target.pause`)."""
    for other, target in targets.items():
        if other != name:
            target.pause()


def load_average() -> str:
    """The machine's load average (1, 5, 15 minutes), as /proc/loadavg says."""
    return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _profile(args: argparse.Namespace, target: Target) -> subprocess.Popen[bytes] | None:
    """py-spy (from the bench environment) sampling the frontend for the whole run."""
    if not args.profile:
        return None
    import shutil

    spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).parent / "py-spy")
    cmd = [
        spy,
        "record",
        "-p",
        str(target.server.pid),
        "-o",
        args.profile,
        "-f",
        "raw",
        "-r",
        "200",
        "--nonblocking",  # sampling must not pause the target: its latency is measured too
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
