"""Typed client of the video API service (used by the HTTP edge, the CLI and tests).

It lives in the mesh layer, beside the verbs it calls (:mod:`mesh.rpc.verbs`): the edge talks
to the service only through NATS, never by importing it. Every call names the caller's own
credential (``None``: anonymous); the service authorizes it itself.
"""

from __future__ import annotations

from access.principals import Credential
from culto.errors import MeshUnavailable
from mesh.artifacts import ArtifactStore
from mesh.connection import MeshConnection
from mesh.rpc import RpcClient
from mesh.rpc import verbs as v
from mesh.subjects import video_token
from mesh.videos import VideoStore
from schemas.api import CreateRequest, VideoRef
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.videos import VideoCreate, VideoDTO, VideoListQuery, VideoPage

INLINE_LIMIT = 256 * 1024
"""Largest request sent inline; well below NATS's default ``max_payload`` of 1 MiB."""


class VideoApiClient(RpcClient):
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

    async def list(self, query: VideoListQuery, credential: Credential | None) -> VideoPage:
        """One page of the videos the caller may read, newest first."""
        return await self.call(v.VIDEO_LIST, query, credential)

    async def get(self, video_id: str, credential: Credential | None) -> VideoDTO:
        """One video; :class:`NotFound` if unknown or unreadable."""
        return await self.call(v.VIDEO_GET, VideoRef(id=video_token(video_id)), credential)

    async def create(self, body: VideoCreate, credential: Credential | None) -> VideoDTO:
        """Submit a video; :class:`Conflict` (``details.existing_id``) if already known.

        A request over :data:`INLINE_LIMIT` (a long transcript) is staged in the object store
        and sent as a reference: NATS refuses messages over ``max_payload`` (1 MiB).
        """
        data = body.model_dump_json().encode()
        if len(data) > INLINE_LIMIT:
            request = CreateRequest(staged=await self._staging.stage(data))
        else:
            request = CreateRequest(video=body)
        return await self.call(v.VIDEO_CREATE, request, credential)

    async def delete(self, video_id: str, credential: Credential | None) -> None:
        """Cancel and delete; :class:`NotFound` if unknown or unreadable."""
        await self.call(v.VIDEO_DELETE, VideoRef(id=video_token(video_id)), credential)

    async def channel(self, video_id: str) -> str | None:
        """The channel id stored on a video's record (``None`` if it has none, or no such
        video), read from the ``culto_videos`` bucket itself: any replica of the bucket answers,
        so opening an event stream does not wait on the API service (e.g. while it reconnects
        after a NATS node failed)."""
        if not self.mesh.is_connected:
            raise MeshUnavailable("reading a video's channel: NATS is unavailable; retry shortly")
        found = await self._records.find(video_token(video_id))
        return None if found is None else found.record.channel_id or DEFAULT_CHANNEL_ID
