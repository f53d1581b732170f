"""REST handlers of the video catalog (``/api/v2/videos/``) and the XSRF token endpoint.

The handlers validate at the edge (so bad input never reaches NATS) and call the video API
service through :class:`~mesh.catalog_client.VideoApiClient`; its domain errors become HTTP
errors in :mod:`ops.http`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from frontend_server.limits import ClientLimits, rate_headers
from frontend_server.security import SecureHandler
from mesh.catalog_client import VideoApiClient
from ops.http import ApiError, validation_error
from schemas.ids import is_video_id
from schemas.videos import VideoCreate, VideoListQuery

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


class _VideoApiHandler(SecureHandler):
    """Shared plumbing: the API client and the body size limit."""

    def initialize(self, api: VideoApiClient, max_body_bytes: int, limits: ClientLimits) -> None:
        """Per-application dependencies (no globals)."""
        self.api = api
        self.max_body_bytes = 2 * max_body_bytes + _BODY_OVERHEAD
        self.limits = limits

    def prepare(self) -> None:
        """Refuse a client over its request rate (429), then oversized bodies (413)."""
        decision = self.limits.take(self.request.remote_ip or "")
        headers = rate_headers(decision, self.limits.config)
        if not decision.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests from this client; retry in {decision.retry_after} s",
                headers=headers,
            )
        for name, value in headers.items():
            self.set_header(name, value)
        if len(self.request.body or b"") > self.max_body_bytes:
            raise ApiError(
                413,
                "payload_too_large",
                f"request body is larger than {self.max_body_bytes} bytes",
            )
        self.set_header("Cache-Control", "no-store")


class VideosHandler(_VideoApiHandler):
    """``GET /api/v2/videos/`` (list) and ``POST /api/v2/videos/`` (submit)."""

    async def get(self) -> None:
        """One page, newest first; filters ``status``, ``channel_id``; ``limit``/``cursor``."""
        raw: dict[str, Any] = {}
        for name in _QUERY_FIELDS:
            value = self.get_query_argument(name, None)
            if value is not None and value != "":
                raw[name] = value.upper() if name == "status" else value
        try:
            query = VideoListQuery.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(exc, "query") from None
        self.write_json(await self.api.list(query))

    async def post(self) -> None:
        """Submit a video: 201, the ``VideoDTO`` and a ``Location`` header."""
        body = self.parse_body(VideoCreate)
        video = await self.api.create(body)
        self.set_header("Location", f"{VIDEOS_PATH}{video.id}")
        self.write_json(video, status=201)


class VideoHandler(_VideoApiHandler):
    """``GET`` and ``DELETE /api/v2/videos/{video_id}``."""

    async def get(self, video_id: str) -> None:
        """The video (with ``summary`` once PROCESSED); 404 if unknown."""
        self.write_json(await self.api.get(video_id_or_400(video_id)))

    async def delete(self, video_id: str) -> None:
        """Cancel and delete; 204; 404 if unknown."""
        await self.api.delete(video_id_or_400(video_id))
        self.set_status(204)
        self.finish()


class CsrfHandler(SecureHandler):
    """``GET /api/v2/csrf``: the token for ``X-XSRFToken``; sets the ``_xsrf`` cookie."""

    def get(self) -> None:
        """Reading ``xsrf_token`` sets the cookie when the client has none yet."""
        self.set_header("Cache-Control", "no-store")
        self.write_json(CsrfTokenDTO(csrf_token=self.authenticator.xsrf_token(self, self.caller)))
