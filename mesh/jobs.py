"""The ``CULTO_JOBS`` work queue: enqueue, cancel, and the workers' shared pull consumer."""

from __future__ import annotations

from nats.js import JetStreamContext

from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.events import MSG_ID_HEADER
from mesh.subjects import JOBS_STREAM, WORKERS_CONSUMER, job_subject
from schemas.jobs import ProcessJob


class JobQueue:
    """Producer and consumer side of the job queue.

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    async def enqueue(self, job: ProcessJob) -> int:
        """Queue a job; the same ``job_id`` inside the duplicate window is stored once."""
        with nats_errors(f"queueing job for {job.video_id}"):
            ack = await self._mesh.js.publish(
                job_subject(job.video_id),
                job.model_dump_json().encode(),
                stream=JOBS_STREAM,
                headers={MSG_ID_HEADER: job.job_id},
            )
        return int(ack.seq)

    async def cancel(self, video_id: str) -> None:
        """Remove queued (not yet acknowledged) jobs of a video."""
        with nats_errors(f"cancelling jobs of {video_id}"):
            await self._mesh.jsm.purge_stream(JOBS_STREAM, subject=job_subject(video_id))

    async def pending(self) -> int:
        """Jobs waiting for a worker (consumer lag), for metrics and tests."""
        with nats_errors("reading job consumer"):
            info = await self._mesh.jsm.consumer_info(JOBS_STREAM, WORKERS_CONSUMER)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """Bind to the durable consumer shared by every worker (provisioned beforehand)."""
        with nats_errors("binding the workers' consumer"):
            return await self._mesh.js.pull_subscribe_bind(
                durable=WORKERS_CONSUMER, stream=JOBS_STREAM
            )
