"""Serving verbs: a NATS micro service whose endpoints authenticate and authorize each call.

For every request the endpoint (1) reads the caller's credential from the ``Culto-Credential``
header and resolves it with the service's own :data:`Authenticate` (never trusting whoever sent
the message), (2) validates the body as the verb's request model, (3) decides a verb whose
action is not about one channel before the handler runs, (4) runs the handler, and (5) refuses
to answer a channel action the handler never decided (fail closed: a forgotten check is an
internal error, not an open door). Failures are raised to nats micro as its ``ServiceError``, so
micro's own request, error and timing stats (``$SRV.STATS``) count them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic

from nats.aio.client import Client as NATS
from nats.micro import add_service
from nats.micro.request import Request, ServiceError
from nats.micro.service import EndpointConfig, Service, ServiceConfig, ServiceStats
from pydantic import BaseModel

from access.policy import POLICY, Principal, require
from access.principals import CREDENTIAL_HEADER, Credential
from culto import __version__
from culto.errors import CultoError
from mesh.rpc.protocol import (
    QUEUE_GROUP,
    Call,
    Rep,
    Req,
    ServiceSpec,
    Verb,
    error_code,
    error_description,
)

log = logging.getLogger(__name__)

Authenticate = Callable[[Credential | None], Awaitable[Principal]]
"""Resolves a presented credential (``None``: anonymous) to a principal, or raises
:class:`~culto.errors.Unauthenticated`."""


@dataclass(frozen=True, slots=True)
class Route(Generic[Req, Rep]):
    """A verb and the handler that answers it (built with :func:`route`, which types both)."""

    verb: Verb[Req, Rep]
    handler: Callable[[Call[Req]], Awaitable[Rep | None]]


def route(
    verb: Verb[Req, Rep], handler: Callable[[Call[Req]], Awaitable[Rep | None]]
) -> Route[Req, Rep]:
    """Pair ``verb`` with ``handler`` (``None`` from the handler answers ``{}``)."""
    return Route(verb, handler)


class RpcService:
    """One micro service of the API role, answering ``routes`` until stopped.

    Args:
        nc: The role's NATS client.
        spec: Which service.
        routes: One route per verb of ``spec`` (every verb of the service must be served).
        authenticate: The service's own credential resolver.
    """

    def __init__(
        self,
        nc: NATS,
        spec: ServiceSpec,
        routes: list[Route[Any, Any]],
        authenticate: Authenticate,
    ) -> None:
        for r in routes:
            if r.verb.service is not spec:
                raise ValueError(f"verb {r.verb.name} belongs to {r.verb.service.name}")
        self._nc = nc
        self._spec = spec
        self._routes: Mapping[str, Route[Any, Any]] = {r.verb.name: r for r in routes}
        self._authenticate = authenticate
        self._service: Service | None = None

    async def start(self) -> None:
        """Register the service and its endpoints (queue group ``culto-api``)."""
        config = ServiceConfig(
            name=self._spec.name,
            version=__version__,
            description=self._spec.description,
            queue_group=QUEUE_GROUP,
        )
        self._service = await add_service(self._nc, config)
        for name, r in self._routes.items():
            await self._service.add_endpoint(
                EndpointConfig(name=name, subject=r.verb.subject, handler=self._endpoint(r))
            )

    async def stop(self) -> None:
        """Stop answering (in-flight requests finish)."""
        service, self._service = self._service, None
        if service is not None:
            await service.stop()

    def stats(self) -> ServiceStats | None:
        """nats micro's own stats (``None`` before :meth:`start`)."""
        return None if self._service is None else self._service.stats()

    def totals(self) -> dict[str, int]:
        """Requests and errors over every endpoint (for ``/metrics``)."""
        stats = self.stats()
        endpoints = stats.endpoints if stats is not None else []
        return {
            "requests": sum(e.num_requests for e in endpoints),
            "errors": sum(e.num_errors for e in endpoints),
        }

    def _endpoint(self, r: Route[Req, Rep]) -> Callable[[Request], Awaitable[None]]:
        async def answer(request: Request) -> None:
            try:
                reply = await self._call(r, request)
            except CultoError as exc:
                raise ServiceError(error_code(exc), error_description(exc)) from None
            except Exception:
                # One bad request must not take the service down; the caller gets a clean 500.
                log.exception("%s failed", request.subject)
                internal = CultoError(f"internal error in {self._spec.name}")
                raise ServiceError("500", error_description(internal)) from None
            await request.respond(reply.model_dump_json().encode() if reply else b"{}")

        return answer

    async def _call(self, r: Route[Req, Rep], request: Request) -> BaseModel | None:
        headers = request.headers or {}
        credential = Credential.from_header(headers.get(CREDENTIAL_HEADER))
        principal = await self._authenticate(credential)
        verb = r.verb
        call = Call(verb, verb.parse(request.data), principal, credential)
        if verb.action is not None and POLICY[verb.action].role is None:
            require(principal, verb.action)
            call.decided = True
        reply = await r.handler(call)
        if verb.action is not None and not call.decided:
            raise CultoError(f"{verb.subject}: the handler made no authorization decision")
        return reply
