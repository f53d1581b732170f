"""How a NATS micro service of the API role answers: JSON replies, errors as the error tree.

A handler takes the request's bytes and returns a model (or ``None`` for ``{}``); a
:class:`CultoError` becomes ``{"error": {"code", "message", "kind"}}`` with the
``Nats-Service-Error-Code`` header, which :mod:`mesh.catalog_client` turns back into the same
error; anything else is logged and answered as a clean internal error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from nats.aio.client import Client as NATS
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import EndpointConfig, Service, ServiceConfig
from pydantic import BaseModel, ValidationError

from culto import __version__
from culto.errors import CultoError, InvalidInput

log = logging.getLogger(__name__)

QUEUE_GROUP = "culto-api"
"""Every replica of the API role answers in this queue group: one of them takes each request."""

Handler = Callable[[bytes], Awaitable[BaseModel | None]]
Endpoint = Callable[[Request], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)


@dataclass
class EndpointStats:
    """Requests answered and failed (for ``/metrics``)."""

    requests: int = 0
    errors: int = 0


def validation_message(exc: ValidationError) -> str:
    """One line naming the first invalid field."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    loc = ".".join(str(p) for p in errors[0]["loc"])
    msg = str(errors[0]["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def parse_request(model: type[M], data: bytes) -> M:
    """Validate a JSON request body; :class:`InvalidInput` naming the field otherwise."""
    try:
        return model.model_validate_json(data or b"{}")
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def endpoint(handler: Handler, stats: EndpointStats) -> Endpoint:
    """``handler`` as a micro-service endpoint callback."""

    async def answer(request: Request) -> None:
        stats.requests += 1
        try:
            result = await handler(request.data)
        except CultoError as exc:
            await _fail(request, exc, stats)
            return
        except Exception:
            # Never let one bad request take the service down; the caller gets a clean 500.
            log.exception("%s failed", request.subject)
            await _fail(request, CultoError("internal error in the API service"), stats)
            return
        await request.respond(result.model_dump_json().encode() if result else b"{}")

    return answer


async def start_service(
    nc: NATS,
    *,
    name: str,
    description: str,
    routes: Mapping[str, Handler],
    subject: Callable[[str], str],
    stats: EndpointStats,
) -> Service:
    """A NATS micro service of the API role (queue group ``culto-api``, so replicas share the
    load) answering ``subject(verb)`` with ``routes[verb]`` for every verb."""
    service = await add_service(
        nc,
        ServiceConfig(
            name=name, version=__version__, description=description, queue_group=QUEUE_GROUP
        ),
    )
    for verb, handler in routes.items():
        await service.add_endpoint(
            EndpointConfig(name=verb, subject=subject(verb), handler=endpoint(handler, stats))
        )
    return service


async def _fail(request: Request, exc: CultoError, stats: EndpointStats) -> None:
    stats.errors += 1
    body = {"error": {**exc.to_dict(), "kind": exc.kind}}
    await request.respond_error(
        code="500" if type(exc) is CultoError else "400",
        description=exc.message[:200],
        data=json.dumps(body).encode(),
    )
