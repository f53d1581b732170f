"""One ``culto up`` per data directory, and the embedded NATS server kept alive while it runs.

- :func:`data_dir_lock`: an exclusive ``flock`` on ``CULTO_DATA_DIR/culto.lock`` for the whole
  run. Two servers on one JetStream store corrupt it; the kernel drops the lock when the process
  dies, even by SIGKILL, so a crash never leaves a stale lock behind.
- :class:`NatsSupervisor`: restarts the embedded server on the same port and store when it dies,
  and gives up (the role exits non-zero with one line) after repeated failures. It also watches
  the store's disk: while the server reports writes failing for lack of space, the connection is
  flagged ``storage_full`` (submits answer 507, readiness is red); once space is back it restarts
  the server, since nats-server's JetStream does not resume writing by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import socket
from collections.abc import Callable, Iterator
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
    STORAGE_FULL = "storage_full"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


class NatsSupervisor:
    """Restarts a dead embedded server on the same port and store.

    Args:
        server: A started server (its port is pinned for restarts).
        on_storage: Told ``True`` when the store's disk is full, ``False`` when it is usable.
        max_restarts: Consecutive failed restarts before giving up.
        backoff: Seconds between restart attempts.
        min_free_bytes: Free space on the store's filesystem that counts as "space is back".
        poll: Seconds between disk checks.
    """

    def __init__(
        self,
        server: EmbeddedNatsServer,
        *,
        on_storage: Callable[[bool], None] = lambda full: None,
        max_restarts: int = 3,
        backoff: float = 1.0,
        min_free_bytes: int = 16 * 2**20,
        poll: float = 1.0,
    ) -> None:
        self._server = server
        self._on_storage = on_storage
        self._max_restarts = max_restarts
        self._backoff = backoff
        self._min_free = min_free_bytes
        self._poll = poll
        self.state = NatsState.RUNNING
        self.restarts = 0
        server.port = server.client_port  # restarts keep the URL everyone was given

    @property
    def healthy(self) -> bool:
        """True while the server process is up (``/health`` of ``culto up`` says so); a full
        disk is not a liveness failure, readiness reports it."""
        return self.state in (NatsState.RUNNING, NatsState.STORAGE_FULL)

    async def run(self) -> None:
        """Watch the server until cancelled; return only when it cannot be brought back.

        Raises:
            MeshUnavailable: the server died and could not be restarted.
        """
        while True:
            exited = asyncio.get_running_loop().create_task(self._server.wait_exit())
            restarted = False
            try:
                while not exited.done() and not restarted:
                    await asyncio.wait({exited}, timeout=self._poll)
                    restarted = not exited.done() and await self._watch_storage()
            finally:
                exited.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await exited
            if restarted:
                continue  # a deliberate restart: watch the new process
            status = exited.result()
            self.state = NatsState.RESTARTING
            log.error("embedded nats-server exited (status %s); restarting it", status)
            await self._server.close()
            await self._restart(status)

    async def _watch_storage(self) -> bool:
        """Flag a full disk; once space is back, restart the server. True if it restarted."""
        if self.state is NatsState.RUNNING and self._server.storage_errors:
            self.state = NatsState.STORAGE_FULL
            log.error("the JetStream store's disk is full: writes fail until space is freed")
            self._on_storage(True)
        elif self.state is NatsState.STORAGE_FULL and self._space_is_back():
            log.warning("disk space is back; restarting nats-server so JetStream writes again")
            self.state = NatsState.RESTARTING
            await self._server.close()
            await self._restart(0)
            self._on_storage(False)
            return True
        return False

    def _space_is_back(self) -> bool:
        try:
            return shutil.disk_usage(self._server.store_dir).free >= self._min_free
        except OSError:
            return False

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
