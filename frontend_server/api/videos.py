"""REST handlers of the video catalog (``/api/v2/videos/``) and the XSRF token endpoint.

The handlers validate and authorize at the edge (so bad input and plain refusals never reach
NATS), then call the video API service through :class:`~mesh.catalog_client.VideoApiClient`
with the caller's own credential: the service authorizes again and its word is final. Its
domain errors become HTTP errors in :mod:`ops.http`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from access.policy import Action, require
from culto.errors import NotFound
from frontend_server.api.rest import ApiHandler
from frontend_server.security.browser import SecureHandler
from frontend_server.security.limits import ClientLimits
from mesh.catalog_client import VideoApiClient
from ops.http import ApiError, validation_error
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.ids import is_video_id
from schemas.videos import VideoCreate, VideoDTO, VideoListQuery

VIDEOS_PATH = "/api/v2/videos/"
_QUERY_FIELDS = ("status", "channel_id", "limit", "cursor")
# Room for the JSON envelope around the largest accepted transcript: escaping (a newline is
# "\n") can double the transcript, and the other fields add a little. The transcript itself is
# measured by the API service, which answers 413 ``transcript_too_large`` past the limit.
_BODY_OVERHEAD = 64 * 1024


class CsrfTokenDTO(BaseModel):
    """``GET /api/v2/csrf`` reply: send ``csrf_token`` back in ``X-XSRFToken``."""

    csrf_token: str


def video_id_or_400(raw: str) -> str:
    """The canonical (lower-case) id, or a 400 ``invalid_video_id``."""
    candidate = raw.strip().lower()
    if not is_video_id(candidate):
        raise ApiError(
            400,
            "invalid_video_id",
            f"invalid video id {raw[:64]!r}: expected a UUID like "
            "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f",
        )
    return candidate


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoDeps:
    """What the video routes use, one per application (Tornado passes it as ``deps``).

    ``max_transcript_bytes``: the largest transcript accepted (the body may hold it twice,
    escaped, plus the other fields)."""

    api: VideoApiClient
    max_transcript_bytes: int
    limits: ClientLimits


class _VideoApiHandler(ApiHandler):
    """Shared plumbing: the API client, the body size limit, the policy on one video."""

    def initialize(self, deps: VideoDeps) -> None:
        """Per-application dependencies (no globals)."""
        self.api = deps.api
        self.max_body_bytes = 2 * deps.max_transcript_bytes + _BODY_OVERHEAD
        self.limits = deps.limits

    async def video_for(self, video_id: str, action: Action) -> VideoDTO:
        """The video, if the caller may do ``action`` on it.

        An unknown video and one the caller may not read get the same answer (404, or 401
        without credentials): existence is not revealed.

        Raises:
            Unauthenticated, NotFound, Forbidden: as ``access.policy`` decides.
        """
        try:
            video = await self.api.get(video_id, self.caller.credential)
        except NotFound:
            require(self.principal, action, None, what=f"video {video_id}")
            raise
        channel = self.authenticator.channel(video.channel_id or DEFAULT_CHANNEL_ID)
        require(self.principal, action, channel, what=f"video {video_id}")
        return video


class VideosHandler(_VideoApiHandler):
    """``GET /api/v2/videos/`` (list) and ``POST /api/v2/videos/`` (submit)."""

    async def get(self) -> None:
        """One page, newest first, of the videos the caller may read; filters ``status``,
        ``channel_id``; ``limit``/``cursor``."""
        raw: dict[str, Any] = {}
        for name in _QUERY_FIELDS:
            value = self.get_query_argument(name, None)
            if value is not None and value != "":
                raw[name] = value.upper() if name == "status" else value
        try:
            query = VideoListQuery.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(exc, "query") from None
        if query.channel_id is not None:
            channel = self.authenticator.channel(query.channel_id)
            require(self.principal, Action.READ, channel, what=f"channel {query.channel_id}")
        self.write_json(await self.api.list(query, self.caller.credential))

    async def post(self) -> None:
        """Submit a video to a channel the caller edits: 201, the ``VideoDTO``, ``Location``."""
        body = self.parse_body(VideoCreate)
        channel_id = body.channel_id or DEFAULT_CHANNEL_ID
        channel = self.authenticator.channel(channel_id)
        require(self.principal, Action.SUBMIT, channel, what=f"channel {channel_id}")
        video = await self.api.create(
            body.model_copy(update={"channel_id": channel_id}), self.caller.credential
        )
        self.set_header("Location", f"{VIDEOS_PATH}{video.id}")
        self.write_json(video, status=201)


class VideoHandler(_VideoApiHandler):
    """``GET`` and ``DELETE /api/v2/videos/{video_id}``."""

    async def get(self, video_id: str) -> None:
        """The video (with ``summary`` once PROCESSED); 404 if unknown or unreadable."""
        self.write_json(await self.video_for(video_id_or_400(video_id), Action.READ))

    async def delete(self, video_id: str) -> None:
        """Cancel and delete; 204; 404 if unknown or unreadable; 403 without the role."""
        video = await self.video_for(video_id_or_400(video_id), Action.DELETE)
        await self.api.delete(video.id, self.caller.credential)
        self.set_status(204)
        self.finish()


class CsrfHandler(SecureHandler):
    """``GET /api/v2/csrf``: the token for ``X-XSRFToken``; sets the ``_xsrf`` cookie."""

    def get(self) -> None:
        """Reading ``xsrf_token`` sets the cookie when the client has none yet."""
        self.set_header("Cache-Control", "no-store")
        self.write_json(CsrfTokenDTO(csrf_token=self.authenticator.xsrf_token(self, self.caller)))
