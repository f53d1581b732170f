"""The ``CULTO_JOBS`` work queue: enqueue, cancel, the workers' shared pull consumer, and the
advisory JetStream sends when a job was delivered ``max_deliver`` times without being settled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from pydantic import ValidationError

from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.events import MSG_ID_HEADER
from mesh.retry import retry_within
from mesh.subjects import ABANDONED_JOBS_ADVISORY, JOBS_STREAM, WORKERS_CONSUMER, job_subject
from schemas.jobs import ProcessJob

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AbandonedJob:
    """A job JetStream gave up on: delivered ``deliveries`` times, never acknowledged.

    Its message stays in the work queue (the consumer will not deliver it again) until
    :meth:`JobQueue.remove` deletes it.
    """

    job: ProcessJob
    stream_seq: int
    deliveries: int


AbandonedHandler = Callable[[AbandonedJob], Awaitable[None]]


class JobQueue:
    """Producer and consumer side of the job queue.

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    async def enqueue(self, job: ProcessJob) -> int:
        """Queue a job; the same ``job_id`` inside the duplicate window is stored once."""
        what = f"queueing job for {job.video_id}"

        async def once() -> int:
            with nats_errors(what):
                ack = await self._mesh.js.publish(
                    job_subject(job.video_id),
                    job.model_dump_json().encode(),
                    stream=JOBS_STREAM,
                    headers={MSG_ID_HEADER: job.job_id},
                )
            return int(ack.seq)

        # The job id is the msg-id: retried through a leader election, it is queued once.
        return await retry_within(once, what=what)

    async def cancel(self, video_id: str) -> None:
        """Remove queued (not yet acknowledged) jobs of a video."""
        with nats_errors(f"cancelling jobs of {video_id}"):
            await self._mesh.jsm.purge_stream(JOBS_STREAM, subject=job_subject(video_id))

    async def pending(self) -> int:
        """Jobs waiting for a worker (consumer lag), for metrics and tests."""
        with nats_errors("reading job consumer"):
            info = await self._mesh.jsm.consumer_info(JOBS_STREAM, WORKERS_CONSUMER)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def backlog(self) -> tuple[int, float]:
        """``(jobs not yet settled, age in seconds of the oldest)`` for metrics."""
        with nats_errors("reading the job queue"):
            info = await self._mesh.jsm.stream_info(JOBS_STREAM)
        count = int(info.state.messages)
        if not count:
            return 0, 0.0
        # A work queue holds only unsettled jobs: the first message is the oldest one.
        with nats_errors("reading the oldest job"):
            raw = await self._mesh.jsm.get_msg(JOBS_STREAM, int(info.state.first_seq))
        try:
            queued = ProcessJob.model_validate_json(raw.data or b"").queued_at
        except ValidationError:
            return count, 0.0
        return count, max((datetime.now(UTC) - queued).total_seconds(), 0.0)

    async def consumer_limits(self) -> tuple[float, int]:
        """``(ack_wait seconds, max_deliver)`` of the provisioned workers' consumer."""
        with nats_errors("reading job consumer"):
            info = await self._mesh.jsm.consumer_info(JOBS_STREAM, WORKERS_CONSUMER)
        return float(info.config.ack_wait or 0), int(info.config.max_deliver or 0)

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """Bind to the durable consumer shared by every worker (provisioned beforehand)."""
        with nats_errors("binding the workers' consumer"):
            return await self._mesh.js.pull_subscribe_bind(
                durable=WORKERS_CONSUMER, stream=JOBS_STREAM
            )

    async def remove(self, stream_seq: int) -> None:
        """Delete one job message (an abandoned job that no consumer will deliver again)."""
        with nats_errors(f"removing job {stream_seq}"):
            await self._mesh.jsm.delete_msg(JOBS_STREAM, stream_seq)

    async def watch_abandoned(self, handler: AbandonedHandler, *, queue: str) -> Subscription:
        """Call ``handler`` for every job JetStream abandons (MAX_DELIVERIES advisory).

        One subscriber of the ``queue`` group handles each advisory. The callback only starts
        a task: a slow handler never blocks the connection's other subscriptions.
        """
        tasks: set[asyncio.Task[None]] = set()

        async def handle(msg: Msg) -> None:
            try:
                advisory = json.loads(msg.data)
                seq, deliveries = int(advisory["stream_seq"]), int(advisory["deliveries"])
                with nats_errors(f"reading abandoned job {seq}"):
                    raw = await self._mesh.jsm.get_msg(JOBS_STREAM, seq)
                job = ProcessJob.model_validate_json(raw.data or b"")
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                log.warning("ignoring a malformed max-deliveries advisory: %s", exc)
                return
            except Exception as exc:  # the message may be gone (cancelled meanwhile)
                log.info("abandoned job not readable any more: %s", exc)
                return
            await handler(AbandonedJob(job, seq, deliveries))

        async def spawn(msg: Msg) -> None:
            task = asyncio.get_running_loop().create_task(handle(msg))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        with nats_errors("watching abandoned jobs"):
            return await self._mesh.nc.subscribe(ABANDONED_JOBS_ADVISORY, queue=queue, cb=spawn)
