"""Typed client of the video API service (used by the HTTP edge, the CLI and tests).

It lives in the mesh layer, beside the subjects it calls: the edge talks to the service only
through NATS, never by importing it.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel

from culto.errors import MeshError, MeshUnavailable, StorageFull, error_from_dict
from mesh.artifacts import ArtifactStore
from mesh.connection import MeshConnection
from mesh.errors import STORAGE_FULL_HINT, nats_errors
from mesh.subjects import api_subject, video_token
from mesh.videos import VideoStore
from schemas.api import ListRequest, StagedRequest, VideoRef
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.videos import VideoCreate, VideoDTO, VideoListQuery, VideoPage

SERVICE_ERROR_HEADER = "Nats-Service-Error-Code"
_READ_ONLY = frozenset({"list", "get"})
"""Verbs that still work while JetStream cannot write (reads are served from memory/disk)."""
INLINE_LIMIT = 256 * 1024
"""Largest request sent inline; well below NATS's default ``max_payload`` of 1 MiB."""


class ServiceClient:
    """Calls a micro service of the API role and turns error replies back into
    :class:`CultoError` (the reply's ``Nats-Service-Error-Code`` header marks a failure).

    Args:
        mesh: The process's connection.
        timeout: Seconds to wait for a reply.
    """

    def __init__(self, mesh: MeshConnection, *, timeout: float = 5.0) -> None:
        self._mesh = mesh
        self._timeout = timeout

    async def _request(
        self, subject: str, what: str, body: BaseModel, *, writes: bool = True
    ) -> Any:
        if not self._mesh.is_connected:
            # Known to be down: answer now (503) instead of waiting out the request timeout.
            raise MeshUnavailable(f"{what}: NATS is unavailable; retry shortly")
        if self._mesh.storage_full and writes:
            raise StorageFull(f"{what}: {STORAGE_FULL_HINT}")
        with nats_errors(what):
            reply = await self._mesh.nc.request(
                subject, body.model_dump_json().encode(), timeout=self._timeout
            )
        try:
            payload = json.loads(reply.data) if reply.data else {}
        except ValueError:
            raise MeshError(f"{what}: reply is not JSON") from None
        # The header, not the body, marks a failure: a FAILED video's body has "error" too.
        if reply.headers and SERVICE_ERROR_HEADER in reply.headers:
            error = payload.get("error") if isinstance(payload, dict) else None
            if not isinstance(error, dict):
                error = {"message": reply.headers.get("Nats-Service-Error", f"{what} failed")}
            raise error_from_dict(error)
        return payload


class VideoApiClient(ServiceClient):
    """Calls ``culto.api.videos.*`` (and reads a video's channel from its record).

    Args:
        mesh: The process's connection.
        timeout: Seconds to wait for a reply.
    """

    def __init__(self, mesh: MeshConnection, *, timeout: float = 5.0) -> None:
        super().__init__(mesh, timeout=timeout)
        # Kept: each looks its bucket up once, not on every call (one NATS request each).
        self._records = VideoStore(mesh)
        self._staging = ArtifactStore(mesh)

    async def _call(self, verb: str, body: BaseModel) -> Any:
        return await self._request(
            api_subject(verb), f"video API {verb}", body, writes=verb not in _READ_ONLY
        )

    async def list(
        self, query: VideoListQuery, *, channels: Collection[str] | None = None
    ) -> VideoPage:
        """One page of videos, newest first; only of ``channels`` unless ``None`` (all)."""
        request = ListRequest(
            **query.model_dump(), channels=None if channels is None else sorted(channels)
        )
        return VideoPage.model_validate(await self._call("list", request))

    async def get(self, video_id: str) -> VideoDTO:
        """One video; :class:`NotFound` if unknown."""
        return VideoDTO.model_validate(await self._call("get", VideoRef(id=video_token(video_id))))

    async def create(self, body: VideoCreate) -> VideoDTO:
        """Submit a video; :class:`Conflict` (``details.existing_id``) if already known.

        A request over :data:`INLINE_LIMIT` (a long transcript) is staged in the object store
        and sent as a reference: NATS refuses messages over ``max_payload`` (1 MiB).
        """
        request: BaseModel = body
        data = body.model_dump_json().encode()
        if len(data) > INLINE_LIMIT:
            request = StagedRequest(staged=await self._staging.stage(data))
        return VideoDTO.model_validate(await self._call("create", request))

    async def channel(self, video_id: str) -> str | None:
        """The channel id stored on a video's record (``None`` if it has none, or no such
        video), read from the ``culto_videos`` bucket itself: any replica of the bucket answers,
        so opening an event stream does not wait on the API service (e.g. while it reconnects
        after a NATS node failed)."""
        if not self._mesh.is_connected:
            raise MeshUnavailable("reading a video's channel: NATS is unavailable; retry shortly")
        found = await self._records.find(video_token(video_id))
        return None if found is None else found.record.channel_id or DEFAULT_CHANNEL_ID

    async def delete(self, video_id: str) -> None:
        """Cancel and delete; :class:`NotFound` if unknown."""
        await self._call("delete", VideoRef(id=video_token(video_id)))
