"""The production topology on loopback, with failures injected, for the test and the benchmark.

What runs (the ``prod`` overlay as local processes): a 3-node nats-server cluster with R3 streams
and KV, ``culto provision``, two ``culto frontend``, one ``culto api`` and two ``culto worker``
processes. SSE clients (asyncio tasks in this process) stay connected to both frontends and
resume with ``Last-Event-ID`` wherever they can. While a batch of videos is being processed the
scenario SIGKILLs the nats-server that leads ``CULTO_EVENTS``, then one frontend.

:func:`run_failover` returns a :class:`FailoverReport` (per-client frames, the JetStream truth for
each client's filter, the recovery times); the caller asserts or prints. Everything started here
is stopped before it returns, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mesh.connection import MeshConnection
from mesh.embedded import EmbeddedNatsServer
from mesh.identity_store import IdentityStore
from mesh.replay import EventReader
from mesh.subjects import EVENTS_STREAM, event_filters
from services.identity.accounts import Accounts
from tests.frontend_server.sse_client import SSEClient
from tests.support import make_member

REPO = Path(__file__).resolve().parents[2]
CULTO = [sys.executable, "-m", "culto_app.cli"]
SERMON = REPO / "tests" / "data" / "sermons" / "pt_fe_que_vence.txt"
COOKIE_SECRET = "topology-cookie-secret-0123456789"

Log = Callable[[str], None]
Frame = tuple[int, str, str]
"""``(id, event type, data)`` as received by a client or as stored in JetStream."""


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


def _stop_process(proc: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
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


# -- processes -------------------------------------------------------------------------------


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
                    raise RuntimeError(f"nats-server {node.name} exited: {_tail(node.log_path)}")
            ready = await asyncio.gather(*(asyncio.to_thread(n.healthy) for n in pending))
            pending = [n for n, ok in zip(pending, ready, strict=True) if not ok]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"nats-servers not ready: {[n.name for n in pending]}")
            if pending:
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        """Stop every node still running (gracefully: JetStream flushes)."""
        for node in self.nodes:
            _stop_process(node.proc, grace=10)


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


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- HTTP ------------------------------------------------------------------------------------

# Loopback only: a proxy from the environment must never see these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Browser:
    """Cookies, the XSRF header and JSON for one frontend (blocking; run it in a thread)."""

    def __init__(self, port: int, token: str = "") -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._bearer = token
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(CookieJar())
        )
        self._token = ""

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One request; returns ``(status, parsed JSON or None)``. Raises ``OSError`` when the
        frontend cannot be reached."""
        if method != "GET" and not self._token:
            status, csrf = self.call("GET", "/api/v2/csrf")
            if status != 200:
                return status, csrf
            self._token = csrf["csrf_token"]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("X-XSRFToken", self._token)
        if self._bearer:
            request.add_header("Authorization", f"Bearer {self._bearer}")
        try:
            with self._opener.open(request, timeout=15) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            with err:
                raw = err.read()
            try:
                return err.code, json.loads(raw or b"null")
            except ValueError:
                return err.code, raw.decode(errors="replace")


# -- SSE clients -----------------------------------------------------------------------------


async def open_stream(
    port: int, query: list[tuple[str, str]], last_id: int | None, timeout: float = 5.0
) -> SSEClient:
    """Open ``/api/v2/events/stream`` (the socket is closed on any failure).

    Raises:
        OSError: if the frontend does not accept connections.
        TimeoutError: if it does not answer with headers in time.
    """
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, limit=2**22), timeout
    )
    try:
        target = "/api/v2/events/stream" + ("?" + urlencode(query) if query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream"]
        if last_id is not None:
            lines.append(f"Last-Event-ID: {last_id}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except BaseException:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        raise
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in header_lines if ":" in line)
    }
    client = SSEClient(reader, writer, int(status_line.split()[1]), headers)
    client._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    return client


@dataclass
class StreamClient:
    """A resuming SSE consumer, as a browser's ``EventSource`` would behave (but faster).

    Args:
        name: For reports.
        home: Index of the frontend it connects to first.
        videos: Video filter (``None``: all videos).
        types: Event-type filter (``None``: all types).
    """

    name: str
    home: int
    videos: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    frames: list[Frame] = field(default_factory=list)
    connects: list[tuple[float, int]] = field(default_factory=list)
    """``(monotonic time, frontend index)`` of every stream that opened with 200."""
    refused: int = 0
    last_id: int | None = 0
    """Resume point; 0 at first, so even the first connection replays the whole history."""

    @property
    def query(self) -> list[tuple[str, str]]:
        """The stream's query string."""
        query = [("video_id", v) for v in self.videos or ()]
        if self.types:
            query.append(("types", ",".join(self.types)))
        return query

    @property
    def filters(self) -> list[str]:
        """JetStream filter subjects equivalent to the query."""
        return event_filters(self.videos or (), self.types or ())

    def resumed_on(self, frontend: int, after: float) -> float | None:
        """When the client first streamed from ``frontend`` after ``after`` (monotonic)."""
        return next((t for t, fe in self.connects if fe == frontend and t >= after), None)

    async def run(self, ports: list[int], alive: list[bool]) -> None:
        """Stream until cancelled, reconnecting with ``Last-Event-ID`` after any end."""
        target = self.home
        while True:
            if not alive[target]:
                target = (target + 1) % len(ports)
            try:
                client = await open_stream(ports[target], self.query, self.last_id)
            except (OSError, TimeoutError):
                self.refused += 1
                target = (target + 1) % len(ports)  # that frontend is gone: try the other
                await asyncio.sleep(0.05)
                continue
            try:
                if client.status != 200:
                    self.refused += 1  # 503 while its NATS connection is down: try elsewhere
                    target = (target + 1) % len(ports)
                    await asyncio.sleep(0.1)
                    continue
                self.connects.append((time.monotonic(), target))
                await self._consume(client)
            finally:
                await client.close()

    async def _consume(self, client: SSEClient) -> None:
        while True:
            try:
                # Heartbeats come every second: a silent stream is a dead one.
                frame = await client.next(timeout=5)
            except TimeoutError:
                return
            if frame is None:
                return
            if frame.id is None:
                continue
            self.frames.append((frame.seq, frame.event or "message", frame.data))
            self.last_id = frame.seq


# -- the scenario ----------------------------------------------------------------------------


@dataclass
class FailoverReport:
    """What happened, for assertions and for the benchmark's output."""

    videos: list[str]
    statuses: dict[str, str]
    listed: dict[str, str]
    """Status of every video the API lists (catches duplicates created by retried POSTs)."""
    clients: list[StreamClient]
    truth: dict[str, list[Frame]]
    """Client name -> every stored event matching its filter, ascending."""
    events_total: int
    killed_node: str
    new_leader: str
    leader_election_s: float
    all_leaders_s: float
    """Until every R3 stream (events, jobs, KV, object store) had a leader again."""
    first_publish_after_kill_s: float
    frontend_resume_s: float
    list_lag_s: float
    """From the last video's completion until the (catalog-served) list showed it."""
    killed_frontend: int
    frontend_clients_moved: int
    duration_s: float
    logs: dict[str, str] = field(default_factory=dict)

    def mismatches(self) -> list[str]:
        """Every client whose frames differ from the truth for its filter, described."""
        problems: list[str] = []
        for client in self.clients:
            want, got = self.truth[client.name], client.frames
            if got == want:
                continue
            ids = [f[0] for f in got]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            missing = sorted({f[0] for f in want} - set(ids))
            extra = sorted(set(ids) - {f[0] for f in want})
            unordered = any(a >= b for a, b in itertools.pairwise(ids))
            first_diff = next(
                (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
                min(len(got), len(want)),
            )
            problems.append(
                f"{client.name}: got {len(got)} want {len(want)}; duplicates {dupes[:10]}, "
                f"missing {missing[:10]}, unexpected {extra[:10]}, out of order {unordered}, "
                f"first difference at index {first_diff}"
            )
        return problems

    def summary(self) -> str:
        """One paragraph for people."""
        frames = sum(len(c.frames) for c in self.clients)
        return (
            f"topology failover: {len(self.videos)} videos, {self.events_total} events stored, "
            f"{len(self.clients)} SSE clients received {frames} frames; "
            f"killed {EVENTS_STREAM} leader {self.killed_node}: new leader {self.new_leader} "
            f"after {self.leader_election_s:.2f}s, every stream led again after "
            f"{self.all_leaders_s:.2f}s, first event stored "
            f"{self.first_publish_after_kill_s:.2f}s after the kill; killed frontend "
            f"{self.killed_frontend}: its {self.frontend_clients_moved} clients resumed on "
            f"frontend {1 - self.killed_frontend} within "
            f"{self.frontend_resume_s:.2f}s; the video list agreed {self.list_lag_s:.2f}s "
            f"after the last video finished; total {self.duration_s:.1f}s"
        )


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


class Topology:
    """Starts and stops the processes; the scenario lives in :func:`run_failover`."""

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
            _stop_process(role.proc)
        if self.cluster is not None:
            self.cluster.stop()
        return {name: role.log() for name, role in self.roles.items()}


async def _leader(mesh: MeshConnection, stream: str = EVENTS_STREAM) -> str | None:
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


async def _scenario(topo: Topology, mesh: MeshConnection, count: int, say: Log) -> FailoverReport:
    assert topo.cluster is not None
    frontends = [topo.roles["frontend0"], topo.roles["frontend1"]]
    ports = [fe.port for fe in frontends]
    alive = [True, True]
    # An editor's token (the frontends' directories learn it from KV; submit retries until then).
    editor = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    browsers = [Browser(p, editor.token) for p in ports]
    ids: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    clients: list[StreamClient] = []

    def spawn(client: StreamClient) -> None:
        clients.append(client)
        tasks.append(asyncio.create_task(client.run(ports, alive), name=client.name))

    async def submit(index: int) -> None:
        body = {
            "title": f"Culto {index + 1} - Pr. João Silva",
            "transcript": {"format": "txt", "content": transcript(index)},
        }
        deadline = time.monotonic() + 40
        target, failures = index % 2, 0
        while True:
            if not alive[target]:
                target = 1 - target
            try:
                status, video = await asyncio.to_thread(
                    browsers[target].call, "POST", "/api/v2/videos/", body
                )
            except OSError as exc:
                status, video = 0, repr(exc)
            if status == 201:
                ids.append(video["id"])
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"submitting video {index} failed: {status} {video}")
            if failures == 0:  # one line per video: the election makes many attempts fail
                say(f"submit {index} via frontend{target}: {status} {str(video)[:150]}; retrying")
            failures += 1
            target = 1 - target
            await asyncio.sleep(0.2)

    async def trickle(indices: range) -> None:
        for index in indices:
            await submit(index)
            await asyncio.sleep(0.4)  # pacing, not waiting: keeps events flowing during faults

    async with _running(tasks):
        # All-video clients from the start, one per frontend.
        for fe in (0, 1):
            spawn(StreamClient(f"all@fe{fe}", fe))
        await _poll("all-video clients to connect", lambda: all(c.connects for c in clients), 20)

        first = count // 2
        for index in range(first):
            await submit(index)
        # Filtered clients on subsets of the first half (ids exist only after submission).
        a, b = ids[: first // 2 + 1], ids[first // 2 :]
        spawn(StreamClient("videos-a@fe0", 0, tuple(a)))
        spawn(StreamClient("videos-b-status@fe0", 0, tuple(b), ("video.status",)))
        spawn(StreamClient("videos-b@fe1", 1, tuple(b)))
        spawn(StreamClient("videos-even-summary@fe1", 1, tuple(ids[::2]), ("summary.ready",)))

        submitter = asyncio.create_task(trickle(range(first, count)), name="submitter")
        tasks.append(submitter)
        await _poll("the filtered clients to connect", lambda: all(c.connects for c in clients), 20)

        # (1) Kill the nats-server leading CULTO_EVENTS.
        leader = await _poll("a CULTO_EVENTS leader", lambda: _leader(mesh), 20)
        streams = [str(info.config.name) for info in await mesh.jsm.streams_info()]
        node = topo.cluster.node(leader)
        kill_wall, kill_at = time.time(), time.monotonic()
        node.proc.kill()
        node.proc.wait()
        say(f"SIGKILLed {leader}, the {EVENTS_STREAM} leader")

        async def new_leader() -> str | None:
            current = await _leader(mesh)
            return current if current and current != leader else None

        elected = await _poll("a new CULTO_EVENTS leader", new_leader, 60, interval=0.02)
        election_s = time.monotonic() - kill_at
        say(f"new leader {elected} after {election_s:.2f}s")

        async def all_led() -> bool:
            leaders = await asyncio.gather(*(_leader(mesh, name) for name in streams))
            return all(x and x != leader for x in leaders)

        await _poll("every stream to have a leader", all_led, 60, interval=0.02)
        all_leaders_s = time.monotonic() - kill_at
        say(f"all {len(streams)} streams led again after {all_leaders_s:.2f}s")

        # Let the system prove it recovered (an event stored after the kill reached a client)
        # before the second failure, so the two recoveries are measured separately.
        await _poll(
            "an event published after the leader kill to reach a client",
            lambda: any(c.frames and _stamped_after(c.frames[-1], kill_wall) for c in clients),
            60,
        )
        say(f"events flow again {time.monotonic() - kill_at:.2f}s after the kill")

        # (2) Kill frontend 0; its clients must resume on frontend 1.
        # The leader kill may have moved clients around (a frontend answers 503 while its own
        # NATS connection recovers): kill whichever frontend serves more of them now.
        on = [[c for c in clients if c.connects and c.connects[-1][1] == fe] for fe in (0, 1)]
        victim = 0 if len(on[0]) >= len(on[1]) else 1
        survivor, moved = 1 - victim, on[victim]
        fe_kill_at = time.monotonic()
        alive[victim] = False
        frontends[victim].proc.kill()
        frontends[victim].proc.wait()
        say(f"SIGKILLed frontend{victim}; {len(moved)} clients were on it")
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
        say(f"frontend{victim}'s clients resumed on frontend{survivor} within {resume_s:.2f}s")

        await asyncio.wait_for(asyncio.shield(submitter), 60)

        async def all_processed() -> dict[str, str] | None:
            statuses: dict[str, str] = {}
            for vid in ids:
                status, video = await asyncio.to_thread(
                    browsers[survivor].call, "GET", f"/api/v2/videos/{vid}"
                )
                statuses[vid] = video.get("status", "?") if status == 200 else f"HTTP {status}"
                if statuses[vid] not in ("PROCESSED", "FAILED"):
                    return None
            return statuses

        statuses = await _poll("every video to finish", all_processed, 90, interval=0.25)
        done_at = time.monotonic()
        say(f"all {len(ids)} videos finished after {done_at - kill_at:.1f}s")

        # The list is served from the API's in-memory catalog (a KV watch), which lags single
        # reads after a failover: measure how long it takes to agree.
        listed: dict[str, str] = {}

        async def list_converged() -> bool:
            status, page = await asyncio.to_thread(
                browsers[survivor].call, "GET", "/api/v2/videos/?limit=200"
            )
            if status == 200:
                listed.clear()
                listed.update({v["id"]: v["status"] for v in page.get("items", [])})
            return set(ids) <= set(listed) and all(s == "PROCESSED" for s in listed.values())

        with contextlib.suppress(TimeoutError):
            await _poll("the video list to show every video done", list_converged, 60, 0.25)
        list_s = time.monotonic() - done_at
        say(f"video list agreed {list_s:.2f}s after the last video finished")

        # The truth, per client filter, straight from JetStream.
        reader = EventReader(mesh)
        truth: dict[str, list[Frame]] = {}
        for client in clients:
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

        def caught_up() -> bool:
            return all(
                (c.frames[-1][0] if c.frames else 0) >= (truth[c.name] or [(0, "", "")])[-1][0]
                for c in clients
            )

        with contextlib.suppress(TimeoutError):
            await _poll("clients to catch up", caught_up, 20)

    return FailoverReport(
        videos=list(ids),
        statuses=statuses,
        listed=listed,
        clients=clients,
        truth=truth,
        events_total=len(everything),
        killed_node=leader,
        new_leader=elected,
        leader_election_s=election_s,
        all_leaders_s=all_leaders_s,
        first_publish_after_kill_s=first_publish_s,
        frontend_resume_s=resume_s,
        list_lag_s=list_s,
        killed_frontend=victim,
        frontend_clients_moved=len(moved),
        duration_s=0.0,
    )
