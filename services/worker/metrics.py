"""What operators watch on workers: job and stage durations, failures by code, the backlog.

:class:`WorkerMetrics` is a Prometheus collector the worker role (and ``culto up``) registers;
its metrics are created unregistered and yielded at scrape time, so several workers of one
process share one set and two processes (or tests) never collide in a global registry. Every
label value comes from the code (stage names, outcomes, error codes), never from a client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from enum import Enum

from prometheus_client import Counter, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from culto.resources import AsyncResource, stop_task
from mesh.jobs import JobQueue

log = logging.getLogger(__name__)

_JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200)
_STAGE_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600)


class Outcome(Enum):
    """How a job attempt ended (the ``outcome`` label)."""

    PROCESSED = "processed"
    FAILED = "failed"
    RETRIED = "retried"
    CANCELLED = "cancelled"


class WorkerMetrics(Collector):
    """Durations and failures recorded by the workers of one process."""

    def __init__(self) -> None:
        self.jobs = Histogram(
            "culto_job_duration_seconds",
            "Time from a job's start to its outcome, by outcome",
            ["outcome"],
            registry=None,
            buckets=_JOB_BUCKETS,
        )
        self.stages = Histogram(
            "culto_stage_duration_seconds",
            "Time spent in each pipeline stage (fetch, transcribe, analyse, store)",
            ["stage"],
            registry=None,
            buckets=_STAGE_BUCKETS,
        )
        self.failures = Counter(
            "culto_job_failures",
            "Videos failed for good, by error code",
            ["code"],
            registry=None,
        )

    def job(self, outcome: Outcome, seconds: float) -> None:
        """Record one job attempt."""
        self.jobs.labels(outcome.value).observe(seconds)

    def stage(self, name: str, seconds: float) -> None:
        """Record one stage run."""
        self.stages.labels(name).observe(seconds)

    def failed(self, code: str) -> None:
        """Count one video failed with ``code``."""
        self.failures.labels(code).inc()

    def collect(self) -> Iterator[Metric]:
        """The three families, at scrape time."""
        yield from self.jobs.collect()
        yield from self.stages.collect()
        yield from self.failures.collect()


class BacklogWatcher(AsyncResource, Collector):
    """Polls the job queue: jobs waiting, and the age of the oldest one.

    Reading JetStream at scrape time would make ``/metrics`` as slow as NATS; a poll every
    ``interval`` seconds keeps scrapes instant and NATS load constant.
    """

    def __init__(self, jobs: JobQueue, *, interval: float = 5.0) -> None:
        self._jobs = jobs
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.waiting = 0
        self.oldest_age = 0.0

    async def open(self) -> None:
        """Start polling."""
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def close(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        await stop_task(task)

    async def _poll(self) -> None:
        while True:
            try:
                self.waiting, self.oldest_age = await self._jobs.backlog()
            except Exception as exc:  # NATS away: keep the last figures, try again later
                log.debug("job backlog not readable: %s", exc)
            await asyncio.sleep(self._interval)

    def collect(self) -> Iterator[Metric]:
        """Two gauges."""
        yield GaugeMetricFamily(
            "culto_jobs_waiting", "Jobs queued or in progress (not yet settled)", value=self.waiting
        )
        yield GaugeMetricFamily(
            "culto_jobs_oldest_age_seconds",
            "Age of the oldest job still in the queue",
            value=self.oldest_age,
        )
