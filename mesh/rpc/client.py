"""Calling verbs: one typed request with the caller's credential, errors back as the tree."""

from __future__ import annotations

import json

from nats.aio.msg import Msg
from pydantic import ValidationError

from access.principals import CREDENTIAL_HEADER, Credential
from culto.errors import MeshError, MeshUnavailable, StorageFull, error_from_dict
from mesh.connection import MeshConnection
from mesh.errors import STORAGE_FULL_HINT, nats_errors
from mesh.retry import retry_undelivered
from mesh.rpc.protocol import ERROR_CODE_HEADER, ERROR_HEADER, Rep, Req, Verb, error_dict

RECONNECT_WAIT = 3.0
"""Seconds a call waits for this process's own reconnect (a NATS node lost) before the 503."""
UNDELIVERED_DEADLINE = 6.0
"""Seconds an undelivered call (no responder: the service is reconnecting) is sent again."""


class RpcClient:
    """Calls verbs of the API role's services.

    Args:
        mesh: The process's connection.
        timeout: Seconds to wait for a reply.
    """

    def __init__(self, mesh: MeshConnection, *, timeout: float = 5.0) -> None:
        self.mesh = mesh
        self._timeout = timeout

    async def call(
        self, verb: Verb[Req, Rep], body: Req, credential: Credential | None = None
    ) -> Rep:
        """Send ``body`` as ``credential``'s holder (``None``: anonymous) and return the reply.

        Raises:
            MeshUnavailable: NATS is known to be down (answered at once, no timeout wait).
            StorageFull: a writing verb while JetStream's storage is full.
            CultoError: the service's refusal, as the same class it raised.
        """
        what = f"{verb.service.name} {verb.name}"
        if not await self.mesh.until_connected(RECONNECT_WAIT):
            raise MeshUnavailable(f"{what}: NATS is unavailable; retry shortly")
        if verb.writes and self.mesh.storage_full:
            raise StorageFull(f"{what}: {STORAGE_FULL_HINT}")
        headers = {CREDENTIAL_HEADER: credential.header()} if credential is not None else None
        data = body.model_dump_json().encode()
        timeout = max(self._timeout, verb.timeout or 0.0)

        async def once() -> Msg:
            if not await self.mesh.until_connected(RECONNECT_WAIT):
                raise MeshUnavailable(f"{what}: NATS is unavailable; retry shortly")
            with nats_errors(what):
                return await self.mesh.nc.request(verb.subject, data, timeout, headers=headers)

        # Undelivered (no responder while the service reconnects, our own reconnect): safe to
        # send again, within a deadline. A timeout is not retried: the service may have acted.
        reply = await retry_undelivered(once, what=what, deadline=UNDELIVERED_DEADLINE)
        # The header, not the body, marks a failure: a FAILED video's body has "error" too.
        if reply.headers and ERROR_CODE_HEADER in reply.headers:
            raise error_from_dict(error_dict(reply.headers.get(ERROR_HEADER), f"{what} failed"))
        try:
            return verb.reply.model_validate_json(reply.data or b"{}")
        except (ValidationError, json.JSONDecodeError):
            raise MeshError(f"{what}: the reply is not a {verb.reply.__name__}") from None
