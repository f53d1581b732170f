"""A single NATS node loss costs no failed request (issue 21, defect 8: 17-25 of 40 submits were
answered 503 during the leader election) and readiness tells the truth meanwhile.

The production topology on loopback (3-node R3 cluster, two frontends, the API, two workers);
submits arrive every 0.25 s while the node leading the video records' bucket is SIGKILLed. The
API retries its JetStream writes through the election with the same ids (a record created
once, a job and its events stored once), and the frontend re-sends a request nobody received
(its own reconnect, the API's reconnect) within a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import pytest

from mesh.connection import MeshConnection
from mesh.identity.store import IdentityStore
from services.identity.accounts import Accounts
from tests.support import make_member
from tests.topology.browser import Browser
from tests.topology.cluster import leader_of
from tests.topology.harness import transcript
from tests.topology.roles import Topology

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(180)]

SUBMITS = 40
KILL_AT = 8


def test_a_node_loss_costs_no_submit(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    topology = Topology(tmp_path, lambda line: None)
    try:
        results, readiness, killed = asyncio.run(_scenario(topology))
    finally:
        logs = topology.stop()
    failed = [r for r in results if r[1] != 201]
    report = (
        f"node loss: killed {killed} (the records' leader) at submit {KILL_AT}; "
        f"{SUBMITS - len(failed)}/{SUBMITS} submits 201, slowest "
        f"{max(r[2] for r in results):.2f}s; /ready of frontend0 after the kill: {readiness}"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n{report}", file=sys.stderr, flush=True)
    assert not failed, (failed, logs.get("api", "")[-3000:])
    assert len({r[3] for r in results}) == SUBMITS  # each submit made one video


async def _scenario(topology: Topology) -> tuple[list[tuple[int, int, float, str]], str, str]:
    await topology.start()
    assert topology.cluster is not None
    async with MeshConnection(topology.cluster.url, name="test-node-loss") as mesh:
        editor = await make_member(Accounts(IdentityStore(mesh)), admin=True)
        browser = Browser(topology.roles["frontend0"].port, editor.token)
        for _ in range(100):  # the frontend's directory learns the token from KV
            if (await asyncio.to_thread(browser.call, "GET", "/api/v2/auth/me"))[0] == 200:
                break
            await asyncio.sleep(0.1)
        leader = await leader_of(mesh, "KV_culto_videos")
        assert leader, "the records' bucket has no leader"
        results: list[tuple[int, int, float, str]] = []
        readiness: list[tuple[float, int]] = []
        killed_at = 0.0

        async def submit(index: int) -> None:
            body = {
                "title": f"Culto {index}",
                "transcript": {"format": "txt", "content": transcript(index)},
            }
            started = time.monotonic()
            status, video = await asyncio.to_thread(browser.call, "POST", "/api/v2/videos/", body)
            made = video.get("id", "") if isinstance(video, dict) and status == 201 else str(video)
            results.append((index, status, time.monotonic() - started, made))

        async def ready() -> None:
            while True:
                status, _ = await asyncio.to_thread(browser.call, "GET", "/ready")
                readiness.append((time.monotonic() - killed_at, status))
                await asyncio.sleep(0.5)

        tasks = []
        for index in range(SUBMITS):
            if index == KILL_AT:
                node = topology.cluster.node(leader)
                node.proc.kill()
                node.proc.wait()
                killed_at = time.monotonic()
                watcher = asyncio.create_task(ready())
            tasks.append(asyncio.create_task(submit(index)))
            await asyncio.sleep(0.25)
        await asyncio.gather(*tasks)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    shown = ", ".join(f"{t:.1f}s {s}" for t, s in readiness)
    return results, shown, leader
