"""A worker: pulls jobs from the shared durable consumer and runs the stage pipeline.

Delivery guarantees, and how they are kept:

- a job whose worker dies is redelivered after ``ack_wait`` (long stages send ``in_progress``);
- a transient failure is retried with back-off (``nak(delay)``) until ``max_deliver``, then
  the video fails; a permanent failure fails it at once;
- a redelivered job never produces a second PROCESSED: the record is finished with a
  compare-and-set that only succeeds once, and the final events carry ``Nats-Msg-Id``s;
- a job whose video was deleted or re-queued is dropped.

Every record change is a transition of :mod:`services.videos.lifecycle`; a stale job surfaces
there as :class:`~culto.errors.JobCancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import nats.errors
from nats.aio.msg import Msg
from pydantic import ValidationError

from culto.errors import (
    ConfigError,
    CultoError,
    JobCancelled,
    MeshError,
    NotFound,
    PermanentStageError,
    TransientStageError,
)
from culto.resources import AsyncResource, stop_task
from mesh.artifacts import ArtifactStore
from mesh.connection import MeshConnection
from mesh.events import EventPublisher, channel_of
from mesh.jobs import JobQueue
from mesh.replay import EventReader
from mesh.videos import VideoStore
from schemas.events import SummaryReadyEventDTO
from schemas.jobs import ProcessJob
from schemas.videos import VideoRecord, VideoStatus
from services.videos import lifecycle
from services.videos.outcomes import fail_job
from services.worker.metrics import Outcome, WorkerMetrics
from services.worker.pipeline import JobContext, Stage, WorkerConfig, run_pipeline
from services.worker.stages import default_stages

log = logging.getLogger(__name__)


_WILL_RETRY = re.compile(r";?\s*will retry\b")


def gave_up(message: str, attempts: int) -> str:
    """The final word on a transient failure: no "will retry" left in it."""
    plural = "attempt" if attempts == 1 else "attempts"
    return f"{_WILL_RETRY.sub('', message).strip()} (gave up after {attempts} {plural})"


def retry_message(stage: str, message: str, delay: float, attempt: int, attempts: int) -> str:
    """What a video shows while a transient failure waits for its retry: the stage's own
    words once (without their "will retry"), then when and how often it is tried again.

    ``attempt`` is the coming attempt (2 for the first retry) out of ``attempts``.
    """
    reason = _WILL_RETRY.sub("", message).strip().rstrip(".")
    return (
        f"Temporary problem in {stage}: {reason}. Retrying in {delay:.0f} s"
        f" (attempt {attempt} of {attempts})."
    )


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1-based): 1, 2, 4 ... capped at 60."""
    return float(min(2 ** max(attempt - 1, 0), 60))


class Worker(AsyncResource):
    """Runs jobs one at a time until stopped. Start several for parallelism.

    Args:
        mesh: The process's connection.
        config: Ack wait, max deliveries, limits.
        stages: The pipeline (defaults to :func:`default_stages`).
        name: Shown in logs.
        metrics: Where job and stage durations and failures are recorded (optional).
    """

    def __init__(
        self,
        mesh: MeshConnection,
        config: WorkerConfig,
        *,
        stages: Sequence[Stage] | None = None,
        name: str = "worker",
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self._mesh = mesh
        self._config = config
        self._metrics = metrics
        self._stages = list(stages) if stages is not None else default_stages()
        self.name = name
        self._store = VideoStore(mesh)
        self._artifacts = ArtifactStore(mesh)
        self._events = EventPublisher(mesh)
        self._reader = EventReader(mesh)
        self._task: asyncio.Task[None] | None = None
        self._sub: object | None = None
        self._stopping = asyncio.Event()
        self.jobs_done = 0
        self.jobs_failed = 0
        self.jobs_retried = 0
        self.busy = False

    async def open(self) -> None:
        """Check the consumer's limits, bind to it and start pulling jobs.

        Raises:
            ConfigError: this worker's ack wait or max deliveries differ from the provisioned
                consumer's (JetStream would redeliver on another schedule than the worker's
                keep-alive and retry logic assume).
        """
        jobs = JobQueue(self._mesh)
        ack_wait, max_deliver = await jobs.consumer_limits()
        if abs(ack_wait - self._config.ack_wait) > 0.001:
            raise ConfigError(
                f"CULTO_JOB_ACK_WAIT: this worker has {self._config.ack_wait:g}s but the"
                f" provisioned consumer has {ack_wait:g}s; set one value everywhere and run"
                " 'culto provision'"
            )
        if max_deliver != self._config.max_deliver:
            raise ConfigError(
                f"CULTO_JOB_MAX_DELIVER: this worker has {self._config.max_deliver} but the"
                f" provisioned consumer has {max_deliver}; set one value everywhere and run"
                " 'culto provision'"
            )
        self._sub = sub = await jobs.subscribe()
        self._task = asyncio.get_running_loop().create_task(self._loop(sub))

    async def close(self) -> None:
        """Stop pulling; let the current job finish for ``shutdown_grace`` seconds, then give it
        back (``nak``) so another worker takes it at once."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=self._config.shutdown_grace)
            if not done:
                await stop_task(task)
        sub, self._sub = self._sub, None
        if sub is not None:
            # An idle pull subscription keeps fetch status messages queued, which would
            # block the connection's drain until it times out.
            with contextlib.suppress(Exception):
                await sub.unsubscribe()  # type: ignore[attr-defined]

    async def _loop(self, sub: object) -> None:
        while not self._stopping.is_set():
            try:
                msgs = await sub.fetch(1, timeout=1)  # type: ignore[attr-defined]
            except nats.errors.TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # disconnected: wait for the reconnect
                log.debug("%s: fetch failed: %r", self.name, exc)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                self.busy = True
                try:
                    await self._handle(msg)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # One job must never end the loop (the worker would idle forever, looking
                    # alive): e.g. the record vanished or JetStream failed over between
                    # reading the job and starting the pipeline. Hand it back; the redelivery
                    # re-checks the record and drops or runs the job.
                    log.exception("%s: job on %s failed before completing", self.name, msg.subject)
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=1)
                finally:
                    self.busy = False

    async def _handle(self, msg: Msg) -> None:
        try:
            job = ProcessJob.model_validate_json(msg.data)
        except ValidationError:
            log.warning("%s: dropping malformed job on %s", self.name, msg.subject)
            await msg.term()
            return
        keepalive = asyncio.get_running_loop().create_task(self._keepalive(msg))
        try:
            await self._process(msg, job)
        except asyncio.CancelledError:
            # Shutting down mid-job: hand it back now instead of after ack_wait.
            with contextlib.suppress(Exception):
                await msg.nak()
            raise
        finally:
            await stop_task(keepalive)

    async def _keepalive(self, msg: Msg) -> None:
        interval = max(self._config.ack_wait / 3, 0.2)
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _process(self, msg: Msg, job: ProcessJob) -> None:
        record = await self._claim(msg, job)
        if record is None:
            return
        attempt = msg.metadata.num_delivered or 1
        workdir = Path(tempfile.mkdtemp(prefix=f"culto-{job.video_id[:8]}-"))
        ctx = JobContext(
            video=record,
            job=job,
            config=self._config,
            artifacts=self._artifacts,
            workdir=workdir,
            report=lambda pct, text: self._report(job, pct, text, tag=f"{ctx.stage}:{pct}"),
            ensure_current=lambda: self._ensure_current(job),
        )
        started = time.monotonic()
        outcome = Outcome.FAILED
        try:
            await run_pipeline(self._stages, ctx)
            await self._finish(job, ctx)
            await msg.ack()
            self.jobs_done += 1
            outcome = Outcome.PROCESSED
        except JobCancelled:
            log.info("%s: job %s cancelled", self.name, job.job_id)
            await msg.term()
            outcome = Outcome.CANCELLED
        except (TransientStageError, MeshError) as exc:
            retried = await self._retry_or_fail(msg, job, ctx.stage, attempt, exc)
            outcome = Outcome.RETRIED if retried else Outcome.FAILED
        except CultoError as exc:  # permanent: bad transcript, missing audio, ...
            await self._fail(job, ctx.stage, exc)
            await msg.term()
        except Exception as exc:  # a bug or an unexpected library error: retry, then fail
            log.exception("%s: unexpected error in stage %s", self.name, ctx.stage)
            # The exception's text stays in the log: it may quote what a remote server sent.
            wrapped = TransientStageError(
                f"unexpected error in {ctx.stage or 'the pipeline'} ({type(exc).__name__});"
                " will retry",
                code="internal_error",
            )
            retried = await self._retry_or_fail(msg, job, ctx.stage, attempt, wrapped)
            outcome = Outcome.RETRIED if retried else Outcome.FAILED
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            if self._metrics is not None:
                self._metrics.job(outcome, time.monotonic() - started)
                for stage, seconds in ctx.stage_seconds.items():
                    self._metrics.stage(stage, seconds)

    async def _claim(self, msg: Msg, job: ProcessJob) -> VideoRecord | None:
        """The video's record marked PROCESSING for ``job``, or ``None`` once ``msg`` is settled
        without running the pipeline (video deleted or re-queued, or already final)."""
        current = await self._store.find(job.video_id)
        if current is None or current.record.job_id != job.job_id:
            log.info("%s: dropping job %s: video deleted or re-queued", self.name, job.job_id)
            await msg.term()
            return None
        if current.record.status is VideoStatus.PROCESSED:
            await self._publish_final(current.record)  # idempotent: finishes a crashed finish
            await msg.ack()
            return None
        if current.record.status is VideoStatus.FAILED:
            await msg.term()
            return None
        try:
            return await self._mark_processing(job)
        except (NotFound, JobCancelled):
            log.info("%s: dropping job %s: video deleted or re-queued", self.name, job.job_id)
            await msg.term()
            return None

    async def _retry_or_fail(
        self, msg: Msg, job: ProcessJob, stage: str, attempt: int, exc: CultoError
    ) -> bool:
        """Hand the job back with a back-off (True), or fail it for good on the last try."""
        if attempt >= self._config.max_deliver:
            final = PermanentStageError(gave_up(exc.message, attempt), code=exc.code)
            await self._fail(job, stage, final)
            await msg.term()
            return False
        delay = backoff(attempt)
        self.jobs_retried += 1
        with contextlib.suppress(CultoError):
            await self._report(
                job,
                None,
                retry_message(stage, exc.message, delay, attempt + 1, self._config.max_deliver),
                tag=f"retry{attempt}",
            )
        await msg.nak(delay=delay)
        return True

    async def _ensure_current(self, job: ProcessJob) -> None:
        current = await self._store.find(job.video_id)
        if current is None or current.record.job_id != job.job_id:
            raise JobCancelled(f"video {job.video_id} was deleted or re-queued")

    async def _mark_processing(self, job: ProcessJob) -> VideoRecord:
        return (
            await self._store.update(job.video_id, lambda rec: lifecycle.start(rec, job.job_id))
        ).record

    async def _report(
        self, job: ProcessJob, percent: int | None, message: str, *, tag: str = ""
    ) -> None:
        updated = await self._store.update(
            job.video_id, lambda rec: lifecycle.progress(rec, job.job_id, percent, message)
        )
        if not updated.changed:
            return  # a stale or repeated report: the record (and so the wire) shows a newer one
        # Deterministic ids: a redelivered job repeating a report is stored once.
        tag = f"{tag or percent}:{zlib.crc32(message.encode()):08x}"
        await self._events.publish_status(
            job.video_id,
            VideoStatus.PROCESSING,
            updated.record.progress,
            message,
            channel_id=channel_of(updated.record.channel_id),
            msg_id=f"{job.video_id}:{job.job_id}:{tag}",
        )

    async def _finish(self, job: ProcessJob, ctx: JobContext) -> None:
        summary = ctx.summary
        if summary is None:
            raise PermanentStageError("the pipeline produced no summary")
        finished = await self._store.update(
            job.video_id, lambda rec: lifecycle.finish(rec, job.job_id, summary)
        )
        await self._publish_final(finished.record)

    async def _publish_final(self, record: VideoRecord) -> None:
        """PROCESSED, then summary.ready: each exactly once per job, across redeliveries.

        Decided from the stream itself, not from the duplicate window (a redelivery may come
        long after it): once this job has finished the record, nothing but this job publishes
        a status of this video (a re-queue makes the job stale first). So the latest status
        being PROCESSED means this job's PROCESSED is stored, and a summary.ready with a higher
        sequence means the summary is too.
        """
        if record.summary is None:
            return
        latest = {
            e.event_type: e
            for e in await self._reader.latest([record.id], ["video.status", "summary.ready"])
        }
        status, summary = latest.get("video.status"), latest.get("summary.ready")
        prefix = f"{record.id}:{record.job_id}"
        announced = status is not None and getattr(status.event, "status", None) == (
            VideoStatus.PROCESSED
        )
        if not announced:
            status_seq = (
                await self._events.publish_status(
                    record.id,
                    VideoStatus.PROCESSED,
                    100,
                    lifecycle.PROCESSED_MESSAGE,
                    channel_id=channel_of(record.channel_id),
                    msg_id=f"{prefix}:processed",
                )
            ).seq
        else:
            assert status is not None
            status_seq = status.seq
        if summary is None or summary.seq < status_seq:
            await self._events.publish(
                SummaryReadyEventDTO(video_id=record.id, summary=record.summary),
                channel_id=channel_of(record.channel_id),
                msg_id=f"{prefix}:summary",
            )

    async def _fail(self, job: ProcessJob, stage: str, exc: CultoError) -> None:
        self.jobs_failed += 1
        if self._metrics is not None:
            self._metrics.failed(exc.code)
        await fail_job(
            self._store,
            self._events,
            self._reader,
            video_id=job.video_id,
            job_id=job.job_id,
            error=exc,
            stage=stage,
        )
