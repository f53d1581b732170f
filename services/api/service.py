"""The video catalog as a NATS micro service: the ``culto.api.videos.*`` verbs of
:mod:`mesh.rpc.verbs` (list, get, create, delete).

Every request carries its caller's own credential; the service resolves it against its own
directory and decides with ``access.policy`` on the video's channel (read from the record, not
from the request): the edge checks first only to answer fast (docs/security.md "Trust
boundary"). An unknown video and one the caller may not read get the same answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass

from nats.aio.subscription import Subscription

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
from mesh.principals import MeshAuthenticator
from mesh.replay import EventReader
from mesh.rpc import Call, RpcService, route
from mesh.rpc import verbs as v
from mesh.rpc.protocol import QUEUE_GROUP, parse_model
from mesh.videos import VideoStore
from schemas.api import CreateRequest, VideoRef
from schemas.events import VideoDeletedEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID
from schemas.ids import new_video_id
from schemas.jobs import ProcessJob
from schemas.videos import (
    Processing,
    VideoCreate,
    VideoDTO,
    VideoListQuery,
    VideoPage,
    VideoRecord,
    VideoStatus,
)
from services.api.catalog import Catalog
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
        authenticate: The role's credential resolver (its own directory).
    """

    def __init__(
        self, mesh: MeshConnection, config: ApiConfig, *, authenticate: MeshAuthenticator
    ) -> None:
        self._mesh = mesh
        self._resolver = authenticate.resolver
        self._channels = authenticate.channel
        self._config = config
        self.store = VideoStore(mesh)
        self._jobs = JobQueue(mesh)
        self._artifacts = ArtifactStore(mesh)
        self._events = EventPublisher(mesh)
        self._reader = EventReader(mesh)
        self.catalog = Catalog(mesh, self.store)
        self.rpc = RpcService(
            mesh.nc,
            v.VIDEOS,
            [
                route(v.VIDEO_LIST, self._list),
                route(v.VIDEO_GET, self._get),
                route(v.VIDEO_CREATE, self._create),
                route(v.VIDEO_DELETE, self._delete),
            ],
            authenticate,
        )
        self._advisories: Subscription | None = None
        self.jobs_abandoned = 0

    async def open(self) -> None:
        """Load the catalog and start answering requests."""
        await self.catalog.start()
        await self.rpc.start()
        self._advisories = await self._jobs.watch_abandoned(self._abandoned, queue=QUEUE_GROUP)
        # The server has our subscriptions once the flush returns: "ready" means answering.
        await self._mesh.nc.flush()

    async def close(self) -> None:
        """Stop answering (in-flight requests finish) and stop following the catalog."""
        advisories, self._advisories = self._advisories, None
        if advisories is not None:
            with contextlib.suppress(Exception):
                await advisories.unsubscribe()
        await self.rpc.stop()
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

    async def _list(self, call: Call[VideoListQuery]) -> VideoPage:
        query = call.body
        if query.channel_id is not None:
            channel = await self._channels(query.channel_id)
            call.require(channel, what=f"channel {query.channel_id}")
        call.decided = True  # what follows is the policy's READ, channel by channel
        readable = self._resolver.readable_channels(call.principal)
        return self.catalog.page(query, readable)

    async def _record_for(self, call: Call[VideoRef]) -> VideoRecord:
        """The record, if the caller may do the verb's action on it; an unknown video and an
        unreadable one get the same answer (404, or 401 without credentials)."""
        what = f"video {call.body.id}"
        try:
            record = (await self.store.get(call.body.id)).record
        except NotFound:
            call.require(None, what=what)
            raise
        call.require(await self._channels(record.channel_id or DEFAULT_CHANNEL_ID), what=what)
        return record

    async def _get(self, call: Call[VideoRef]) -> VideoDTO:
        return (await self._record_for(call)).public()

    async def _read_create(self, request: CreateRequest) -> VideoCreate:
        """The submit request, inline or staged in the object store (a long transcript)."""
        if request.video is not None:
            return request.video
        assert request.staged is not None  # the model requires one of the two
        # The JSON around a transcript can at most double it (escapes), plus the other fields.
        limit = 2 * self._config.max_transcript_bytes + 64 * 1024
        data = await self._artifacts.take_staged(request.staged, max_bytes=limit)
        return parse_model(VideoCreate, data)

    async def _create(self, call: Call[CreateRequest]) -> VideoDTO:
        body = await self._read_create(call.body)
        channel_id = body.channel_id or DEFAULT_CHANNEL_ID
        call.require(await self._channels(channel_id), what=f"channel {channel_id}")
        body = body.model_copy(update={"channel_id": channel_id})
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
            # Unique per channel: a duplicate elsewhere reveals nothing and is not touched.
            owner = await self.store.claim_youtube_id(
                body.youtube_id, video_id, channel_id=channel_id
            )
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

    async def _delete(self, call: Call[VideoRef]) -> None:
        ref = call.body
        await self._record_for(call)
        # Detach the job first: a worker running it drops it at its next step.
        record = (await self.store.update(ref.id, lifecycle.cancel)).record
        await self._jobs.cancel(ref.id)
        await self._remove(record)
        await self._events.publish(
            VideoDeletedEventDTO(video_id=ref.id),
            channel_id=channel_of(record.channel_id),
            msg_id=f"{ref.id}:deleted",
        )
        # Delete means gone: its events too, but the tombstone just published.
        await self._events.purge_video(ref.id)
        return None

    async def _remove(self, record: VideoRecord) -> None:
        with contextlib.suppress(NotFound):
            await self.store.delete(record.id)
        self.catalog.forget(record.id)
        await self._artifacts.delete_all(record.id)
        if record.youtube_id:
            await self.store.release_youtube_id(
                record.youtube_id, record.id, channel_id=record.channel_id or DEFAULT_CHANNEL_ID
            )
