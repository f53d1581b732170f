"""Figures of the fan-out benchmark: percentiles, the printed table, the JSON file and the plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Figures = dict[str, Any]


def pct_ms(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds) in milliseconds; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def print_round(r: Figures) -> None:
    """One line per measured round."""
    print(
        f"  {r['target']:>8} {r.get('transport', 'sse'):>3} {r['rate']:>7.0f} ev/s: "
        f"{r['deliveries_per_s']:>9,.0f} deliveries/s"
        f"  lost {r['lost']:>7,}  p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms"
        f"  CPU {r['cpu_us_per_delivery']:6.2f} µs/delivery  (server {r['server_cpu_share']:.0%},"
        f" busiest client {r['busiest_client_cpu_share']:.0%})",
        flush=True,
    )
    if "stages" in r:
        st = r["stages"]
        line = "  ".join(
            f"{name} {st[key]['p50']:.1f}/{st[key]['p99']:.1f}"
            for name, key in (("feed", "feed_ms"), ("written", "written_ms"),
                              ("loop lag", "loop_lag_ms"))
            if st[key].get("n")
        )  # fmt: skip
        bursts, gc = st["events_per_flush"], st["gc"]
        print(f"           inside the target, p50/p99 ms: {line};"
              f" events per write pass p50 {bursts.get('p50', 0):.0f};"
              f" cyclic GC {gc['runs']} runs, {gc['collected']:,} found, longest"
              f" {gc['max_ms']:.1f} ms", flush=True)  # fmt: skip


def _ratio(ours: float, base: float) -> str:
    if not ours or ours != ours or not base or base != base:
        return "n/a"
    return f"x{base / ours:.2f}"


def _get(t: Figures, *keys: str | int) -> float:
    for k in keys:
        if isinstance(t, dict):
            t = t.get(k, {})  # type: ignore[call-overload]
        elif isinstance(t, list) and isinstance(k, int) and k < len(t):
            t = t[k]
        else:
            return float("nan")
    return t if isinstance(t, int | float) else float("nan")


def summary(fig: Figures) -> list[str]:
    """The README's table: ``culto`` (this checkout) against the reference target (``before``,
    else ``baseline``), measured in the same run; ratio above 1: culto is leaner or faster."""
    targets = fig["targets"]
    if "culto" not in targets:
        return [f"(no table: it compares culto with a reference; measured: {sorted(targets)})"]
    ours = targets["culto"]
    ref_name = "before" if "before" in targets else "baseline"
    ref = targets.get(ref_name, {})
    lines = [f"| measure | culto | {ref_name} | {ref_name} ÷ culto |", "|---|---|---|---|"]

    def row(label: str, a: float, b: float, higher_better: bool = False) -> None:
        ratio = _ratio(b, a) if higher_better else _ratio(a, b)
        lines.append(f"| {label} | {a:,.2f} | {b:,.2f} | {ratio} |")

    for transport in ("sse", "ws"):
        for n, step in enumerate(ours.get("idle", {}).get(transport, {}).get("steps", [])):
            label = f"RSS per idle {transport.upper()} stream, {step['connections']:,} open (KiB)"
            other = _get(ref, "idle", transport, "steps", n, "kib_per_connection")
            row(label, step["kib_per_connection"], other)
        idle = ours.get("idle", {}).get(transport)
        if idle and idle.get("beat_gaps", {}).get("n"):
            gaps, theirs = idle["beat_gaps"], ref.get("idle", {}).get(transport, {})
            row(f"{transport.upper()} heartbeat gap, max (s; interval {idle['heartbeat_s']:g})",
                gaps["max"], _get(theirs, "beat_gaps", "max"))  # fmt: skip
    for transport in ("sse", "ws"):
        theirs = {r["rate"]: r for r in _rounds(ref, transport)}
        for r in _rounds(ours, transport):
            b = theirs.get(r["rate"], {})
            what = f"{transport.upper()} at {r['rate']:,.0f} events/s"
            row(f"{what}: server CPU per delivery (µs)", r["cpu_us_per_delivery"],
                b.get("cpu_us_per_delivery", float("nan")))  # fmt: skip
            row(f"{what}: p50 / p99 (ms)", r["p50_ms"], b.get("p50_ms", float("nan")))
            lines[-1] = (f"| {what}: p50 / p99 (ms) | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} | "
                         f"{b.get('p50_ms', float('nan')):.1f} / "
                         f"{b.get('p99_ms', float('nan')):.1f} | |")  # fmt: skip
            row(f"{what}: lost", r["lost"], b.get("lost", float("nan")))
    lines += _ws_over_sse(ours, ref, ref_name)
    follow = ours.get("follow")
    if follow:
        lines.append(
            f"| CPU per delivery following 10 channels ÷ naming their videos (µs) | "
            f"{follow['channel_followed_us']:.2f} ÷ {follow['videos_named_us']:.2f} = "
            f"x{follow['ratio']:.3f} | n/a | |"
        )
    storm = ours.get("storm")
    if storm:
        row(f"{storm['clients']:,} resumes at once: all resumed in (s)", storm["all_resumed_s"],
            _get(ref, "storm", "all_resumed_s"))  # fmt: skip
        lines.append(
            f"| … lost / duplicated / consumers created | {storm['lost']} / "
            f"{storm['duplicated']} / {storm['consumers_created']} | "
            f"{_get(ref, 'storm', 'lost'):.0f} / {_get(ref, 'storm', 'duplicated'):.0f} / "
            f"{_get(ref, 'storm', 'consumers_created'):.0f} | |"
        )
        if "requests_per_client" in storm:  # the storm's reads as nats-server saw them
            row("… JetStream requests per resuming client", storm["requests_per_client"],
                _get(ref, "storm", "requests_per_client"))  # fmt: skip
            row("… frontend CPU per resuming client (ms)", storm["cpu_ms_per_client"],
                _get(ref, "storm", "cpu_ms_per_client"))  # fmt: skip
    soak = ours.get("soak")
    if soak:
        row(f"RSS growth after warm-up, {soak['seconds']:.0f}s churn soak (MiB)",
            soak["growth_after_warmup_kib"] / 1024,
            _get(ref, "soak", "growth_after_warmup_kib") / 1024)  # fmt: skip
    return lines


def _rounds(target: Figures, transport: str) -> list[Figures]:
    return list(target.get("sweeps", {}).get(transport, {}).get("sweep", []))


def _ws_over_sse(ours: Figures, ref: Figures, ref_name: str) -> list[str]:
    """WebSocket CPU per delivery over SSE's at each rate, per target (same run)."""
    lines = []
    for name, target in (("culto", ours), (ref_name, ref)):
        sse = {r["rate"]: r["cpu_us_per_delivery"] for r in _rounds(target, "sse")}
        ratios = [
            f"{r['rate']:,.0f}/s: {r['cpu_us_per_delivery'] / sse[r['rate']]:.2f}"
            for r in _rounds(target, "ws")
            if sse.get(r["rate"])
        ]
        if ratios:
            lines.append(f"| WebSocket ÷ SSE CPU per delivery ({name}) | {'; '.join(ratios)} | | |")
    return lines


def write_json(fig: Figures, path: Path) -> None:
    """The figures, for comparing runs."""
    path.write_text(json.dumps(fig, indent=2, sort_keys=True) + "\n")


def plot(fig: Figures, path: Path) -> bool:
    """Latency (p50, p99) and CPU per delivery against event rate, both targets; False when
    matplotlib is missing (the ``bench`` environment has it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (lat, cpu) = plt.subplots(1, 2, figsize=(13, 5))
    for name, target in fig["targets"].items():
        for transport in ("sse", "ws"):
            rounds = sorted(_rounds(target, transport), key=lambda r: r["rate"])
            if not rounds:
                continue
            rates = [r["rate"] for r in rounds]
            style = ("-" if name == "culto" else "--") + ("o" if transport == "sse" else "s")
            tag = f"{name} {transport.upper()}"
            lat.plot(rates, [r["p50_ms"] for r in rounds], style, label=f"{tag} p50", alpha=0.6)
            lat.plot(rates, [r["p99_ms"] for r in rounds], style, label=f"{tag} p99")
            cpu.plot(rates, [r["cpu_us_per_delivery"] for r in rounds], style, label=tag)
    fan = fig["config"]["clients"] // fig["config"]["videos"]
    for ax, title in ((lat, "publish → client latency (ms)"), (cpu, "server CPU µs / delivery")):
        ax.set_xscale("log")
        ax.set_xlabel(f"events published per second (each to {fan} clients)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    lat.set_yscale("log")
    figure.suptitle(
        f"Event fan-out (SSE and WebSocket): {fig['config']['clients']:,} clients over "
        f"{fig['config']['videos']} videos"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def plot_soak(fig: Figures, path: Path) -> bool:
    """Resident memory against time in the churn soak, per target; False when no soak ran or
    matplotlib is missing."""
    soaks = {n: t["soak"] for n, t in fig["targets"].items() if t.get("soak")}
    if not soaks:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, ax = plt.subplots(figsize=(9, 4.5))
    for name, soak in soaks.items():
        times = [t / 60 for t, _ in soak["samples"]]
        ax.plot(times, [kib / 1024 for _, kib in soak["samples"]], label=name)
        ax.axvline(soak["warmup_s"] / 60, color="grey", alpha=0.3)
    ax.set_xlabel("minutes (grey: end of warm-up)")
    ax.set_ylabel("frontend RSS (MiB)")
    ax.set_title("Churn soak: clients connect, stay a few seconds, leave, come back")
    ax.grid(True, alpha=0.3)
    ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
