"""A poison job on real processes: every worker that takes it is killed with SIGKILL.

``culto api`` and ``culto worker`` run as subprocesses against a real nats-server. The video's
audio URL points at a local server that accepts the download and never answers, so each worker
is mid-job when it is killed. After ``CULTO_JOB_MAX_DELIVER`` deliveries the video must be
FAILED exactly once, with an ``error`` event saying what happened, and the job must be gone.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mesh.connection import MeshConnection
from mesh.replay import EventReader
from mesh.subjects import JOBS_STREAM, event_filters
from schemas.videos import VideoCreate, VideoDTO, VideoStatus
from tests.conftest import NatsProcess, start_nats
from tests.support import CultoProcess, admin_api, culto_env, eventually

T = TypeVar("T")

pytestmark = [pytest.mark.faults, pytest.mark.timeout(150)]


class StallingServer:
    """Accepts HTTP connections, counts them, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def stalling() -> Iterator[StallingServer]:
    server = StallingServer()
    yield server
    server.close()


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsProcess]:
    server = start_nats(tmp_path / "js")
    yield server
    server.stop()


def _until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        time.sleep(0.1)


def test_poison_job_fails_its_video_once_after_max_deliveries(
    tmp_path: Path, nats: NatsProcess, stalling: StallingServer
) -> None:
    env = culto_env(
        tmp_path / "data",
        NATS_URL=nats.url,
        CULTO_JOB_ACK_WAIT="1",
        CULTO_JOB_MAX_DELIVER="2",
        CULTO_ALLOWED_VIDEO_HOSTS="127.0.0.1",  # the stalling server stands in for a video site
        CULTO_ALLOW_PRIVATE_FETCH="1",  # ... on loopback
        PORT="0",
    )
    procs: list[CultoProcess] = []
    try:
        provision = CultoProcess(["provision"], env)
        assert provision.wait(60) == 0, provision.output
        api = CultoProcess(["api"], env)
        procs.append(api)
        api.wait_for("video API service ready")
        video_id = _submit(nats, f"http://127.0.0.1:{stalling.port}/sermon.mp3")
        for delivery in (1, 2):
            worker = CultoProcess(["worker"], env)
            procs.append(worker)
            _until(
                lambda d=delivery: len(stalling.accepted) >= d,
                60,
                f"delivery {delivery}",
            )
            worker.proc.send_signal(signal.SIGKILL)
            worker.wait(10)
        healthy = CultoProcess(["worker"], env)  # JetStream notices when it next delivers
        procs.append(healthy)
        record = _until_failed(nats, video_id)
        assert record["error"]["code"] == "job_abandoned", record
        assert len(stalling.accepted) == 2  # never delivered a third time
        events = _events(nats, video_id)
        statuses = [e["status"] for e in events if e["type"] == "video.status"]
        assert statuses.count("FAILED") == 1, events
        errors = [e for e in events if e["type"] == "error"]
        assert [e["code"] for e in errors] == ["job_abandoned"], events
        assert _jobs_left(nats) == 0
    finally:
        for proc in procs:
            proc.stop()


# -- reading the mesh from the test (each helper runs its own short event loop) ---------------


async def _with_mesh(nats: NatsProcess, action: Callable[[MeshConnection], Awaitable[T]]) -> T:
    async with MeshConnection(nats.url, name="culto-test-faults") as mesh:
        return await action(mesh)


def _submit(nats: NatsProcess, url: str) -> str:
    async def submit(mesh: MeshConnection) -> str:
        video = await (await admin_api(mesh)).create(VideoCreate(url=url, title="Poison"))
        return video.id

    return asyncio.run(_with_mesh(nats, submit))


def _until_failed(nats: NatsProcess, video_id: str) -> dict[str, Any]:
    async def failed(mesh: MeshConnection) -> dict[str, Any]:
        client = await admin_api(mesh)
        seen: list[VideoDTO] = []

        async def done() -> bool:
            seen.append(await client.get(video_id))
            return seen[-1].status is VideoStatus.FAILED

        await eventually(done, 60, interval=0.2, what="the video FAILED")
        return seen[-1].model_dump(mode="json")

    return asyncio.run(_with_mesh(nats, failed))


def _events(nats: NatsProcess, video_id: str) -> list[dict[str, Any]]:
    async def events(mesh: MeshConnection) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async for batch in EventReader(mesh).replay(event_filters([video_id]), 0):
            out += [json.loads(e.data) for e in batch]
        return out

    return asyncio.run(_with_mesh(nats, events))


def _jobs_left(nats: NatsProcess) -> int:
    async def left(mesh: MeshConnection) -> int:
        return int((await mesh.jsm.stream_info(JOBS_STREAM)).state.messages)

    return asyncio.run(_with_mesh(nats, left))
