"""``/health`` (liveness), ``/ready`` (readiness) and ``/metrics`` of every role."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from mesh.connection import MeshConnection
from mesh.provision import streams_present
from ops.http import BaseHandler
from schemas.health import HealthDTO, Readiness, ReadyDTO

READY_TIMEOUT = 2.0


class ReadOnlyHandler(BaseHandler):
    """A GET-only handler: any other method is a 405, never an XSRF 403 first.

    Tornado checks XSRF before it looks for the method; with nothing to change here there is
    nothing to protect, and the caller deserves the real answer.
    """

    def check_xsrf_cookie(self) -> None:
        """Nothing to protect (see the class docstring)."""


class HealthHandler(ReadOnlyHandler):
    """``GET /health``: the process answers (no dependency is checked)."""

    def get(self) -> None:
        """Always 200."""
        self.set_header("Cache-Control", "no-store")
        self.write_json(HealthDTO())

    def head(self) -> None:
        """Same as GET without a body."""
        self.set_status(200)
        self.finish()


class ReadyHandler(ReadOnlyHandler):
    """``GET /ready``: 200 when NATS is connected and the streams exist, else 503."""

    def initialize(self, mesh: MeshConnection) -> None:
        """The process's connection."""
        self.mesh = mesh

    async def get(self) -> None:
        """Check the connection first: a stream lookup would wait out a timeout when down."""
        connected = self.mesh.is_connected
        present = False
        if connected:
            try:
                present = await asyncio.wait_for(streams_present(self.mesh), READY_TIMEOUT)
            except TimeoutError:
                present = False
        ready = connected and present
        self.set_header("Cache-Control", "no-store")
        if not ready:
            self.set_header("Retry-After", "2")
        body = ReadyDTO(
            status=Readiness.READY if ready else Readiness.NOT_READY,
            checks={"nats_connected": connected, "streams_present": present},
        )
        self.write_json(body, status=200 if ready else 503)


class MetricsHandler(ReadOnlyHandler):
    """``GET /metrics``: Prometheus text exposition of the application's registry."""

    def initialize(self, registry: CollectorRegistry) -> None:
        """The application's registry."""
        self.registry = registry

    def get(self) -> None:
        """Collect and render now."""
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(self.registry))
