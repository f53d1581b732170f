"""A revoked credential stops working within about a second even when the node hosting the
replica's identity watch (an R1 ordered consumer, on any peer of the R3 bucket) dies while the
replica stays connected to another node (issue 21, defect 1: it kept working for ~14 s, as the
watch's loss was noticed only by nats-py's 5 s heartbeat check)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from functools import partial
from pathlib import Path

import pytest

from access.credentials import split_token
from culto.errors import CultoError
from mesh.connection import MeshConnection
from mesh.directory import Directory
from mesh.identity.store import IdentityStore
from mesh.provision import StreamPolicy, provision
from services.identity.accounts import Accounts
from tests.support import eventually, make_member
from tests.topology.cluster import NatsCluster, NatsNode

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(120)]

REVOKED_WITHIN = 5.0
"""Seconds from the revocation's write to the replica refusing the token: two missed watch
heartbeats (0.5 s) and a new consumer; measured 0.5-2 s on a loaded shared 2-core machine (it
was ~14 s: 10 s of heartbeat check, then a new consumer)."""


def test_revocation_reaches_a_replica_whose_watch_consumer_died(tmp_path: Path) -> None:
    cluster = NatsCluster.start(tmp_path, size=3)
    try:
        asyncio.run(_scenario(cluster))
    finally:
        cluster.stop()


async def _scenario(cluster: NatsCluster) -> None:
    await cluster.wait_ready()
    async with MeshConnection(cluster.url, name="test-admin") as admin:
        await eventually(lambda: _provisioned(admin), 60, interval=0.5, what="R3 provisioning")
        accounts = Accounts(IdentityStore(admin))
        member = await make_member(accounts)
        parts = split_token(member.token)
        assert parts is not None
        token_id = parts[0]
        host, replica, directory = await _watch_on_another_node(cluster, token_id)
        try:
            # The bucket's leader elsewhere: the revocation is written at once, and only the
            # watch's own loss is measured.
            await _lead_elsewhere(admin, "KV_culto_identity", host.name)
            host.proc.kill()
            host.proc.wait()
            await _retrying(lambda: accounts.revoke_token(token_id))  # may await an election
            written = time.monotonic()
            await eventually(
                lambda: token_id not in directory.tokens,
                REVOKED_WITHIN,
                interval=0.01,
                what="the replica refusing the revoked token",
            )
            print(f"revoked token refused {time.monotonic() - written:.2f}s after the write")
        finally:
            await directory.close()
            await replica.close()


async def _watch_on_another_node(
    cluster: NatsCluster, token_id: str
) -> tuple[NatsNode, MeshConnection, Directory]:
    """A replica connected to one node whose identity watch consumer sits on another."""
    for attempt in range(24):
        node = cluster.nodes[attempt % len(cluster.nodes)]
        replica = MeshConnection(node.url, name="test-replica")
        await replica.open()
        directory = Directory(replica)
        await directory.open()
        await eventually(partial(_knows, directory, token_id), 10, what="the token known")
        info = await directory._identity._sub.consumer_info()  # type: ignore[union-attr]
        leader = info.cluster.leader if info.cluster else None
        # Not the meta leader either: re-creating a consumer waits for that election (seconds),
        # which is JetStream's to shorten; what is measured here is noticing the loss.
        if leader and leader not in (node.name, await asyncio.to_thread(_meta_leader, node)):
            return cluster.node(leader), replica, directory
        await directory.close()
        await replica.close()
    raise AssertionError("the watch consumer never sat on another node than the connection's")


async def _lead_elsewhere(mesh: MeshConnection, stream: str, node: str) -> None:
    for _ in range(10):
        info = await mesh.jsm.stream_info(stream)
        if info.cluster is not None and info.cluster.leader not in (None, node):
            return
        await mesh.nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"", timeout=5)
        await asyncio.sleep(1)
    raise AssertionError(f"{stream} stays led by {node}")


def _meta_leader(node: NatsNode) -> str:
    url = f"http://127.0.0.1:{node.monitor_port}/jsz"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return str(json.loads(response.read()).get("meta_cluster", {}).get("leader", ""))


def _knows(directory: Directory, token_id: str) -> bool:
    return token_id in directory.tokens


async def _provisioned(mesh: MeshConnection) -> bool:
    try:
        await provision(mesh, StreamPolicy(replicas=3))
    except CultoError:
        return False
    return True


async def _retrying(call: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await call()  # type: ignore[operator]
            return
        except CultoError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
