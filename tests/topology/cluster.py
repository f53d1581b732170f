"""The 3-node nats-server cluster of the loopback topology, and the process helpers it shares
with the roles.

Every process leads its own session, so stopping it also stops whatever it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mesh.connection import MeshConnection
from mesh.embedded import EmbeddedNatsServer
from mesh.subjects import EVENTS_STREAM

# Loopback only: a proxy from the environment must never see these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_ports(count: int) -> list[int]:
    """Ports that were free a moment ago (all bound at once, so they are distinct)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def stop_process(proc: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL the whole session after ``grace`` seconds (no leaked children)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    # Each process leads its own session: kill whatever is left of its group too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class NatsNode:
    """One nats-server of the cluster."""

    name: str
    client_port: int
    monitor_port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.client_port}"

    def healthy(self) -> bool:
        """True once the node's JetStream is up (monitoring ``/healthz``)."""
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        try:
            with _OPENER.open(url, timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False


@dataclass
class NatsCluster:
    """Three clustered nats-servers with JetStream on fixed loopback ports."""

    nodes: list[NatsNode]

    @property
    def url(self) -> str:
        """The comma list of every node, as ``NATS_URL`` takes it."""
        return ",".join(n.url for n in self.nodes)

    def node(self, name: str) -> NatsNode:
        """The node called ``name``."""
        return next(n for n in self.nodes if n.name == name)

    @classmethod
    def start(cls, root: Path, size: int = 3) -> NatsCluster:
        """Start ``size`` nodes; route ports are fixed up front so every node can list the
        others."""
        ports = free_ports(3 * size)
        client, route, monitor = ports[:size], ports[size : 2 * size], ports[2 * size :]
        nodes: list[NatsNode] = []
        for i in range(size):
            server = EmbeddedNatsServer(
                store_dir=root / f"n{i}" / "jetstream",
                port=client[i],
                server_name=f"n{i}",
                cluster_name="culto",
                cluster_port=route[i],
                routes=[f"nats://127.0.0.1:{route[j]}" for j in range(size) if j != i],
                monitor_port=monitor[i],
            )
            server.store_dir.mkdir(parents=True, exist_ok=True)
            ports_dir = root / f"n{i}" / "ports"
            ports_dir.mkdir(exist_ok=True)
            log_path = root / f"n{i}" / "server.log"
            with log_path.open("wb") as log_file:
                proc = subprocess.Popen(
                    server.command(str(ports_dir)),
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            nodes.append(NatsNode(f"n{i}", client[i], monitor[i], proc, log_path))
        return cls(nodes)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until every node answers healthy (JetStream enabled, cluster formed)."""
        deadline = time.monotonic() + timeout
        pending = list(self.nodes)
        while pending:
            for node in pending:
                if node.proc.poll() is not None:
                    raise RuntimeError(f"nats-server {node.name} exited: {tail(node.log_path)}")
            ready = await asyncio.gather(*(asyncio.to_thread(n.healthy) for n in pending))
            pending = [n for n, ok in zip(pending, ready, strict=True) if not ok]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"nats-servers not ready: {[n.name for n in pending]}")
            if pending:
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        """Stop every node still running (gracefully: JetStream flushes)."""
        for node in self.nodes:
            stop_process(node.proc, grace=10)


async def leader_of(mesh: MeshConnection, stream: str = EVENTS_STREAM) -> str | None:
    """The server leading ``stream``, or ``None`` while there is none.

    A raw API request with a short timeout: mid-election the stream does not answer, and the
    manager's 5 s default would make the measured election time coarse.
    """
    try:
        reply = await mesh.nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=0.25)
        leader = json.loads(reply.data).get("cluster", {}).get("leader")
    except Exception:  # no responders, timeout, reconnecting: no leader to report yet
        return None
    return str(leader) if leader else None
