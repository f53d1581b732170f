"""One NATS connection per process, with reconnect settings and drain on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from nats.js.manager import JetStreamManager

from culto.errors import ConfigError, MeshUnavailable
from culto.resources import AsyncResource
from mesh.errors import nats_errors

log = logging.getLogger(__name__)

Listener = Callable[[], Awaitable[None] | None]

RETRIED_TIMEOUT = 1.5
"""Seconds one attempt of a retried subscription may take (see ``retried_js``)."""


@dataclass(frozen=True, slots=True)
class NatsCredentials:
    """A NATS user and its password (never shown by ``repr`` or logs)."""

    user: str
    password: str = field(repr=False)


def is_auth_error(exc: BaseException) -> bool:
    """Whether nats-py raised (or reported) the server refusing our credentials.

    On the first connect nats-py raises a plain ``nats.errors.Error`` carrying the server's
    ``-ERR 'Authorization Violation'``; later it reports ``AuthorizationError``.
    """
    if isinstance(exc, nats.errors.AuthorizationError):
        return True
    return isinstance(exc, nats.errors.Error) and "authorization violation" in str(exc).lower()


TLS_EOF_NOISE = "returning true from eof_received() has no effect when using ssl"
"""What asyncio logs whenever a NATS server closes a TLS connection, and why it is noise:

nats-py reads the server's INFO in plain TCP, then upgrades with ``loop.start_tls`` and a fresh
``StreamReaderProtocol``. ``start_tls`` never calls that protocol's ``connection_made``
(``call_connection_made=False``), so the protocol never learns it runs over SSL and its
``eof_received`` answers "keep the transport open", as for plain TCP; asyncio's SSL layer
ignores that answer and logs this warning. The connection is closed and reconnected as it should
be. Both ways of connecting (``tls_handshake_first`` or not) go through ``start_tls``."""


class TlsEofNoiseFilter(logging.Filter):
    """Drops exactly :data:`TLS_EOF_NOISE` from the ``asyncio`` logger; nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for that one message."""
        return not (record.name == "asyncio" and record.msg == TLS_EOF_NOISE)


def quiet_tls_eof_noise(logger: logging.Logger | None = None) -> None:
    """Install :class:`TlsEofNoiseFilter` on the ``asyncio`` logger (once; idempotent)."""
    target = logger or logging.getLogger("asyncio")
    if not any(isinstance(f, TlsEofNoiseFilter) for f in target.filters):
        target.addFilter(TlsEofNoiseFilter())


class MeshConnection(AsyncResource):
    """An async context manager owning one NATS connection and its JetStream context.

    It reconnects forever (an outage is survived, not fatal), tracks the connection state for
    health checks, and drains on exit so in-flight messages are not lost.

    Args:
        url: One or more comma-separated server URLs.
        name: Client name shown in NATS monitoring (e.g. ``culto-frontend``).
        connect_timeout: Seconds to wait for the first connection.
        credentials: User and password, when the server requires them.
        tls_ca: CA bundle that signed the servers' certificates (TLS is then required, also
            for ``nats://`` URLs); ``tls://`` URLs without it use the system's trust store.
        inbox_prefix: Prefix of this connection's reply subjects (``_INBOX`` by default); each
            role has its own so that only it may read its replies (:mod:`mesh.permissions`).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        connect_timeout: float = 5.0,
        credentials: NatsCredentials | None = None,
        tls_ca: Path | None = None,
        inbox_prefix: str | None = None,
    ) -> None:
        self._servers = [u.strip() for u in url.split(",") if u.strip()]
        self._name = name
        self._connect_timeout = connect_timeout
        self._credentials = credentials
        self._tls_ca = tls_ca
        self._inbox_prefix = inbox_prefix
        self._refused: asyncio.Future[BaseException] | None = None
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._retried_js: JetStreamContext | None = None
        self._buckets: dict[str, KeyValue] = {}
        self._on_disconnect: list[Listener] = []
        self._on_reconnect: list[Listener] = []
        self._on_slow_consumer: list[Listener] = []
        self.reconnects = 0
        self.slow_consumer_errors = 0
        # Set by whoever watches the server's disk (culto up's supervisor reads the embedded
        # server's log); requests then fail fast with StorageFull and readiness turns red.
        self.storage_full = False
        self._closing = False

    @property
    def nc(self) -> NATS:
        """The underlying nats-py client."""
        if self._nc is None:
            raise MeshUnavailable("not connected to NATS")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        """JetStream context of the connection."""
        if self._js is None:
            raise MeshUnavailable("not connected to NATS")
        return self._js

    async def key_value(self, bucket: str) -> KeyValue:
        """The KV handle of ``bucket``, looked up once per connection (every store shares it).

        Raises:
            MeshError: the bucket does not exist, or NATS cannot be asked.
        """
        kv = self._buckets.get(bucket)
        if kv is None:
            with nats_errors(f"opening KV bucket {bucket}"):
                kv = await self.js.key_value(bucket)
            self._buckets[bucket] = kv
        return kv

    @property
    def retried_js(self) -> JetStreamContext:
        """A JetStream context whose requests time out after :data:`RETRIED_TIMEOUT` seconds,
        for subscriptions retried until they succeed (the live feed, KV watches): during a
        leader election each attempt fails fast and the next one comes soon."""
        if self._retried_js is None:
            self._retried_js = self.nc.jetstream(timeout=RETRIED_TIMEOUT)
        return self._retried_js

    @property
    def jsm(self) -> JetStreamManager:
        """JetStream management API."""
        return self.nc.jsm()

    @property
    def is_connected(self) -> bool:
        """True while the client holds a live connection."""
        return self._nc is not None and self._nc.is_connected

    async def until_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a live connection (a reconnect after a node
        loss takes a second or two); True if there is one."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not self.is_connected:
            if self._closing or loop.time() >= end:
                return False
            await asyncio.sleep(0.05)
        return True

    def on_disconnect(self, listener: Listener) -> None:
        """Call ``listener`` whenever the connection drops."""
        self._on_disconnect.append(listener)

    def on_reconnect(self, listener: Listener) -> None:
        """Call ``listener`` after every successful reconnect."""
        self._on_reconnect.append(listener)

    def on_slow_consumer(self, listener: Listener) -> None:
        """Call ``listener`` when the client dropped messages for a slow subscription."""
        self._on_slow_consumer.append(listener)

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self._credentials is not None:
            options["user"] = self._credentials.user
            options["password"] = self._credentials.password
        if self._tls_ca is not None or any(u.startswith("tls://") for u in self._servers):
            quiet_tls_eof_noise()  # every TLS disconnect would log it (TLS_EOF_NOISE)
        if self._tls_ca is not None:
            try:
                options["tls"] = ssl.create_default_context(cafile=str(self._tls_ca))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"NATS_CA_FILE: cannot read a CA certificate from {self._tls_ca} ({exc})"
                ) from None
        if self._inbox_prefix:
            options["inbox_prefix"] = self._inbox_prefix
        return options

    async def open(self) -> None:
        """Open the connection.

        Raises:
            MeshUnavailable: no server answers.
            ConfigError: the server refused the credentials (``NATS_USER``/``NATS_PASSWORD``).
        """
        nc = NATS()
        options = self._options()
        refused: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
        self._refused = refused
        # nats-py retries the first connect forever when reconnects are unlimited (even with
        # wrong credentials), so the first attempt gets its own deadline and a refusal of our
        # credentials ends it at once: a wrong NATS_URL or password must fail at start-up.
        connecting = asyncio.ensure_future(
            nc.connect(
                servers=self._servers,
                name=self._name,
                connect_timeout=2,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                ping_interval=10,
                max_outstanding_pings=3,
                # Large enough for bursts; callbacks here never block, see the hub.
                pending_size=64 * 1024 * 1024,
                error_cb=self._error,
                disconnected_cb=self._disconnected,
                reconnected_cb=self._reconnected,
                **options,
            )
        )
        try:
            waiters: set[asyncio.Future[Any]] = {connecting, refused}
            done, _ = await asyncio.wait(
                waiters,
                timeout=self._connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if refused in done:
                raise refused.result()
            if connecting not in done:
                raise TimeoutError
            connecting.result()
        except Exception as exc:  # nats-py raises a grab-bag (OSError, NoServersError, ...)
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            with contextlib.suppress(Exception):
                await nc.close()
            self._connect_failed(exc)
        finally:
            self._refused = None
        self._nc = nc
        self._js = self._nc.jetstream()

    def _connect_failed(self, exc: Exception) -> NoReturn:
        """Raise what the first connect's failure means for the operator: their credentials or
        CA file (a configuration error), or no server answering."""
        if is_auth_error(exc):
            who = f"user {self._credentials.user!r}" if self._credentials else "no user"
            raise ConfigError(
                f"NATS_USER/NATS_PASSWORD: NATS at {', '.join(self._servers)} refused the"
                f" credentials ({who}); check them against the server's users"
            ) from None
        if isinstance(exc, ssl.SSLError):
            raise ConfigError(
                f"NATS_CA_FILE: TLS with NATS at {', '.join(self._servers)} failed ({exc})"
            ) from None
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise MeshUnavailable(
            f"cannot connect to NATS at {', '.join(self._servers)} ({reason})"
            " — is NATS_URL right and the server running?"
        ) from exc

    async def close(self) -> None:
        """Drain (flush subscriptions and pending publishes), then close."""
        self._closing = True
        nc, self._nc = self._nc, None
        self._js = self._retried_js = None
        self._buckets.clear()
        if nc is None or nc.is_closed:
            return
        try:
            await asyncio.wait_for(nc.drain(), 10)
        except Exception:  # a dead server cannot be drained; closing is still right
            log.debug("drain failed; closing", exc_info=True)
            # Closing flushes the socket too, which raises when the server went away (e.g.
            # SIGTERM while NATS is unreachable): the connection is gone either way.
            with contextlib.suppress(Exception):
                await nc.close()

    async def _error(self, exc: Exception) -> None:
        fatal = is_auth_error(exc) or isinstance(exc, ssl.SSLCertVerificationError)
        if fatal and self._refused is not None and not self._refused.done():
            self._refused.set_result(exc)  # the first connect: fail at start-up, in one line
        elif is_auth_error(exc):
            log.error("NATS refused this process's credentials (%s)", self._name)
        elif "permissions violation" in str(exc).lower():
            # A subject this role's user may not use: a bug in mesh/permissions.py or an
            # operation the role should not attempt. The server names user and subject.
            log.error("NATS %s", exc)
        elif isinstance(exc, nats.errors.SlowConsumerError):
            self.slow_consumer_errors += 1
            log.warning("NATS slow consumer on %s (sid %s)", exc.subject, exc.sid)
            await self._notify(self._on_slow_consumer)
        else:
            log.debug("NATS error: %r", exc)

    async def _disconnected(self) -> None:
        if self._closing:
            return
        log.warning("NATS disconnected")
        await self._notify(self._on_disconnect)

    async def _reconnected(self) -> None:
        self.reconnects += 1
        log.info("NATS reconnected")
        await self._notify(self._on_reconnect)

    async def _notify(self, listeners: list[Listener]) -> None:
        for listener in listeners:
            try:
                result = listener()
                if result is not None:
                    await result
            except Exception:  # one bad listener must not stop the others
                log.exception("connection listener failed")
