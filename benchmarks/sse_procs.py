"""Processes of the fan-out benchmark: targets, client groups, and what ``/proc`` says of them."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sse_clients import Spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH = HERE / "bench_sse.py"


def raise_fd_limit() -> None:
    """Soft file limit up to the hard one, for this process and the ones it starts."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


LOG = HERE / "results" / "children.log"
"""Where the child processes' stderr goes (a saturated server logs every failed write)."""


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """This script in another role, talking over stdin/stdout, in a session of its own.

    Linux groups the processes of one session for CPU fairness (``sched_autogroup``): on a
    machine shared with other sessions' work, the frontend, both client processes and the
    publisher shared one session's slice, so the clients read late and the frontend waited
    its turn behind its own load generators. Each target and client process is its own program
    here, as it would be on separate machines (it still exits when its stdin closes).
    """
    LOG.parent.mkdir(exist_ok=True)
    with LOG.open("a") as log:
        return subprocess.Popen(
            [sys.executable, str(BENCH), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=ROOT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )


class Server:
    """One target's process; ``stop`` closes its stdin and waits. ``code``: run the product
    from that checkout (the ``before`` target); ``extra``: more arguments of the server role,
    ``env``: more environment (the soak's memory options)."""

    def __init__(
        self,
        target: str,
        nats_url: str,
        uvloop: bool,
        heartbeat: float,
        code: str = "",
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        args = ["--role", "server", "--target", target, "--nats", nats_url]
        args += ["--heartbeat", str(heartbeat), *(["--code", code] if code else [])]
        self.proc = spawn(*args, *(["--uvloop"] if uvloop else []), *extra, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"{target} did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pid = self.proc.pid

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Clients:
    """Client processes sharing ``specs`` round-robin (specs go by file: tokens stay off the
    command line). ``go`` lets them all connect at once; ``finish`` collects their tallies in
    the order of ``specs``."""

    def __init__(
        self,
        tmp: str,
        port: int,
        specs: list[Spec],
        procs: int,
        track: bool,
        churn: tuple[float, float] | None = None,
    ) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.count = len(specs)
        for n in range(procs):
            path = Path(tmp) / f"clients-{uuid.uuid4().hex}.json"
            path.write_text(json.dumps([s.__dict__ for s in specs[n::procs]]))
            args = ["--role", "clients", "--port", str(port), "--specs", str(path)]
            args += ["--churn", f"{churn[0]},{churn[1]}"] if churn else []
            self.procs.append(spawn(*args, *(["--track"] if track else [])))
        for p in self.procs:
            assert p.stdout is not None
            p.stdout.readline()  # SPAWNED

    def go(self) -> float:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write("GO\n")
            p.stdin.flush()
        return time.time()

    async def finish(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for p in self.procs:  # all stop at once
            assert p.stdin is not None
            p.stdin.close()
        outs = []
        for p in self.procs:
            assert p.stdout is not None
            outs.append(await loop.run_in_executor(None, p.stdout.read))
            p.wait()
        parts = [json.loads(out.strip().splitlines()[-1]) for out in outs]
        ids: list[list[int]] = [[] for _ in range(self.count)]
        for n, part in enumerate(parts):
            ids[n :: len(parts)] = part["ids"] or ids[n :: len(parts)]
        return {
            "deliveries": sum(p["deliveries"] for p in parts),
            "latencies": [x for p in parts for x in p["latencies"]],
            "refused": sum(p["refused"] for p in parts),
            "ids": ids,
            "resumed_at": [x for p in parts for x in p["resumed_at"]],
            "last": max(p["last"] for p in parts),
            "beats": sum(p["beats"] for p in parts),
            "beat_gaps": [x for p in parts for x in p["beat_gaps"]],
            "connects": sum(p["connects"] for p in parts),
            "opened": sum(p["opened"] for p in parts),
            "closed": sum(p.get("closed", 0) for p in parts),
            "errors": sum(p["errors"] for p in parts),
        }

    def kill(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


async def health(port: int) -> int:
    """Connected clients as the target counts them."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v2/events/health HTTP/1.0\r\nHost: localhost\r\n\r\n")
    body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
    writer.close()
    return int(json.loads(body)["connected_clients"])


async def wait_clients(port: int, n: int, timeout: float = 120, stall: float = 5.0) -> float:
    """Seconds until ``n`` clients are connected (``n = 0``: until all left). Gives up when
    the count has not moved for ``stall`` seconds (a connect lost in a full accept queue):
    the callers read the count actually reached."""
    start = time.monotonic()
    last, since = -1, start
    while (got := await health(port)) != n:
        now = time.monotonic()
        if got != last:
            last, since = got, now
        elif n and now - since > stall:
            break
        if now - start > timeout:
            raise RuntimeError(f"{got}/{n} clients connected after {timeout:.0f}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def settle_cpu(pid: int, quiet: float = 0.02, most: float = 10.0) -> None:
    """Wait until process ``pid`` uses under ``quiet`` CPU seconds per 0.3 s (drained)."""
    end = time.monotonic() + most
    before = cpu_seconds(pid)
    while time.monotonic() < end:
        await asyncio.sleep(0.3)
        now = cpu_seconds(pid)
        if now - before < quiet:
            return
        before = now
