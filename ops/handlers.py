"""``/health`` (liveness), ``/ready`` (readiness) and ``/metrics`` of every role."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from culto.errors import ConfigError
from mesh.connection import MeshConnection
from mesh.provision import streams_present
from ops.http import ApiError, BaseHandler
from schemas.health import HealthDTO, Readiness, ReadyDTO
from schemas.health import Liveness as LivenessState

READY_TIMEOUT = 2.0


class ReadOnlyHandler(BaseHandler):
    """A GET-only handler: any other method is a 405, never an XSRF 403 first.

    Tornado checks XSRF before it looks for the method; with nothing to change here there is
    nothing to protect, and the caller deserves the real answer.
    """

    def check_xsrf_cookie(self) -> None:
        """Nothing to protect (see the class docstring)."""


Liveness = Callable[[], bool]
"""True while everything the process runs itself is up (see :class:`HealthDTO`)."""


class HealthHandler(ReadOnlyHandler):
    """``GET /health``: 200 while the process and what it runs itself are up, else 503."""

    def initialize(self, alive: Liveness | None = None) -> None:
        """``alive``: the role's own liveness check (none: answering is enough)."""
        self.alive = alive

    def _status(self) -> int:
        return 200 if self.alive is None or self.alive() else 503

    def get(self) -> None:
        """The verdict as :class:`HealthDTO`."""
        status = self._status()
        self.set_header("Cache-Control", "no-store")
        body = HealthDTO(status=LivenessState.OK if status == 200 else LivenessState.UNAVAILABLE)
        self.write_json(body, status=status)

    def head(self) -> None:
        """Same as GET without a body."""
        self.set_status(self._status())
        self.finish()


class ReadyHandler(ReadOnlyHandler):
    """``GET /ready``: 200 when NATS is connected and the streams exist, else 503.

    A role that listens only to answer probes while it waits for provisioning passes
    ``started=False``: its ``/ready`` stays 503 (``"role_started": false``) even once the streams
    appear, until the role's own server takes over the port. A role may add its own checks
    (the frontend: its live feed), named in ``checks``.
    """

    def initialize(
        self,
        mesh: MeshConnection,
        started: bool = True,
        checks: Mapping[str, Callable[[], bool]] | None = None,
    ) -> None:
        """The process's connection; whether the role behind this port runs; its checks."""
        self.mesh = mesh
        self.started = started
        self.checks = dict(checks or {})

    async def get(self) -> None:
        """Check the connection first: a stream lookup would wait out a timeout when down."""
        connected = self.mesh.is_connected
        present = False
        if connected:
            try:
                present = await asyncio.wait_for(streams_present(self.mesh), READY_TIMEOUT)
            except TimeoutError:
                present = False
        storage_ok = not self.mesh.storage_full
        own = {name: bool(check()) for name, check in self.checks.items()}
        ready = connected and present and storage_ok and self.started and all(own.values())
        self.set_header("Cache-Control", "no-store")
        if not ready:
            self.set_header("Retry-After", "2")
        body = ReadyDTO(
            status=Readiness.READY if ready else Readiness.NOT_READY,
            checks={
                "nats_connected": connected,
                "streams_present": present,
                "storage_ok": storage_ok,
                **({} if self.started else {"role_started": False}),
                **own,
            },
        )
        self.write_json(body, status=200 if ready else 503)


@dataclass(frozen=True, slots=True)
class MetricsAccess:
    """Who may read ``/metrics`` on one port.

    Attributes:
        open: Anyone who reaches the port (an ops port, or any port in dev).
        token: Otherwise, a scraper that sends ``Authorization: Bearer <token>``
            (``CULTO_METRICS_TOKEN``); without one, ``/metrics`` is not there at all (404).
    """

    open: bool = True
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < 16:
            raise ConfigError("CULTO_METRICS_TOKEN: must be at least 16 characters long")

    def allows(self, authorization: str | None) -> bool:
        """Whether a request with this ``Authorization`` header may read the metrics."""
        if self.open:
            return True
        if self.token is None or authorization is None:
            return False
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        )


class MetricsHandler(ReadOnlyHandler):
    """``GET /metrics``: Prometheus text exposition of the application's registry."""

    def initialize(self, registry: CollectorRegistry, access: MetricsAccess | None = None) -> None:
        """The application's registry, and who may read it here."""
        self.registry = registry
        self.access = access or MetricsAccess()

    def get(self) -> None:
        """Collect and render now (404 for a caller the port does not serve metrics to)."""
        if not self.access.allows(self.request.headers.get("Authorization")):
            raise ApiError(404, "not_found", "no route for GET /metrics")
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(self.registry))
