"""NATS subject names and the only place where user-supplied ids become subject tokens.

Event subjects are ``culto.events.<video_id>.<event_type>`` (the event type keeps its dot, so
``video.status`` spans two tokens); jobs are ``culto.jobs.process.<video_id>``.
"""

from __future__ import annotations

from collections.abc import Iterable

from culto.errors import InvalidInput
from schemas.events import EVENT_TYPES, EventType
from schemas.ids import is_video_id

EVENTS_STREAM = "CULTO_EVENTS"
JOBS_STREAM = "CULTO_JOBS"
VIDEOS_BUCKET = "culto_videos"
YOUTUBE_INDEX_BUCKET = "culto_youtube_index"
ARTIFACTS_BUCKET = "culto_artifacts"
STAGING_BUCKET = "culto_staging"
IDENTITY_BUCKET = "culto_identity"
SESSIONS_BUCKET = "culto_sessions"
CURSORS_BUCKET = "culto_cursors"
INGRESS_BUCKET = "culto_ingress"
"""The publish ingress's answers per ``Idempotency-Key`` (:mod:`mesh.idempotency`)."""
"""Acknowledged cursors: ``<user id>.<cursor name>`` → the last acknowledged sequence."""
WORKERS_CONSUMER = "culto-workers"

EVENTS_PREFIX = "culto.events"
EVENTS_ALL = f"{EVENTS_PREFIX}.>"
EVENT_SUBJECTS = f"{EVENTS_PREFIX}.*.>"
"""Every video's events (what workers and history readers use): not the fence."""
FENCE_SUBJECT = f"{EVENTS_PREFIX}.fence"
"""The identity fence's marks in ``CULTO_EVENTS`` (:mod:`mesh.fence`): matched by the
live feed's :data:`EVENTS_ALL`, by no history filter (they have no video token)."""
JOBS_PREFIX = "culto.jobs"
JOBS_ALL = f"{JOBS_PREFIX}.>"
API_PREFIX = "culto.api.videos"
IDENTITY_API_PREFIX = "culto.api.identity"
"""The identity service (API role): ``culto.api.identity.<verb>`` (login, logout, users,
channels, members, tokens) and the HTTP publish ingress (``publish``)."""
ABANDONED_JOBS_ADVISORY = (
    f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{JOBS_STREAM}.{WORKERS_CONSUMER}"
)
"""Sent by JetStream when a job reached ``max_deliver`` without being settled (ADR-10)."""


def video_token(video_id: str) -> str:
    """Return ``video_id`` as a subject token, or refuse it.

    Raises:
        InvalidInput: unless ``video_id`` is a canonical UUID (so it cannot carry ``.``, ``*``,
            ``>`` or whitespace into a subject).
    """
    # A canonical UUID (hex and hyphens only) cannot carry '.', '*', '>' or whitespace.
    if not is_video_id(video_id):
        raise InvalidInput(f"invalid video id {video_id[:64]!r}: expected a lower-case UUID")
    return video_id


def event_type_token(event_type: str) -> EventType:
    """Validate an event type against the closed set of stored types."""
    if event_type not in EVENT_TYPES:
        raise InvalidInput(
            f"unknown event type {event_type[:40]!r}: expected one of {', '.join(EVENT_TYPES)}"
        )
    return event_type


def event_subject(video_id: str, event_type: str) -> str:
    """``culto.events.<video_id>.<event_type>``."""
    return f"{EVENTS_PREFIX}.{video_token(video_id)}.{event_type_token(event_type)}"


def event_filters(video_ids: Iterable[str] = (), event_types: Iterable[str] = ()) -> list[str]:
    """The smallest set of JetStream filter subjects for these videos and types.

    No videos means every video; no types means every type.
    """
    videos = sorted({video_token(v) for v in video_ids})
    types = sorted({event_type_token(t) for t in event_types})
    heads = [f"{EVENTS_PREFIX}.{v}" for v in videos] or [f"{EVENTS_PREFIX}.*"]
    if not types:
        return [f"{head}.>" for head in heads]
    return [f"{head}.{t}" for head in heads for t in types]


def parse_event_subject(subject: str) -> tuple[str, str] | None:
    """``(video_id, event_type)`` of an event subject, or ``None`` if it is not one."""
    parts = subject.split(".", 3)
    if len(parts) != 4 or f"{parts[0]}.{parts[1]}" != EVENTS_PREFIX:
        return None
    video_id, event_type = parts[2], parts[3]
    if not is_video_id(video_id) or event_type not in EVENT_TYPES:
        return None
    return video_id, event_type


def job_subject(video_id: str) -> str:
    """``culto.jobs.process.<video_id>``."""
    return f"{JOBS_PREFIX}.process.{video_token(video_id)}"


def api_subject(verb: str) -> str:
    """Subject of one video API endpoint (``list``, ``get``, ``create``, ``delete``)."""
    return f"{API_PREFIX}.{verb}"


def identity_subject(verb: str) -> str:
    """Subject of one identity service endpoint (``login``, ``token_create``, ``publish`` ...)."""
    return f"{IDENTITY_API_PREFIX}.{verb}"
