"""The ``culto`` role processes of the loopback topology (provisioning, two frontends, the API,
two workers) on top of a :class:`~tests.topology.cluster.NatsCluster`.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mesh.connection import MeshConnection
from mesh.identity.store import IdentityStore
from services.identity.accounts import Accounts
from tests.topology.cluster import NatsCluster, stop_process

REPO = Path(__file__).resolve().parents[2]
CULTO = [sys.executable, "-m", "culto_app.cli"]
COOKIE_SECRET = "topology-cookie-secret-0123456789"

Log = Callable[[str], None]


@dataclass
class Role:
    """One ``culto <role>`` subprocess; its output goes to a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def wait_ready(self, pattern: str, timeout: float = 60.0) -> None:
        """Wait for the line that says the role serves; its first group is the port."""
        deadline = time.monotonic() + timeout
        while True:
            if match := re.search(pattern, self.log()):
                self.port = int(match.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start: {self.log()[-2000:]}")
            await asyncio.sleep(0.05)


def role_env(nats_url: str, data_dir: Path) -> dict[str, str]:
    """Environment of one role: the prod-like settings with test-sized timeouts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTO_"))}
    for name in ("PORT", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    env.update(
        NATS_URL=nats_url,
        CULTO_ENV="dev",
        COOKIE_SECRET=COOKIE_SECRET,
        CULTO_STREAM_REPLICAS="3",
        PORT="0",
        CULTO_DATA_DIR=str(data_dir),
        SSE_HEARTBEAT_INTERVAL="1",
        CULTO_JOB_ACK_WAIT="3",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_role(name: str, args: list[str], nats_url: str, root: Path) -> Role:
    """Start ``culto <args>`` in its own session with a private data dir."""
    data_dir = root / name
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "role.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [*CULTO, *args],
            env=role_env(nats_url, data_dir),
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Role(name, proc, log_path)


class Topology:
    """Starts and stops the processes; the scenario lives in
    :func:`tests.topology.harness.run_failover`."""

    def __init__(self, root: Path, log: Log) -> None:
        self.root = root
        self.log = log
        self.cluster: NatsCluster | None = None
        self.roles: dict[str, Role] = {}

    async def start(self) -> None:
        """Cluster, provisioning, then every role, waiting until each one serves."""
        self.cluster = NatsCluster.start(self.root / "nats")
        await self.cluster.wait_ready()
        url = self.cluster.url
        # The meta leader may still be settling right after /healthz turns green.
        for attempt in range(5):
            done = await asyncio.to_thread(
                subprocess.run,
                [*CULTO, "provision"],
                env=role_env(url, self.root / "provision"),
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode == 0:
                break
            self.log(f"provision attempt {attempt + 1} failed: {done.stderr.strip()[-300:]}")
            await asyncio.sleep(1)
        else:
            raise RuntimeError(f"culto provision failed: {done.stderr}")
        # The instance's public default channel, as a first `culto up` makes it: the videos
        # submitted here name no channel, so they belong to it, and anonymous streams read it.
        async with MeshConnection(url, name="topology-setup") as mesh:
            await Accounts(IdentityStore(mesh)).ensure_default_channel()
        for name, args in (
            ("frontend0", ["frontend"]),
            ("frontend1", ["frontend"]),
            ("api", ["api"]),
            ("worker0", ["worker"]),
            ("worker1", ["worker"]),
        ):
            self.roles[name] = start_role(name, args, url, self.root)
        await asyncio.gather(
            *(
                role.wait_ready(
                    r"frontend on http://\S+:(\d+)"
                    if name.startswith("frontend")
                    else r"\(ops on port (\d+)\)"
                )
                for name, role in self.roles.items()
            )
        )

    def stop(self) -> dict[str, str]:
        """Stop roles (SIGTERM, then SIGKILL), then the cluster; returns every role's log."""
        for role in self.roles.values():
            stop_process(role.proc)
        if self.cluster is not None:
            self.cluster.stop()
        return {name: role.log() for name, role in self.roles.items()}
