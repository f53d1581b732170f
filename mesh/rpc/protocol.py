"""The pieces of the request/reply protocol: services, verbs, one call, and errors on the wire.

A request is the JSON of the verb's request model, with the caller's credential in the
``Culto-Credential`` header (absent: anonymous). A reply is the JSON of the verb's reply model;
a failure is a micro-service error (``Nats-Service-Error-Code``: ``400`` for a refused request,
``500`` for an internal error) whose description is the error as JSON,
``{"code", "message", "kind", "details"}``, which the client turns back into the same
:class:`~culto.errors.CultoError` subclass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from access.policy import Action, ChannelView, Decision, Principal, decide, require
from access.principals import Credential
from culto.errors import CultoError, InvalidInput

Req = TypeVar("Req", bound=BaseModel)
Rep = TypeVar("Rep", bound=BaseModel)

QUEUE_GROUP = "culto-api"
"""Every replica of the API role answers in this queue group: one of them takes each request."""
ERROR_HEADER = "Nats-Service-Error"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"
_MAX_ERROR_JSON = 8 * 1024
"""An error's JSON travels in a header: details beyond this are dropped, the message stays."""


class Empty(BaseModel):
    """``{}``: the request or reply of a verb that carries nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One micro service of the API role.

    Attributes:
        name: The micro service's name (``$SRV.*`` discovery, stats).
        prefix: Its verbs answer ``<prefix>.<verb>``.
        description: What it serves.
    """

    name: str
    prefix: str
    description: str

    def subject(self, verb: str) -> str:
        """The subject ``verb`` answers on."""
        return f"{self.prefix}.{verb}"


@dataclass(frozen=True, slots=True)
class Verb(Generic[Req, Rep]):
    """One request/reply verb, the single declaration both sides use.

    Attributes:
        service: The service that answers it.
        name: The verb (the last subject token).
        request: The request's model.
        reply: The reply's model.
        action: The policy action it performs (``None``: it authenticates by other means, e.g.
            ``login`` by a password). An action that is not about one channel is decided before
            the handler runs; one about a channel must be decided by the handler through
            :meth:`Call.require`, or the call fails closed.
        writes: It changes state (refused at once while JetStream's storage is full).
        timeout: Seconds a caller waits for the reply, when the verb needs longer than the
            client's default (a submit parses its whole transcript before it answers).
    """

    service: ServiceSpec
    name: str
    request: type[Req]
    reply: type[Rep]
    action: Action | None
    writes: bool = True
    timeout: float | None = None

    @property
    def subject(self) -> str:
        """``<service prefix>.<name>``."""
        return self.service.subject(self.name)

    def parse(self, data: bytes) -> Req:
        """The request model from its JSON.

        Raises:
            InvalidInput: naming the first invalid field.
        """
        return parse_model(self.request, data)


@dataclass(slots=True)
class Call(Generic[Req]):
    """One request as a handler sees it: the body, who is asking, and the decision made.

    Attributes:
        verb: What is being called.
        body: The validated request.
        principal: The caller, resolved by the service from its own credential.
        credential: That credential (for verbs that act on it, e.g. ``logout``).
    """

    verb: Verb[Req, Any]
    body: Req
    principal: Principal
    credential: Credential | None = None
    decided: bool = field(default=False)

    def decide(self, channel: ChannelView | None, action: Action | None = None) -> Decision:
        """The policy's answer for this verb's action (or ``action``) on ``channel``."""
        self.decided = True
        return decide(self.principal, action or self._action(), channel)

    def require(
        self, channel: ChannelView | None, *, what: str = "", action: Action | None = None
    ) -> None:
        """:func:`access.policy.require` for this verb's action (or ``action``) on ``channel``.

        Raises:
            Unauthenticated, NotFound, Forbidden: as the policy decides.
        """
        self.decided = True
        require(self.principal, action or self._action(), channel, what=what)

    def _action(self) -> Action:
        if self.verb.action is None:
            raise CultoError(f"verb {self.verb.name} has no policy action")
        return self.verb.action


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: bytes) -> M:
    """``model`` from JSON ``data`` (empty: ``{}``).

    Raises:
        InvalidInput: naming the first invalid field.
    """
    try:
        return model.model_validate_json(data or b"{}")
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def validation_message(exc: ValidationError) -> str:
    """One line naming the first invalid field."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    loc = ".".join(str(p) for p in errors[0]["loc"])
    msg = str(errors[0]["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def error_description(exc: CultoError) -> str:
    """``exc`` as the JSON carried in :data:`ERROR_HEADER` (ASCII, bounded)."""
    body: dict[str, Any] = {**exc.to_dict(), "kind": exc.kind}
    text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    if len(text) > _MAX_ERROR_JSON:
        body.pop("details", None)
        body["message"] = str(body["message"])[:500]
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return text


def error_code(exc: CultoError) -> str:
    """``500`` for an internal error (the base class), ``400`` for anything refused."""
    return "500" if type(exc) is CultoError else "400"


def error_dict(description: str | None, fallback: str) -> dict[str, Any]:
    """The error a failed reply carries (a plain-text description becomes its message)."""
    try:
        parsed = json.loads(description or "")
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return parsed
    return {"message": description or fallback}
