"""One ``culto up`` per data directory, and the embedded NATS server kept alive while it runs.

- :func:`data_dir_lock`: an exclusive ``flock`` on ``CULTO_DATA_DIR/culto.lock`` for the whole
  run. Two servers on one JetStream store corrupt it; the kernel drops the lock when the process
  dies, even by SIGKILL, so a crash never leaves a stale lock behind.
- :class:`NatsSupervisor`: restarts the embedded server on the same port and store when it dies,
  and gives up (the role exits non-zero with one line) after repeated failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

from culto.errors import ConfigError, MeshUnavailable
from mesh.embedded import EmbeddedNatsServer

log = logging.getLogger(__name__)

LOCK_NAME = "culto.lock"
URL_FILE = "nats.url"


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir``'s lock for the block.

    Raises:
        ConfigError: another ``culto up`` holds it (the message names its pid).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise ConfigError(
                f"CULTO_DATA_DIR: {data_dir} is in use by another 'culto up' (pid {owner});"
                " stop it first, or set another CULTO_DATA_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be listened on *as nats-server does* (with ``SO_REUSEADDR``).

    Without the option, connections of a server that just stopped (TIME_WAIT) make a free port
    look busy, and a quick restart moved NATS to a random port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class NatsState(Enum):
    """What the supervisor knows about the embedded server."""

    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


class NatsSupervisor:
    """Restarts a dead embedded server on the same port and store.

    Args:
        server: A started server (its port is pinned for restarts).
        max_restarts: Consecutive failed restarts before giving up.
        backoff: Seconds between restart attempts.
    """

    def __init__(
        self, server: EmbeddedNatsServer, *, max_restarts: int = 3, backoff: float = 1.0
    ) -> None:
        self._server = server
        self._max_restarts = max_restarts
        self._backoff = backoff
        self.state = NatsState.RUNNING
        self.restarts = 0
        server.port = server.client_port  # restarts keep the URL everyone was given

    @property
    def healthy(self) -> bool:
        """True while the server is up (``/health`` of ``culto up`` says so)."""
        return self.state is NatsState.RUNNING

    async def run(self) -> None:
        """Watch the server until cancelled; return only when it cannot be brought back.

        Raises:
            MeshUnavailable: the server died and could not be restarted.
        """
        while True:
            status = await self._server.wait_exit()
            self.state = NatsState.RESTARTING
            log.error("embedded nats-server exited (status %s); restarting it", status)
            await self._server.close()
            await self._restart(status)

    async def _restart(self, status: int) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self._backoff)
            try:
                await self._server.open()
            except MeshUnavailable as exc:
                failures += 1
                log.error("restarting nats-server failed (%d): %s", failures, exc.message)
                if failures >= self._max_restarts:
                    self.state = NatsState.FAILED
                    raise MeshUnavailable(
                        f"the embedded nats-server died (status {status}) and did not restart:"
                        f" {exc.message}"
                    ) from None
                continue
            self.restarts += 1
            self.state = NatsState.RUNNING
            log.warning("embedded nats-server restarted at %s", self._server.url)
            return
