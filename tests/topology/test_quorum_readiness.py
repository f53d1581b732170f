"""Readiness tells the truth during a JetStream quorum loss (issue 9, defect 12)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from culto.errors import CultoError
from mesh.connection import MeshConnection
from mesh.provision import StreamPolicy, provision, streams_present
from tests.support import eventually
from tests.topology.cluster import NatsCluster


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ready_turns_red_when_the_streams_lose_their_quorum(tmp_path: Path) -> None:
    # Regression: /ready (streams_present) stayed 200 while 2 of 3 nodes were down and nothing
    # could be written or read; it now requires every R3 stream to have a leader.
    cluster = NatsCluster.start(tmp_path, size=3)
    try:
        asyncio.run(_scenario(cluster))
    finally:
        cluster.stop()


async def _scenario(cluster: NatsCluster) -> None:
    await cluster.wait_ready()
    survivor, *victims = cluster.nodes
    async with MeshConnection(survivor.url, name="culto-test-quorum") as mesh:
        await eventually(lambda: _provisioned(mesh), 60, interval=0.5, what="R3 provisioning")
        await eventually(lambda: streams_present(mesh), 30, what="ready with a quorum")
        for node in victims:
            node.proc.kill()
            node.proc.wait()
        await eventually(
            _not(lambda: streams_present(mesh)), 60, interval=0.5, what="not ready without quorum"
        )


async def _provisioned(mesh: MeshConnection) -> bool:
    try:  # the cluster's meta leader may still be in election right after start-up
        await provision(mesh, StreamPolicy(replicas=3))
    except CultoError:
        return False
    return True


def _not(check: object) -> object:
    async def negated() -> bool:
        return not await check()  # type: ignore[operator]

    return negated
