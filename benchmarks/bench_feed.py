"""Live feed benchmark: CPU per event on the frontend's side of ``CULTO_EVENTS``.

Every event a frontend serves first crosses its live feed once (:class:`mesh.feed.LiveFeed`):
nats-py's parser and ordered consumer, the delivery's position (stream sequence, time), the
event's validation and canonical re-encoding. At thousands of events/s that is a fixed share of
the frontend's core before any client is written to, so it is measured on its own here.

One nats-server (from the wheel) stores ``--events`` ``video.status`` events of 100 videos, as
workers publish them (``Culto-Channel`` and ``Nats-Msg-Id`` headers). Then each target reads
the whole stream from its start, in its own process, ``--rounds`` times, taking turns:

- ``culto``: this checkout's ``LiveFeed``;
- ``before``: the ``LiveFeed`` of the checkout given by ``--before`` (if any);
- ``baseline``: nats-py's documented way, measured in the same run: an ordered-consumer push
  subscription whose callback reads ``msg.metadata`` and decodes with this checkout's
  ``decode_event``.

Reported: the median process CPU µs per event of each target and baseline ÷ target (above 1:
the target is cheaper). A backlog read in one go batches more than a live feed does, so these
are per-event costs for comparison, not the live figure (``bench_sse.py --stages`` has that).

Usage: ``.tox/bench/bin/python benchmarks/bench_feed.py [--events 30000] [--rounds 3]
[--before DIR] [--json FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesh.connection import MeshConnection

Seen = Callable[[int], None]
"""Told each event's stream sequence as the reader gets it."""
Stop = Callable[[], Awaitable[object]]
"""Ends a reader's subscription."""

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
VIDEOS = 100


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--role", choices=["main", "feed", "baseline"], default="main")
    p.add_argument("--events", type=int, default=30_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before", default="", help="checkout of the code to compare with")
    p.add_argument("--json", default="", help="write the figures here")
    p.add_argument("--nats", default="")
    p.add_argument("--last", type=int, default=0)
    a = p.parse_args()
    if a.role == "main":
        targets = {"baseline": ROOT, "culto": ROOT}
        if a.before:
            targets["before"] = Path(a.before).resolve()
        _report(asyncio.run(_main(targets, a.events, a.rounds)), a.json)
    else:
        print(json.dumps(asyncio.run(_read(a.role, a.nats, a.last))))


async def _main(targets: dict[str, Path], events: int, rounds: int) -> dict[str, list[float]]:
    sys.path.insert(0, str(ROOT))
    from mesh.embedded import EmbeddedNatsServer

    figures: dict[str, list[float]] = {name: [] for name in targets}
    with tempfile.TemporaryDirectory(prefix="culto-bench-feed-") as tmp:
        async with EmbeddedNatsServer(store_dir=Path(tmp) / "js", port=0) as server:
            last = await _fill(server.url, events)
            for round_ in range(rounds):
                for name, code in targets.items():
                    role = "baseline" if name == "baseline" else "feed"
                    figures[name].append(await _child(code, role, server.url, last))
                    print(f"round {round_ + 1}/{rounds} {name:>8}: "
                          f"{figures[name][-1]:6.2f} µs CPU per event", flush=True)  # fmt: skip
    return figures


async def _fill(url: str, events: int) -> int:
    """Provision the streams and store ``events`` events; the last sequence."""
    from mesh.connection import MeshConnection
    from mesh.provision import StreamPolicy, provision
    from schemas.events import VideoStatusEventDTO

    mesh = MeshConnection(url, name="bench-feed")
    await mesh.open()
    try:
        await provision(mesh, StreamPolicy())
        videos = [str(uuid.uuid4()) for _ in range(VIDEOS)]
        for i in range(events):
            video = videos[i % VIDEOS]
            dto = VideoStatusEventDTO(
                video_id=video, status="PROCESSING", progress=i % 100, message=f"t={time.time()}"
            )
            headers = {"Culto-Channel": "default", "Nats-Msg-Id": uuid.uuid4().hex}
            subject = f"culto.events.{video}.video.status"
            await mesh.nc.publish(subject, dto.model_dump_json().encode(), headers=headers)
            if i % 1000 == 999:
                await mesh.nc.flush()
        await mesh.nc.flush()
        info = await mesh.jsm.stream_info("CULTO_EVENTS")
        while info.state.messages < events:  # stored asynchronously: wait for the last one
            await asyncio.sleep(0.1)
            info = await mesh.jsm.stream_info("CULTO_EVENTS")
        return int(info.state.last_seq)
    finally:
        await mesh.close()


async def _child(code: Path, role: str, url: str, last: int) -> float:
    """One reading of the stream in a fresh process importing ``code``; µs CPU per event."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--role", role, "--nats", url,
        "--last", str(last), env={**os.environ, "PYTHONPATH": str(code)}, cwd=code,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 600)
    if proc.returncode != 0:
        raise SystemExit(f"the {role} reader from {code} failed:\n{err.decode()[-2000:]}")
    figures = json.loads(out.decode().strip().splitlines()[-1])
    if figures["events"] != last:  # each stored event once: a cheaper feed that loses is none
        raise SystemExit(f"the {role} reader from {code} saw {figures['events']} of {last}")
    return float(figures["us_per_event"])


async def _read(role: str, url: str, last: int) -> dict[str, float]:
    """Read sequences 1..``last``; the process CPU per event it took."""
    from mesh.connection import MeshConnection

    mesh = MeshConnection(url, name=f"bench-feed-{role}")
    await mesh.open()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    count = 0

    def seen(seq: int) -> None:
        nonlocal count
        count += 1
        if seq >= last and not done.done():
            done.set_result(None)

    began = time.process_time()
    try:
        stop = await (_feed(mesh, seen) if role == "feed" else _baseline(mesh, seen))
        await asyncio.wait_for(done, 300)
        took = time.process_time() - began
        await stop()
    finally:
        await mesh.close()
    return {"events": count, "us_per_event": took / count * 1e6}


async def _feed(mesh: MeshConnection, seen: Seen) -> Stop:
    from mesh.feed import LiveFeed

    feed = LiveFeed(mesh, lambda event: seen(event.seq))
    await feed.start(0)
    return feed.stop


async def _baseline(mesh: MeshConnection, seen: Seen) -> Stop:
    from nats.aio.msg import Msg
    from nats.js import api

    from mesh.events import decode_event

    async def deliver(msg: Msg) -> None:
        meta = msg.metadata
        event = decode_event(
            meta.sequence.stream, msg.subject, msg.data, meta.timestamp, msg.headers
        )
        if event is not None:
            seen(event.seq)

    sub = await mesh.js.subscribe(
        "culto.events.>",
        stream="CULTO_EVENTS",
        cb=deliver,
        ordered_consumer=True,
        deliver_policy=api.DeliverPolicy.ALL,
        idle_heartbeat=2.0,
        pending_msgs_limit=1_000_000,
    )
    return sub.unsubscribe


def _report(figures: dict[str, list[float]], out: str) -> None:
    medians = {name: statistics.median(values) for name, values in figures.items()}
    base = medians["baseline"]
    print("\n| target | µs CPU per event (median) | baseline ÷ target |\n|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.2f} | {base / value:.2f} |")
    if "before" in medians:
        print(f"\nbefore ÷ culto: {medians['before'] / medians['culto']:.2f}")
    if out:
        Path(out).write_text(json.dumps({"rounds": figures, "medians": medians}, indent=1))


if __name__ == "__main__":
    main()
