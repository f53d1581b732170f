"""A reconnect storm across two real frontends: 500 SSE clients, one frontend SIGKILLed while
events flow; every client resumes on the other with ``Last-Event-ID`` and ends with exactly the
stored sequence of its video: nothing lost, nothing twice, ascending."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nats.aio.msg import Msg

from mesh.connection import MeshConnection
from mesh.events import EventPublisher
from mesh.identity.store import IdentityStore
from mesh.replay import EventReader
from mesh.subjects import EVENTS_STREAM, event_filters
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.ids import new_video_id
from schemas.videos import VideoStatus
from services.identity.accounts import Accounts
from tests.conftest import NatsProcess, start_nats
from tests.frontend_server.sse_client import SSEClient
from tests.support import CultoProcess, Member, culto_env, eventually, make_member

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

CONSUMER_CREATED = "$JS.EVENT.ADVISORY.CONSUMER.CREATED"
CLIENTS = 500
VIDEOS = 20
EVENTS_PER_VIDEO = 30


@dataclass
class Client:
    video: str
    home: int
    seqs: list[int] = field(default_factory=list)
    connects: int = 0
    resumed_at: float | None = None

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else 0


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsProcess]:
    server = start_nats(tmp_path / "js")
    yield server
    server.stop()


def test_500_clients_resume_exactly_after_a_frontend_is_killed(
    tmp_path: Path, nats: NatsProcess, request: pytest.FixtureRequest
) -> None:
    env = culto_env(
        tmp_path / "data",
        NATS_URL=nats.url,
        CULTO_ENV="dev",
        PORT="0",
        # Every client of this test comes from 127.0.0.1: lift the per-client limits.
        CULTO_MAX_STREAMS_PER_CLIENT=str(CLIENTS),
        CULTO_MAX_CONNECTIONS_PER_SECOND=str(10 * CLIENTS),
    )
    provisioning = CultoProcess(["provision"], env)
    assert provisioning.wait(60) == 0, provisioning.output
    frontends = [CultoProcess(["frontend"], env) for _ in range(2)]
    try:
        ports = [int(f.wait_for(r"frontend on http://\S+:(\d+)").group(1)) for f in frontends]
        report = asyncio.run(_storm(nats, ports, frontends[0]))
    finally:
        for frontend in frontends:
            frontend.stop()
    # The figures are the point of this test: show them even when output is captured.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nreconnect storm: {report}", file=sys.stderr, flush=True)
    assert report.startswith("ok"), report


async def _storm(nats: NatsProcess, ports: list[int], victim: CultoProcess) -> str:
    async with MeshConnection(nats.url, name="culto-test-storm") as mesh:
        # An admin may stream videos that have no record (this test publishes events only).
        admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
        for port in ports:
            await _accepted(port, admin)
        videos = [new_video_id() for _ in range(VIDEOS)]
        clients = [Client(videos[i % VIDEOS], home=i % 2) for i in range(CLIENTS)]
        done = asyncio.Event()
        tasks = [asyncio.create_task(_consume(c, ports, done, admin)) for c in clients]
        publisher = EventPublisher(mesh)
        await eventually(lambda: sum(c.connects for c in clients) == CLIENTS, 60, what="connected")
        created: list[str] = []  # JetStream consumers created from here on (the storm's cost)

        async def count(msg: Msg) -> None:
            created.append(msg.subject)

        advisories = await mesh.nc.subscribe(f"{CONSUMER_CREATED}.{EVENTS_STREAM}.>", cb=count)
        for round_ in range(EVENTS_PER_VIDEO):
            if round_ == EVENTS_PER_VIDEO // 2:
                victim.proc.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
            for video in videos:
                await publisher.publish_status(
                    video,
                    VideoStatus.PROCESSING,
                    round_,
                    f"step {round_}",
                    channel_id=DEFAULT_CHANNEL_ID,
                    msg_id=f"{video}:{round_}",
                )
            await asyncio.sleep(0.02)
        truth = {v: await _stored(mesh, v) for v in videos}
        with contextlib.suppress(TimeoutError):  # a client that never catches up is reported
            await eventually(
                lambda: all(c.last >= truth[c.video][-1] for c in clients), 90, what="caught up"
            )
        done.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await advisories.unsubscribe()
        replays = await _replay_figures(ports[1])
    lost = sum(len(set(truth[c.video]) - set(c.seqs)) for c in clients)
    duplicated = sum(len(c.seqs) - len(set(c.seqs)) for c in clients)
    disordered = sum(c.seqs != sorted(c.seqs) for c in clients)
    wrong = sum(c.seqs != truth[c.video] for c in clients)
    moved = [c for c in clients if c.home == 0]
    resumed = [c.resumed_at - killed_at for c in moved if c.resumed_at is not None]
    figures = (
        f"{CLIENTS} clients, {VIDEOS * EVENTS_PER_VIDEO} events; {len(moved)} moved: "
        f"{len(resumed)} resumed, all within {max(resumed, default=float('nan')):.2f}s of the "
        f"kill; lost {lost}, duplicated {duplicated}, out of order {disordered}, "
        f"not equal to the stored sequence {wrong}; {len(created)} consumers created on "
        f"{EVENTS_STREAM} during the storm; {replays}"
    )
    good = not (lost or duplicated or disordered or wrong) and len(resumed) == len(moved)
    return ("ok: " if good else "FAILED: ") + figures


async def _stored(mesh: MeshConnection, video: str) -> list[int]:
    seqs: list[int] = []
    async for batch in EventReader(mesh).replay(event_filters([video]), 0):
        seqs += [e.seq for e in batch]
    return seqs


async def _replay_figures(port: int) -> str:
    """The surviving frontend's replay histogram (from ``/metrics``), as one phrase."""
    response = await SSEClient.open(port, path="/metrics", headers={"Connection": "close"})
    values = {}
    for line in response.body.decode().splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("culto_sse_replay_duration_seconds_") and "{" not in name:
            values[name.rsplit("_", 1)[1]] = float(value)
    count, total = values.get("count", 0.0), values.get("sum", 0.0)
    mean = 1000 * total / count if count else float("nan")
    return f"the survivor replayed {count:.0f} resumes, {mean:.1f} ms each on average"


async def _accepted(port: int, member: Member) -> None:
    """Wait until the frontend on ``port`` accepts ``member``'s token (its KV watch is
    asynchronous)."""

    async def accepts() -> bool:
        probe = await SSEClient.open(port, auth=member.auth, headers={"Connection": "close"})
        await probe.close()
        return probe.status != 401

    await eventually(accepts, 30, interval=0.1, what="the frontend accepting the admin token")


async def _consume(client: Client, ports: list[int], done: asyncio.Event, admin: Member) -> None:
    """Like a browser's EventSource: reconnect with Last-Event-ID, to the other frontend."""
    port_index = client.home
    while not done.is_set():
        headers = {"Last-Event-ID": str(client.last)}  # 0 at first: the whole history
        try:
            stream = await SSEClient.open(
                ports[port_index],
                query=[("video_id", client.video)],
                headers=headers,
                auth=admin.auth,
            )
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            port_index = 1 - port_index
            await asyncio.sleep(0.05)
            continue
        client.connects += 1
        if client.connects > 1 and client.resumed_at is None:
            client.resumed_at = time.monotonic()
        try:
            while True:
                frame = await stream.next(timeout=3600)
                if frame is None:
                    break
                if frame.id is not None:
                    client.seqs.append(frame.seq)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            await stream.close()
        port_index = 1 - port_index
