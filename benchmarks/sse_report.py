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
        f"  {r['target']:>8} {r['rate']:>7.0f} ev/s: {r['deliveries_per_s']:>9,.0f} deliveries/s"
        f"  lost {r['lost']:>7,}  p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms"
        f"  CPU {r['cpu_us_per_delivery']:6.2f} µs/delivery  (server {r['server_cpu_share']:.0%},"
        f" busiest client {r['busiest_client_cpu_share']:.0%})",
        flush=True,
    )


def _ratio(ours: float, base: float) -> str:
    if not ours or ours != ours or not base or base != base:
        return "n/a"
    return f"x{base / ours:.2f}"


def summary(fig: Figures) -> list[str]:
    """The table of the README: ours against the baseline per target figure."""
    ours, base = fig["targets"]["culto"], fig["targets"].get("baseline", {})

    def get(t: Figures, *keys: str) -> float:
        for k in keys:
            t = t.get(k, {}) if isinstance(t, dict) else {}
        return t if isinstance(t, int | float) else float("nan")

    rows = [
        ("server CPU per delivery at half saturation (µs)", ("half", "cpu_us_per_delivery")),
        ("saturation (deliveries/s)", ("saturation_deliveries_per_s",)),
        ("p50 at half saturation (ms)", ("half", "p50_ms")),
        ("p99 at half saturation (ms)", ("half", "p99_ms")),
        ("lost at half saturation", ("half", "lost")),
        ("RSS per idle connection (KiB)", ("idle", "kib_per_connection")),
    ]
    lines = ["| measure | culto | baseline | baseline ÷ culto |", "|---|---|---|---|"]
    for label, keys in rows:
        a, b = get(ours, *keys), get(base, *keys)
        if a != a and b != b:
            continue  # a phase that did not run (--only-phases)
        ratio = _ratio(b, a) if keys[0].startswith("saturation") else _ratio(a, b)
        lines.append(f"| {label} | {a:,.2f} | {b:,.2f} | {ratio} |")
    lines += _same_rate_rows(ours, base)
    follow = ours.get("follow")
    if follow:
        lines.append(
            f"| CPU per delivery following 10 channels ÷ naming their videos (µs) | "
            f"{follow['channel_followed_us']:.2f} ÷ {follow['videos_named_us']:.2f} = "
            f"x{follow['ratio']:.3f} | n/a | |"
        )
    storm = ours.get("storm")
    if storm:
        lines.append(
            f"| {storm['clients']:,} resumes at once: all resumed in (s) | "
            f"{storm['all_resumed_s']:.2f} | n/a (no history) | |"
        )
        lines.append(
            f"| … lost / duplicated / consumers created | {storm['lost']} / "
            f"{storm['duplicated']} / {storm['consumers_created']} | n/a | |"
        )
    return lines


def _same_rate_rows(ours: Figures, base: Figures) -> list[str]:
    """CPU per delivery at each rate both targets kept up with (nothing lost, p99 under 1 s):
    per-delivery cost falls as the rate rises, so half saturation alone flatters the faster."""
    theirs = {r["rate"]: r for r in base.get("sweep", [])}
    rows = []
    for r in ours.get("sweep", []):
        b = theirs.get(r["rate"])
        if b is None or r["lost"] or b["lost"] or max(r["p99_ms"], b["p99_ms"]) > 1000:
            continue
        a_us, b_us = r["cpu_us_per_delivery"], b["cpu_us_per_delivery"]
        rows.append(
            f"| server CPU per delivery at {r['rate']:,.0f} events/s (µs) | {a_us:.2f} | "
            f"{b_us:.2f} | {_ratio(a_us, b_us)} |"
        )
    return rows


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
    figure, (lat, cpu) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, target in fig["targets"].items():
        rounds = sorted(target.get("sweep", []), key=lambda r: r["rate"])
        rates = [r["rate"] for r in rounds]
        style = "-" if name == "culto" else "--"
        lat.plot(rates, [r["p50_ms"] for r in rounds], style + "o", label=f"{name} p50")
        lat.plot(rates, [r["p99_ms"] for r in rounds], style + "^", label=f"{name} p99")
        cpu.plot(rates, [r["cpu_us_per_delivery"] for r in rounds], style + "o", label=name)
    fan = fig["config"]["clients"] // fig["config"]["videos"]
    for ax, title in ((lat, "publish → client latency (ms)"), (cpu, "server CPU µs / delivery")):
        ax.set_xscale("log")
        ax.set_xlabel(f"events published per second (each to {fan} clients)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    lat.set_yscale("log")
    figure.suptitle(
        f"SSE fan-out: {fig['config']['clients']:,} clients over {fig['config']['videos']} videos"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
