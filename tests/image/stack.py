"""compose.yaml brought up with podman-compose from the images :mod:`engine` built, and the
operations the image test needs on it: the health checks compose.yaml declares (run in the
containers), the admin CLI one-shot, the proxy's CA, killing a container, and where the
leader of a JetStream stream is (the NATS monitoring port, inside its container)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from engine import IMAGE_TAG, PROXY_TAG, REPO, Engine

PROJECT = "culto-imagetest"
FILES = ("compose.yaml", "tests/image/compose.ci.yaml")
LONG_RUNNING = ("nats-0", "nats-1", "nats-2", "api", "worker-1", "worker-2", "frontend-1",
                "frontend-2", "proxy")  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """The running compose project (``podman-compose -p culto-imagetest``)."""

    engine: Engine
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.https_port}"

    def compose(self, *args: str, timeout: float = 300, stdin: str | None = None) -> str:
        env = {
            **self.engine.env,
            "CULTO_IMAGE": IMAGE_TAG,
            "CULTO_PROXY_IMAGE": PROXY_TAG,
            "CULTO_BIND": "127.0.0.1",
            "CULTO_HTTPS_PORT": str(self.https_port),
            "CULTO_HTTP_PORT": str(self.http_port),
            "CULTO_URL": self.origin,
        }
        files = [a for f in FILES for a in ("-f", f)]
        result = subprocess.run(
            [*self.engine.compose_command(), "-p", PROJECT, *files, *args], cwd=REPO, env=env,
            capture_output=True, text=True, timeout=timeout, check=False, input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"podman-compose {' '.join(args)}: {result.stderr[-2000:]}")
        return result.stdout

    def up(self) -> None:
        self.down()  # whatever an interrupted run left behind
        self.compose("up", "-d")

    def down(self) -> None:
        self.compose("down", "-v", "-t", "5", timeout=600)

    def container(self, service: str) -> str:
        return f"{PROJECT}_{service}_1"

    def exec(
        self, service: str, *command: str, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """``podman exec`` in the service's container (not checked: see ``returncode``)."""
        container = self.container(service)
        return self.engine.podman("exec", container, *command, timeout=timeout, check=False)

    def health_checks(self) -> dict[str, Any]:
        """compose.yaml's health check command of each service (as declared there)."""
        declared = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
        checks = {}
        for name in LONG_RUNNING:
            test = declared["services"][name]["healthcheck"]["test"]
            assert test[0] == "CMD", f"{name}: a CMD health check"
            checks[name] = test[1:]
        return checks

    def healthy(self, service: str, command: list[str]) -> bool:
        return self.exec(service, *command, timeout=15).returncode == 0

    def cli(self, *args: str) -> str:
        """``compose run --rm cli ARGS`` (the admin's one-shot); its stdout."""
        return self.compose("--profile", "tools", "run", "--rm", "-T", "--no-deps", "cli", *args,
                            timeout=120)  # fmt: skip

    def proxy_ca(self) -> str:
        """The root certificate Caddy's local CA signed the site's certificate with."""
        path = "/data/caddy/pki/authorities/local/root.crt"
        deadline = time.monotonic() + 60
        while True:
            result = self.exec("proxy", "cat", path)
            if result.returncode == 0 and "BEGIN CERTIFICATE" in result.stdout:
                return result.stdout
            if time.monotonic() > deadline:
                raise RuntimeError(f"no CA certificate in the proxy: {result.stderr[-300:]}")
            time.sleep(1)

    def kill(self, service: str) -> None:
        """SIGKILL the container's process from the host: a crash, not a stop (``podman kill``
        counts as stopped by the user, and restart policies would leave it down)."""
        pid = self.engine.podman("inspect", "--format", "{{.State.Pid}}", self.container(service))
        os.kill(int(pid.stdout.strip()), signal.SIGKILL)

    def restarts(self, service: str) -> int:
        state = self.engine.podman("inspect", "--format", "{{.RestartCount}}",
                                   self.container(service), check=False)  # fmt: skip
        return int(state.stdout.strip() or 0)

    def running(self, service: str) -> bool:
        state = self.engine.podman("inspect", "--format", "{{.State.Running}}",
                                   self.container(service), check=False)  # fmt: skip
        return state.stdout.strip() == "true"

    def stream_leader(self, stream: str, via: str = "nats-0") -> str | None:
        """The node leading ``stream``, from a node's monitoring endpoint (/jsz)."""
        script = (
            "import json, urllib.request as u; print(u.urlopen("
            "'http://127.0.0.1:8222/jsz?streams=true&accounts=true', timeout=5).read().decode())"
        )
        result = self.exec(via, "python", "-c", script)
        if result.returncode != 0:
            return None
        for account in json.loads(result.stdout).get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail.get("name") == stream:
                    leader = detail.get("cluster", {}).get("leader")
                    return str(leader) if leader else None
        return None

    def logs(self, service: str, tail: int = 30) -> str:
        return self.engine.podman("logs", "--tail", str(tail), self.container(service),
                                  check=False).stderr  # fmt: skip

    def diagnosis(self, pending: list[str]) -> str:
        """What a readiness timeout needs to be read: every container's state, and the logs of
        the services still pending and of those they wait for (the provisioning job, the NATS
        nodes), which pass their own checks and would otherwise not be shown."""
        states = self.engine.podman("ps", "-a", "--format", "{{.Names}}\t{{.Status}}",
                                    check=False).stdout  # fmt: skip
        waited_on = [s for s in ("provision", "nats-0", "nats-1", "nats-2") if s not in pending]
        logs = "\n".join(f"--- {n}\n{self.logs(n)}" for n in [*pending, *waited_on])
        return f"containers:\n{states}\n{logs}"
