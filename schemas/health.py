"""Health and readiness bodies of every role's ``/health``, ``/ready`` and the SSE hub's health."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Readiness(StrEnum):
    """``/ready``'s verdict: ``ready`` answers 200, ``not_ready`` 503."""

    READY = "ready"
    NOT_READY = "not_ready"


class HubHealth(StrEnum):
    """The SSE hub's state: ``healthy`` while its live feed is fed by NATS, else 503."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class Liveness(StrEnum):
    """``/health``'s verdict: ``ok`` answers 200, ``unavailable`` 503."""

    OK = "ok"
    UNAVAILABLE = "unavailable"


class HealthDTO(BaseModel):
    """``GET /health``: the process answers and nothing it runs itself is down.

    Roles that only connect to NATS do not fail liveness for a NATS outage (readiness does);
    ``culto up``, which runs its own nats-server, does while that server is down.
    """

    model_config = ConfigDict(frozen=True)

    status: Liveness = Liveness.OK


class ReadyDTO(BaseModel):
    """``GET /ready``: NATS connected and the JetStream streams present."""

    model_config = ConfigDict(frozen=True)

    status: Readiness
    checks: dict[str, bool]


class EventsHealthDTO(BaseModel):
    """``GET /api/v2/events/health``."""

    model_config = ConfigDict(frozen=True)

    status: HubHealth
    service: Literal["sse_events"] = "sse_events"
    connected_clients: int
