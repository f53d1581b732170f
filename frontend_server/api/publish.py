"""``POST /api/v2/events/publish``: the HTTP publish ingress for workers that cannot speak NATS.

A ``publish``-scoped API token of an editor (or admin) reports one ``video.status``,
``summary.ready`` or ``error`` event for a video of its channel. The edge validates the body as
the event DTOs, checks the token against the video's channel, and hands the event with the
token to the identity service (the edge may not publish events itself), which authorizes the
token again, updates the record and publishes. ``Idempotency-Key`` becomes the
``Nats-Msg-Id``: a retry answers the first sequence with ``"duplicate": true``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from access.policy import Action, require
from culto.errors import InvalidInput, NotFound, Unauthenticated
from frontend_server.api.identity import IdentityDeps, IdentityHandler
from frontend_server.api.videos import video_id_or_400
from mesh.catalog_client import VideoApiClient
from ops.http import ApiError, validation_error
from schemas.events import PUBLISHABLE_EVENT_ADAPTER
from schemas.identity import PublishCall

IDEMPOTENCY_HEADER = "Idempotency-Key"
PUBLISH_BODY_LIMIT = 512 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishDeps(IdentityDeps):
    """The identity routes' dependencies and the video API (the record's channel decides)."""

    api: VideoApiClient


class PublishHandler(IdentityHandler):
    """``POST /api/v2/events/publish`` → 202 ``{"seq", "duplicate"}``."""

    def initialize(self, deps: PublishDeps) -> None:  # type: ignore[override]
        """Per-application dependencies (no globals)."""
        super().initialize(deps)
        self.api = deps.api
        self.max_body_bytes = PUBLISH_BODY_LIMIT

    def check_xsrf_cookie(self) -> None:
        """No XSRF: only a bearer token is accepted here, and a browser never sends one by
        itself (a cookie-carried request is refused with 401 in :meth:`post`)."""

    async def post(self) -> None:
        """Validate, authorize against the video's channel, publish."""
        if not self.caller.bearer:
            raise Unauthenticated(
                "the publish ingress takes an API token with the publish scope"
                " (Authorization: Bearer culto_…), not a browser session"
            )
        key = self._idempotency_key()
        raw = self.json_body()
        try:
            event = PUBLISHABLE_EVENT_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            raise validation_error(exc, "body") from None
        video_id = video_id_or_400(event.video_id)
        try:
            await self._channel(video_id)
        except NotFound:
            # Unknown, or in a channel this token does not know: the same answer for both.
            raise InvalidInput(
                f"video {video_id} is not a video of this token's channel", code="unknown_video"
            ) from None
        call = PublishCall(event=event.model_dump(mode="json"), idempotency_key=key)
        accepted = await self.identity.publish(call, self.caller.credential)
        self.write_json(accepted, status=202)

    async def _channel(self, video_id: str) -> None:
        """Refuse early unless the caller may publish in the video's channel (the record's
        channel alone: no need to fetch the whole video; the service checks again)."""
        channel_id = await self.api.channel(video_id)
        channel = self.authenticator.channel(channel_id) if channel_id else None
        require(self.principal, Action.PUBLISH, channel, what=f"video {video_id}")

    def _idempotency_key(self) -> str | None:
        raw = self.request.headers.get(IDEMPOTENCY_HEADER)
        if raw is None:
            return None
        key = raw.strip()
        if not key or len(key) > 128 or not all(0x21 <= ord(c) <= 0x7E for c in key):
            raise ApiError(
                400,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-128 printable ASCII characters without spaces",
            )
        return key
