"""The video catalog as a NATS micro service: list, get, create, delete.

Requests and replies are JSON (the models in :mod:`schemas`); failures are answered with
``{"error": {"code", "message"}}`` and the ``Nats-Service-Error-Code`` header, so callers get
the same error tree back (:class:`mesh.catalog_client.VideoApiClient`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass

from nats.aio.subscription import Subscription
from nats.micro.service import Service
from pydantic import BaseModel, ValidationError

from culto.errors import (
    ConfigError,
    Conflict,
    CultoError,
    InvalidInput,
    NotFound,
    PermanentStageError,
    TranscriptError,
)
from culto.resources import AsyncResource
from mesh.artifacts import ArtifactStore
from mesh.connection import MeshConnection
from mesh.events import EventPublisher, channel_of
from mesh.jobs import AbandonedJob, JobQueue
from mesh.replay import EventReader
from mesh.subjects import api_subject
from mesh.videos import VideoStore
from schemas.api import ListRequest, StagedRequest, VideoRef
from schemas.events import VideoDeletedEventDTO
from schemas.ids import new_video_id
from schemas.jobs import ProcessJob
from schemas.videos import Processing, VideoCreate, VideoDTO, VideoRecord, VideoStatus
from services.api.catalog import Catalog
from services.api.endpoints import QUEUE_GROUP, EndpointStats, Handler, parse_request, start_service
from services.transcripts.fetch_policy import (
    DEFAULT_FETCH_POLICY,
    DEFAULT_VIDEO_HOSTS,
    FetchPolicy,
    FetchRefused,
)
from services.transcripts.parse import parse_transcript
from services.videos import lifecycle
from services.videos.outcomes import fail_job

log = logging.getLogger(__name__)

SERVICE_NAME = "culto-videos"
URL_CHECK_TIMEOUT = 5.0
"""Seconds a submit waits for the ``url`` host's name to resolve; past it the URL passes (the
worker checks every connection again)."""

__all__ = ["DEFAULT_VIDEO_HOSTS", "ApiConfig", "VideoApiService"]


def _on_field(exc: InvalidInput, field: str) -> InvalidInput:
    """``exc`` (same class and code) naming ``field`` the way the edge's own validation errors
    do (``details.errors[].field``), so a page can show the message next to that field."""
    problem = {"field": field, "message": exc.message}
    return type(exc)(exc.message, code=exc.code, details={**exc.details, "errors": [problem]})


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """The video API service's limits.

    Attributes:
        max_transcript_bytes: Largest transcript accepted with a submit request.
        fetch_policy: Where a submitted ``url`` may lead (the workers' policy): its host must
            be allowed and must not resolve to a loopback, private... address; any other is
            refused at submit, since the workers could only fail on it later.
    """

    max_transcript_bytes: int = 5 * 1024 * 1024
    fetch_policy: FetchPolicy = DEFAULT_FETCH_POLICY

    def __post_init__(self) -> None:
        if self.max_transcript_bytes < 1:
            raise ConfigError("CULTO_MAX_TRANSCRIPT_BYTES: must be positive")

    @property
    def allowed_video_hosts(self) -> frozenset[str]:
        """Hosts a submitted ``url`` may name (exact, lower-case)."""
        return self.fetch_policy.allowed_hosts


class VideoApiService(AsyncResource):
    """Serves ``culto.api.videos.*`` until closed.

    Args:
        mesh: The process's connection.
        config: The service's limits.
    """

    def __init__(self, mesh: MeshConnection, config: ApiConfig) -> None:
        self._mesh = mesh
        self._config = config
        self.store = VideoStore(mesh)
        self._jobs = JobQueue(mesh)
        self._artifacts = ArtifactStore(mesh)
        self._events = EventPublisher(mesh)
        self._reader = EventReader(mesh)
        self.catalog = Catalog(mesh, self.store)
        self._service: Service | None = None
        self._advisories: Subscription | None = None
        self.stats = EndpointStats()
        self.jobs_abandoned = 0

    async def open(self) -> None:
        """Load the catalog and start answering requests."""
        await self.catalog.start()
        routes: dict[str, Handler] = {
            "list": self._list,
            "get": self._get,
            "create": self._create,
            "delete": self._delete,
        }
        self._service = await start_service(
            self._mesh.nc,
            name=SERVICE_NAME,
            description="CultoTranscript video catalog",
            routes=routes,
            subject=api_subject,
            stats=self.stats,
        )
        self._advisories = await self._jobs.watch_abandoned(self._abandoned, queue=QUEUE_GROUP)
        # The server has our subscriptions once the flush returns: "ready" means answering.
        await self._mesh.nc.flush()

    async def close(self) -> None:
        """Stop answering (in-flight requests finish) and stop following the catalog."""
        advisories, self._advisories = self._advisories, None
        if advisories is not None:
            with contextlib.suppress(Exception):
                await advisories.unsubscribe()
        if self._service is not None:
            await self._service.stop()
            self._service = None
        await self.catalog.stop()

    async def _abandoned(self, abandoned: AbandonedJob) -> None:
        """JetStream gave up on a job whose workers kept dying: fail its video, drop the job.

        Without this the video would stay PROCESSING forever: no worker is left to say so.
        """
        job = abandoned.job
        error = PermanentStageError(
            f"processing stopped {abandoned.deliveries} times without finishing (the worker"
            " crashed or was stopped each time, e.g. out of memory on a very long video);"
            " submit it again with reprocess=true, or ask the operator to check the workers' logs",
            code="job_abandoned",
        )
        try:
            failed = await fail_job(
                self.store,
                self._events,
                self._reader,
                video_id=job.video_id,
                job_id=job.job_id,
                error=error,
                stage=None,
            )
            await self._jobs.remove(abandoned.stream_seq)
        except CultoError as exc:
            log.warning("abandoned job %s of %s not settled: %s", job.job_id, job.video_id, exc)
            return
        if failed is not None:
            self.jobs_abandoned += 1

    async def _list(self, data: bytes) -> BaseModel:
        return self.catalog.page(parse_request(ListRequest, data))

    async def _get(self, data: bytes) -> BaseModel:
        ref = parse_request(VideoRef, data)
        return (await self.store.get(ref.id)).record.public()

    async def _read_create(self, data: bytes) -> VideoCreate:
        """The submit request, inline or staged in the object store (a long transcript)."""
        try:
            staged = StagedRequest.model_validate_json(data)
        except ValidationError:
            return parse_request(VideoCreate, data)
        # The JSON around a transcript can at most double it (escapes), plus the other fields.
        limit = 2 * self._config.max_transcript_bytes + 64 * 1024
        return parse_request(
            VideoCreate, await self._artifacts.take_staged(staged.staged, max_bytes=limit)
        )

    async def _create(self, data: bytes) -> BaseModel:
        body = await self._read_create(data)
        # Refuse now what a worker could only fail on later: a green "Queued" must mean it can run.
        if body.url is not None:
            await self._check_url(str(body.url))
        if body.transcript is not None:
            try:
                await asyncio.to_thread(
                    parse_transcript,
                    body.transcript.content,
                    body.transcript.format,
                    max_bytes=self._config.max_transcript_bytes,
                )
            except TranscriptError as exc:
                raise _on_field(exc, "transcript.content") from None
        video_id = new_video_id()
        if body.youtube_id is not None:
            owner = await self.store.claim_youtube_id(body.youtube_id, video_id)
            if owner is not None:
                if not body.reprocess:
                    raise Conflict(
                        f"youtube video {body.youtube_id} is already known as {owner};"
                        " pass reprocess=true to process it again",
                        code="already_exists",
                        details={"existing_id": owner},
                    )
                return await self._requeue(owner, body)
        return await self._enqueue_new(video_id, body)

    async def _check_url(self, url: str) -> None:
        """422 on ``url`` unless the fetch policy allows it (host, then resolved addresses).

        A name that does not resolve in time passes: the workers check every connection.
        """
        policy = self._config.fetch_policy
        try:
            await asyncio.wait_for(asyncio.to_thread(policy.check_url, url), URL_CHECK_TIMEOUT)
        except TimeoutError:
            return
        except FetchRefused as exc:
            message = f"url: {exc}"
            raise _on_field(InvalidInput(message, code="invalid_url"), "url") from None

    async def _enqueue_new(self, video_id: str, body: VideoCreate) -> VideoDTO:
        fmt = body.transcript.format if body.transcript else None
        record = lifecycle.queue(
            lifecycle.draft(video_id, body), uuid.uuid4().hex, transcript_format=fmt
        )
        if body.transcript is not None:
            await self._artifacts.put_input(video_id, body.transcript)
        created = await self.store.create(record)
        try:
            await self._queue(record)
        except CultoError:
            # Do not leave a QUEUED record without a job behind.
            await self._remove(record)
            raise
        self.catalog.apply(created.revision, record)
        return record.public()

    async def _requeue(self, video_id: str, body: VideoCreate) -> VideoDTO:
        job_id = uuid.uuid4().hex
        if body.transcript is not None:
            await self._artifacts.put_input(video_id, body.transcript)
        fmt = body.transcript.format if body.transcript else None
        updated = await self.store.update(
            video_id,
            lambda rec: lifecycle.queue(
                rec, job_id, title=body.title, transcript_format=fmt, processing=body.processing
            ),
        )
        await self._queue(updated.record)
        self.catalog.apply(updated.revision, updated.record)
        return updated.record.public()

    async def _queue(self, record: VideoRecord) -> None:
        """Announce the QUEUED record; queue a job for the built-in workers unless the video
        is processed externally (then it waits for the ingress's reports)."""
        assert record.job_id is not None
        if record.processing is Processing.INTERNAL:
            await self._jobs.enqueue(ProcessJob(video_id=record.id, job_id=record.job_id))
        else:
            # A reprocess turning a video external: a job still queued from before must not
            # be taken by a built-in worker (it would be stale anyway, this drops it sooner).
            await self._jobs.cancel(record.id)
        await self._events.publish_status(
            record.id,
            VideoStatus.QUEUED,
            0,
            record.status_message,
            channel_id=channel_of(record.channel_id),
            msg_id=f"{record.id}:{record.job_id}:queued",
        )

    async def _delete(self, data: bytes) -> None:
        ref = parse_request(VideoRef, data)
        # Detach the job first: a worker running it drops it at its next step.
        record = (await self.store.update(ref.id, lifecycle.cancel)).record
        await self._jobs.cancel(ref.id)
        await self._remove(record)
        await self._events.publish(
            VideoDeletedEventDTO(video_id=ref.id),
            channel_id=channel_of(record.channel_id),
            msg_id=f"{ref.id}:deleted",
        )
        return None

    async def _remove(self, record: VideoRecord) -> None:
        with contextlib.suppress(NotFound):
            await self.store.delete(record.id)
        self.catalog.forget(record.id)
        await self._artifacts.delete_all(record.id)
        if record.youtube_id:
            await self.store.release_youtube_id(record.youtube_id, record.id)
