"""Where an event's publish→client latency goes, stage by stage (``bench_sse.py --stages``).

The clients measure the whole way, from the publisher's clock to the client's parse. Inside the
``culto`` target this records, for every event, how late it was at two points of the edge:

* ``feed``: when the hub's dispatch sees it (publisher → nats-server → JetStream → the feed's
  ordered consumer → the frontend's event loop);
* ``written``: when the write pass after it has handed its frames to the sockets (the hub's
  own work: dispatch, framing, the write pass);

and the event loop's lag (a timer every :data:`TICK` s, how late it fired): a busy loop delays
everything it has not reached yet. What stalls it is named: callbacks that ran over
:data:`SLOW` s, and the cyclic garbage collector's runs (how long, how much garbage they found:
a pass over tens of thousands of objects in reference cycles stalls the loop for tens of ms).
What is left of the clients' figure (client minus written) is the kernel and the client
processes: the harness, not the edge.

Hooks wrap two methods of the running checkout's classes (``EventHub._dispatch`` and
``Writes.flush``); the target is otherwise untouched. ``SIGUSR2`` writes the figures since
the last one to the file given (the round's) and starts again.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

MARKER = b'"message":"t='
TICK = 0.005
"""Seconds between the loop-lag probe's timers."""


class Stages:
    """The figures of one round (see the module docstring)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.feed = array("d")
        self.written = array("d")
        self.lag = array("d")
        self.bursts = array("l")
        self.gc_runs: list[tuple[int, float, int]] = []
        self.slow: list[tuple[str, float]] = []
        self._since_flush: list[float] = []
        self._gc_began = 0.0
        self.full_heap: dict[str, Any] | None = None

    def collecting(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            if info["generation"] == 2 and self.full_heap is None and gc.get_freeze_count():
                self.full_heap = _heap()  # what the round's first full pass walks
            self._gc_began = time.perf_counter()
        elif info["generation"] > 0:  # the young generation's runs are short and many
            took = time.perf_counter() - self._gc_began
            self.gc_runs.append((info["generation"], took, info["collected"]))

    def dispatched(self, data: bytes, now: float) -> None:
        at = data.find(MARKER)
        if at < 0:
            return
        start = at + len(MARKER)
        sent = float(data[start : data.index(b'"', start)])
        self.feed.append(now - sent)
        self._since_flush.append(sent)

    def flushed(self) -> None:
        if not self._since_flush:
            return
        now = time.time()
        self.written.extend(now - sent for sent in self._since_flush)
        self.bursts.append(len(self._since_flush))
        self._since_flush.clear()

    def dump(self) -> None:
        figures = {
            "feed_ms": _spread(self.feed),
            "written_ms": _spread(self.written),
            "loop_lag_ms": _spread(self.lag),
            "events_per_flush": _spread(array("d", self.bursts), scale=1.0),
            "gc": _collections(self.gc_runs),
            "slow_callbacks": _slow(self.slow),
            "heap": self.full_heap or _heap(),
        }
        self.full_heap = None
        self.gc_runs = []
        self.slow = []
        self.out.write_text(json.dumps(figures))
        self.feed, self.written, self.lag, self.bursts = (
            array("d"), array("d"), array("d"), array("l"))  # fmt: skip


def _collections(runs: list[tuple[int, float, int]]) -> dict[str, float]:
    """The cyclic collector's runs of generations 1 and 2: how many, the objects they found
    unreachable (garbage in reference cycles), the longest pause and their total ms."""
    return {
        "runs": len(runs),
        "full_runs": sum(1 for generation, _, _ in runs if generation == 2),
        "collected": sum(found for _, _, found in runs),
        "max_ms": max((took for _, took, _ in runs), default=0.0) * 1000,
        "total_ms": sum(took for _, took, _ in runs) * 1000,
    }


def _heap(top: int = 10) -> dict[str, Any]:
    """What a full collection walks: the tracked objects outside the frozen start-up heap,
    by generation, and the commonest types of the oldest generation."""
    old = gc.get_objects(generation=2)
    types = Counter(type(o).__qualname__ for o in old)
    return {
        "frozen": gc.get_freeze_count(),
        "young": len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1)),
        "old": len(old),
        "old_types": dict(types.most_common(top)),
    }


def _slow(slow: list[tuple[str, float]]) -> dict[str, dict[str, float]]:
    """Slow callbacks by name: how many, their total and longest ms."""
    out: dict[str, dict[str, float]] = {}
    for name, took in slow:
        row = out.setdefault(name, {"n": 0, "total_ms": 0.0, "max_ms": 0.0})
        row["n"] += 1
        row["total_ms"] += took * 1000
        row["max_ms"] = max(row["max_ms"], took * 1000)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["total_ms"]))


def _spread(values: array[Any], scale: float = 1000.0) -> dict[str, float]:
    if not values:
        return {"n": 0}
    s = sorted(values)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))] * scale  # noqa: E731
    return {"n": len(s), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99),
            "max": s[-1] * scale}  # fmt: skip


SLOW = 0.004
"""A loop callback running longer than this many seconds is named in the figures."""


def _time_callbacks(stages: Stages) -> None:
    """Time every callback the loop runs; name the slow ones (what stalls the loop)."""
    run = asyncio.events.Handle._run

    def timed(handle: Any) -> None:
        began = time.perf_counter()
        run(handle)
        took = time.perf_counter() - began
        if took > SLOW:
            cb = handle._callback
            name = getattr(cb, "__qualname__", None) or repr(cb)[:80]
            if hasattr(cb, "__self__") and hasattr(cb.__self__, "get_coro"):
                coro = cb.__self__.get_coro()
                name = getattr(coro, "__qualname__", repr(coro)[:80])
            stages.slow.append((name, took))

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]


def install(out: str) -> None:
    """In the target's loop, before the hub exists: wrap the hub's dispatch and write pass,
    start the lag probe, dump on ``SIGUSR2``."""
    from frontend_server.events.hub import EventHub
    from frontend_server.events.writes import Writes

    stages = Stages(Path(out))
    dispatch, flush = EventHub._dispatch, Writes.flush

    def traced_dispatch(hub: Any, event: Any) -> None:
        now = time.time()
        dispatch(hub, event)
        if hub._writes._flush_handle is not None:  # a write pass follows (else no client)
            stages.dispatched(event.data, now)

    def traced_flush(writes: Any) -> None:
        flush(writes)
        stages.flushed()

    EventHub._dispatch = traced_dispatch  # type: ignore[method-assign]
    Writes.flush = traced_flush  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()

    def tick(due: float) -> None:
        now = loop.time()
        stages.lag.append(max(0.0, now - due))
        loop.call_at(now + TICK, tick, now + TICK)

    loop.call_soon(tick, loop.time())
    _time_callbacks(stages)
    gc.callbacks.append(stages.collecting)

    loop.add_signal_handler(signal.SIGUSR2, stages.dump)
