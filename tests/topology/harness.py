"""The production topology on loopback, with failures injected, for the test and the benchmark.

What runs (the ``prod`` overlay as local processes, see :mod:`tests.topology.roles`): a 3-node
nats-server cluster with R3 streams and KV, ``culto provision``, two ``culto frontend``, one
``culto api`` and two ``culto worker`` processes. SSE clients (asyncio tasks in this process)
stay connected to both frontends and resume with ``Last-Event-ID`` wherever they can. While a
batch of videos is being processed the scenario SIGKILLs the nats-server that leads
``CULTO_EVENTS``, then one frontend.

:func:`run_failover` returns a :class:`~tests.topology.report.FailoverReport` (per-client frames,
the JetStream truth for each client's filter, the recovery times); the caller asserts or prints.
Everything started here is stopped before it returns, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mesh.connection import MeshConnection
from mesh.identity.store import IdentityStore
from mesh.replay import EventReader
from mesh.subjects import EVENTS_STREAM, event_filters
from services.identity.accounts import Accounts
from tests.support import make_member
from tests.topology.browser import Browser
from tests.topology.cluster import NatsCluster, leader_of
from tests.topology.report import FailoverReport
from tests.topology.roles import REPO, Log, Role, Topology
from tests.topology.streams import Frame, StreamClient

SERMON = REPO / "tests" / "data" / "sermons" / "pt_fe_que_vence.txt"


def transcript(index: int) -> str:
    """A Portuguese sermon, varied per video so every summary differs."""
    base = SERMON.read_text(encoding="utf-8")
    return f"Culto número {index + 1}. Irmãos, abram em Romanos {index % 16 + 1}:1.\n{base}"


async def _poll(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Await ``check()`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


def _stamped_after(frame: Frame, wall: float) -> bool:
    """True if the event was published after ``wall`` (its own ``timestamp`` says so)."""
    stamp = json.loads(frame[2]).get("timestamp", "")
    return bool(stamp) and datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() > wall


@contextlib.asynccontextmanager
async def _running(tasks: list[asyncio.Task[None]]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_failover(root: Path, *, videos: int = 12, log: Log | None = None) -> FailoverReport:
    """Run the whole scenario once under ``root`` (a scratch directory).

    Args:
        root: Where stores, data dirs and logs go.
        videos: Batch size (half submitted up front, half trickled in during the failures).
        log: Progress lines (default: stderr).
    """
    say = log or (lambda line: print(f"[topology] {line}", file=sys.stderr, flush=True))
    started = time.monotonic()
    topo = Topology(root, say)
    logs: dict[str, str] = {}
    try:
        await topo.start()
        assert topo.cluster is not None
        say(f"cluster {topo.cluster.url} and roles up after {time.monotonic() - started:.1f}s")
        async with MeshConnection(topo.cluster.url, name="topology-observer") as mesh:
            report = await _scenario(topo, mesh, videos, say)
    finally:
        logs = topo.stop()
    report.logs = logs
    report.duration_s = time.monotonic() - started
    return report


# -- the scenario, step by step --------------------------------------------------------------


@dataclass
class _Run:
    """What every step of one scenario shares: the processes, the clients, the videos so far."""

    cluster: NatsCluster
    mesh: MeshConnection
    say: Log
    frontends: list[Role]
    browsers: list[Browser]
    alive: list[bool] = field(default_factory=lambda: [True, True])
    ids: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    clients: list[StreamClient] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        """The frontends' ports, by index."""
        return [fe.port for fe in self.frontends]

    def spawn(self, client: StreamClient) -> None:
        """Start ``client`` streaming; it is cancelled with every other task at the end."""
        self.clients.append(client)
        self.tasks.append(asyncio.create_task(client.run(self.ports, self.alive), name=client.name))

    async def submit(self, index: int) -> None:
        """POST video ``index``, retrying on the other frontend until one answers 201."""
        body = {
            "title": f"Culto {index + 1} - Pr. João Silva",
            "transcript": {"format": "txt", "content": transcript(index)},
        }
        deadline = time.monotonic() + 40
        target, failures = index % 2, 0
        while True:
            if not self.alive[target]:
                target = 1 - target
            try:
                status, video = await asyncio.to_thread(
                    self.browsers[target].call, "POST", "/api/v2/videos/", body
                )
            except OSError as exc:
                status, video = 0, repr(exc)
            if status == 201:
                self.ids.append(video["id"])
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"submitting video {index} failed: {status} {video}")
            if failures == 0:  # one line per video: the election makes many attempts fail
                self.say(
                    f"submit {index} via frontend{target}: {status} {str(video)[:150]}; retrying"
                )
            failures += 1
            target = 1 - target
            await asyncio.sleep(0.2)

    async def trickle(self, indices: range) -> None:
        """Submit ``indices`` one by one, paced."""
        for index in indices:
            await self.submit(index)
            await asyncio.sleep(0.4)  # pacing, not waiting: keeps events flowing during faults


@dataclass
class _LeaderKill:
    leader: str
    elected: str
    kill_wall: float
    """Wall-clock time of the kill, to compare with the events' own timestamps."""
    kill_at: float
    election_s: float
    all_leaders_s: float


@dataclass
class _FrontendKill:
    victim: int
    survivor: int
    moved: list[StreamClient]
    resume_s: float


@dataclass
class _Truth:
    truth: dict[str, list[Frame]]
    events_total: int
    first_publish_s: float


async def _scenario(topo: Topology, mesh: MeshConnection, count: int, say: Log) -> FailoverReport:
    assert topo.cluster is not None
    frontends = [topo.roles["frontend0"], topo.roles["frontend1"]]
    # An editor's token (the frontends' directories learn it from KV; submit retries until then).
    editor = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    browsers = [Browser(fe.port, editor.token) for fe in frontends]
    run = _Run(topo.cluster, mesh, say, frontends, browsers)
    async with _running(run.tasks):
        submitter = await _connect_clients(run, count)
        kill = await _kill_events_leader(run)
        fe_kill = await _kill_busier_frontend(run)
        await asyncio.wait_for(asyncio.shield(submitter), 60)
        statuses = await _poll(
            "every video to finish", _processed(run, fe_kill.survivor), 90, interval=0.25
        )
        done_at = time.monotonic()
        say(f"all {len(run.ids)} videos finished after {done_at - kill.kill_at:.1f}s")
        listed = await _converged_list(run, fe_kill.survivor)
        list_s = time.monotonic() - done_at
        say(f"video list agreed {list_s:.2f}s after the last video finished")
        seen = await _read_truth(run, kill.kill_wall)
        with contextlib.suppress(TimeoutError):
            await _poll("clients to catch up", lambda: _caught_up(run.clients, seen.truth), 20)

    return FailoverReport(
        videos=list(run.ids),
        statuses=statuses,
        listed=listed,
        clients=run.clients,
        truth=seen.truth,
        events_total=seen.events_total,
        killed_node=kill.leader,
        new_leader=kill.elected,
        leader_election_s=kill.election_s,
        all_leaders_s=kill.all_leaders_s,
        first_publish_after_kill_s=seen.first_publish_s,
        frontend_resume_s=fe_kill.resume_s,
        list_lag_s=list_s,
        killed_frontend=fe_kill.victim,
        frontend_clients_moved=len(fe_kill.moved),
        duration_s=0.0,
    )


async def _connect_clients(run: _Run, count: int) -> asyncio.Task[None]:
    """Stream clients on both frontends, the first half of the videos submitted, the second half
    trickling in (the returned task) while the failures happen."""
    clients = run.clients
    # All-video clients from the start, one per frontend.
    for fe in (0, 1):
        run.spawn(StreamClient(f"all@fe{fe}", fe))
    await _poll("all-video clients to connect", lambda: all(c.connects for c in clients), 20)

    first = count // 2
    for index in range(first):
        await run.submit(index)
    # Filtered clients on subsets of the first half (ids exist only after submission).
    ids = run.ids
    a, b = ids[: first // 2 + 1], ids[first // 2 :]
    run.spawn(StreamClient("videos-a@fe0", 0, tuple(a)))
    run.spawn(StreamClient("videos-b-status@fe0", 0, tuple(b), ("video.status",)))
    run.spawn(StreamClient("videos-b@fe1", 1, tuple(b)))
    run.spawn(StreamClient("videos-even-summary@fe1", 1, tuple(ids[::2]), ("summary.ready",)))

    submitter = asyncio.create_task(run.trickle(range(first, count)), name="submitter")
    run.tasks.append(submitter)
    await _poll("the filtered clients to connect", lambda: all(c.connects for c in clients), 20)
    return submitter


async def _kill_events_leader(run: _Run) -> _LeaderKill:
    """(1) SIGKILL the nats-server leading CULTO_EVENTS; time the elections and the first event
    that reaches a client again."""
    mesh, say = run.mesh, run.say
    leader = await _poll("a CULTO_EVENTS leader", lambda: leader_of(mesh), 20)
    streams = [str(info.config.name) for info in await mesh.jsm.streams_info()]
    node = run.cluster.node(leader)
    kill_wall, kill_at = time.time(), time.monotonic()
    node.proc.kill()
    node.proc.wait()
    say(f"SIGKILLed {leader}, the {EVENTS_STREAM} leader")

    async def new_leader() -> str | None:
        current = await leader_of(mesh)
        return current if current and current != leader else None

    elected = await _poll("a new CULTO_EVENTS leader", new_leader, 60, interval=0.02)
    election_s = time.monotonic() - kill_at
    say(f"new leader {elected} after {election_s:.2f}s")

    async def all_led() -> bool:
        leaders = await asyncio.gather(*(leader_of(mesh, name) for name in streams))
        return all(x and x != leader for x in leaders)

    await _poll("every stream to have a leader", all_led, 60, interval=0.02)
    all_leaders_s = time.monotonic() - kill_at
    say(f"all {len(streams)} streams led again after {all_leaders_s:.2f}s")

    # Let the system prove it recovered (an event stored after the kill reached a client)
    # before the second failure, so the two recoveries are measured separately.
    await _poll(
        "an event published after the leader kill to reach a client",
        lambda: any(c.frames and _stamped_after(c.frames[-1], kill_wall) for c in run.clients),
        60,
    )
    say(f"events flow again {time.monotonic() - kill_at:.2f}s after the kill")
    return _LeaderKill(leader, elected, kill_wall, kill_at, election_s, all_leaders_s)


async def _kill_busier_frontend(run: _Run) -> _FrontendKill:
    """(2) SIGKILL a frontend; its clients must resume on the other one."""
    # The leader kill may have moved clients around (a frontend answers 503 while its own
    # NATS connection recovers): kill whichever frontend serves more of them now.
    on = [[c for c in run.clients if c.connects and c.connects[-1][1] == fe] for fe in (0, 1)]
    victim = 0 if len(on[0]) >= len(on[1]) else 1
    survivor, moved = 1 - victim, on[victim]
    fe_kill_at = time.monotonic()
    run.alive[victim] = False
    run.frontends[victim].proc.kill()
    run.frontends[victim].proc.wait()
    run.say(f"SIGKILLed frontend{victim}; {len(moved)} clients were on it")
    await _poll(
        "the killed frontend's clients to resume on the other",
        lambda: all(c.resumed_on(survivor, fe_kill_at) for c in moved),
        30,
        interval=0.01,
    )
    resume_s = (
        max((c.resumed_on(survivor, fe_kill_at) or fe_kill_at) - fe_kill_at for c in moved)
        if moved
        else 0.0
    )
    run.say(f"frontend{victim}'s clients resumed on frontend{survivor} within {resume_s:.2f}s")
    return _FrontendKill(victim, survivor, moved, resume_s)


def _processed(run: _Run, frontend: int) -> Callable[[], Any]:
    """A check for :func:`_poll`: every video's status once all are PROCESSED or FAILED."""

    async def all_processed() -> dict[str, str] | None:
        statuses: dict[str, str] = {}
        for vid in run.ids:
            status, video = await asyncio.to_thread(
                run.browsers[frontend].call, "GET", f"/api/v2/videos/{vid}"
            )
            statuses[vid] = video.get("status", "?") if status == 200 else f"HTTP {status}"
            if statuses[vid] not in ("PROCESSED", "FAILED"):
                return None
        return statuses

    return all_processed


async def _converged_list(run: _Run, frontend: int) -> dict[str, str]:
    """The video list's statuses once it shows every video PROCESSED (or after 60 s)."""
    # The list is served from the API's in-memory catalog (a KV watch), which lags single
    # reads after a failover: measure how long it takes to agree.
    listed: dict[str, str] = {}

    async def list_converged() -> bool:
        status, page = await asyncio.to_thread(
            run.browsers[frontend].call, "GET", "/api/v2/videos/?limit=200"
        )
        if status == 200:
            listed.clear()
            listed.update({v["id"]: v["status"] for v in page.get("items", [])})
        return set(run.ids) <= set(listed) and all(s == "PROCESSED" for s in listed.values())

    with contextlib.suppress(TimeoutError):
        await _poll("the video list to show every video done", list_converged, 60, 0.25)
    return listed


async def _read_truth(run: _Run, kill_wall: float) -> _Truth:
    """The truth, per client filter, straight from JetStream."""
    reader = EventReader(run.mesh)
    truth: dict[str, list[Frame]] = {}
    for client in run.clients:
        frames: list[Frame] = []
        async for batch in reader.replay(client.filters, 0):
            frames += [(e.seq, e.event_type, e.data.decode()) for e in batch]
        truth[client.name] = frames
    everything: list[Frame] = []
    times: list[float] = []
    async for batch in reader.replay(event_filters(), 0):
        everything += [(e.seq, e.event_type, e.data.decode()) for e in batch]
        times += [e.time.timestamp() for e in batch if e.time is not None]
    after_kill = [t - kill_wall for t in times if t >= kill_wall]
    first_publish_s = min(after_kill) if after_kill else float("nan")
    return _Truth(truth, len(everything), first_publish_s)


def _caught_up(clients: list[StreamClient], truth: dict[str, list[Frame]]) -> bool:
    return all(
        (c.frames[-1][0] if c.frames else 0) >= (truth[c.name] or [(0, "", "")])[-1][0]
        for c in clients
    )
