"""Calling verbs: one typed request with the caller's credential, errors back as the tree."""

from __future__ import annotations

import json

from pydantic import ValidationError

from access.principals import CREDENTIAL_HEADER, Credential
from culto.errors import MeshError, MeshUnavailable, StorageFull, error_from_dict
from mesh.connection import MeshConnection
from mesh.errors import STORAGE_FULL_HINT, nats_errors
from mesh.rpc.protocol import ERROR_CODE_HEADER, ERROR_HEADER, Rep, Req, Verb, error_dict


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
        if not self.mesh.is_connected:
            raise MeshUnavailable(f"{what}: NATS is unavailable; retry shortly")
        if verb.writes and self.mesh.storage_full:
            raise StorageFull(f"{what}: {STORAGE_FULL_HINT}")
        headers = {CREDENTIAL_HEADER: credential.header()} if credential is not None else None
        with nats_errors(what):
            reply = await self.mesh.nc.request(
                verb.subject,
                body.model_dump_json().encode(),
                max(self._timeout, verb.timeout or 0.0),
                headers=headers,
            )
        # The header, not the body, marks a failure: a FAILED video's body has "error" too.
        if reply.headers and ERROR_CODE_HEADER in reply.headers:
            raise error_from_dict(error_dict(reply.headers.get(ERROR_HEADER), f"{what} failed"))
        try:
            return verb.reply.model_validate_json(reply.data or b"{}")
        except (ValidationError, json.JSONDecodeError):
            raise MeshError(f"{what}: the reply is not a {verb.reply.__name__}") from None
