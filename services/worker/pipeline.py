"""The stage pipeline a worker runs for one job, and the context stages share.

A stage owns a slice of the overall progress (``span``); it reports progress as a fraction of
its own work and the context maps that onto the 0-100 % shown to users.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from culto.errors import ConfigError
from mesh.artifacts import ArtifactStore
from schemas.jobs import ProcessJob
from schemas.summary import SummaryDTO
from schemas.transcripts import Transcript
from schemas.videos import VideoRecord
from services.transcripts.fetch_policy import DEFAULT_FETCH_POLICY, FetchPolicy

T = TypeVar("T")

Reporter = Callable[[int, str], Awaitable[None]]
"""Publishes one progress report: (absolute percent, message)."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What a worker needs to know; built by the role from its settings.

    Attributes:
        ack_wait: Seconds JetStream waits for a progress ping before redelivering a job
            (must match the ``culto-workers`` consumer).
        max_deliver: Deliveries of one job before it fails for good (likewise).
        max_transcript_bytes: Largest transcript a job may carry.
        whisper_model: Speech-recognition model; ``None`` = the bundled base model.
        shutdown_grace: Seconds a running job may take to finish when the worker stops, before
            it is handed back (keep it below the orchestrator's termination grace period).
        fetch_policy: Where audio may be downloaded from (allowed hosts, public addresses).
    """

    ack_wait: float = 30.0
    max_deliver: int = 5
    max_transcript_bytes: int = 5 * 1024 * 1024
    whisper_model: str | None = None
    shutdown_grace: float = 10.0
    fetch_policy: FetchPolicy = DEFAULT_FETCH_POLICY

    def __post_init__(self) -> None:
        if self.ack_wait <= 0:
            raise ConfigError("CULTO_JOB_ACK_WAIT: must be positive")
        if self.max_deliver < 1:
            raise ConfigError("CULTO_JOB_MAX_DELIVER: must be at least 1")
        if self.max_transcript_bytes < 1:
            raise ConfigError("CULTO_MAX_TRANSCRIPT_BYTES: must be positive")
        if self.shutdown_grace < 0:
            raise ConfigError("shutdown_grace: must not be negative")


@dataclass
class JobContext:
    """What one job's stages read and produce.

    Attributes:
        video: The record as it was when the job started.
        job: The job message.
        config: The worker's configuration.
        artifacts: Object store access.
        workdir: A private scratch directory (removed after the job).
        report: Publishes ``video.status`` with an absolute percentage.
        ensure_current: Raises :class:`JobCancelled` if the video is gone or re-queued.
        transcript: Set by the fetch/transcribe stages.
        needs_audio: Set when no text transcript exists and audio must be recognised.
        summary: Set by the analyse stage.
    """

    video: VideoRecord
    job: ProcessJob
    config: WorkerConfig
    artifacts: ArtifactStore
    workdir: Path
    report: Reporter
    ensure_current: Callable[[], Awaitable[None]]
    transcript: Transcript | None = None
    needs_audio: bool = False
    summary: SummaryDTO | None = None
    span: tuple[int, int] = (0, 100)
    stage: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    _last_percent: int = field(default=-1, repr=False)
    _last_message: str = field(default="", repr=False)

    async def progress(self, fraction: float, message: str) -> None:
        """Report progress within the current stage (``fraction`` 0..1); never goes back."""
        lo, hi = self.span
        percent = lo + round((hi - lo) * min(max(fraction, 0.0), 1.0))
        if percent < self._last_percent or (
            percent == self._last_percent and message == self._last_message
        ):
            return
        self._last_percent, self._last_message = percent, message
        await self.report(percent, message)

    async def in_thread(
        self, fn: Callable[..., T], *args: object, message: str, **kwargs: object
    ) -> T:
        """Run blocking ``fn`` in a thread, bridging its ``on_progress`` reports to events.

        ``fn`` receives ``on_progress=(fraction, message)``; reports are forwarded in order.
        """
        loop = asyncio.get_running_loop()
        reports: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()

        def on_progress(fraction: float, text: str) -> None:
            loop.call_soon_threadsafe(reports.put_nowait, (fraction, text or message))

        async def pump() -> None:
            while (item := await reports.get()) is not None:
                await self.progress(*item)

        pumping = loop.create_task(pump())
        try:
            return await asyncio.to_thread(fn, *args, on_progress=on_progress, **kwargs)
        finally:
            loop.call_soon_threadsafe(reports.put_nowait, None)
            await pumping


class Stage(Protocol):
    """One step of the pipeline.

    Attributes:
        name: Short id used in error events (``fetch``, ``transcribe``...).
        weight: Share of the overall progress bar.
        start_message: Shown when the stage starts.
    """

    name: str
    weight: int
    start_message: str

    async def run(self, ctx: JobContext) -> None:
        """Do the work; raise a :class:`~culto.errors.PipelineError` subclass on failure."""


async def run_pipeline(stages: Sequence[Stage], ctx: JobContext) -> None:
    """Run ``stages`` in order, giving each its progress span.

    On failure the exception propagates and ``ctx.stage`` names the stage that failed.
    """
    total = sum(s.weight for s in stages) or 1
    done = 0
    for stage in stages:
        await ctx.ensure_current()
        lo = round(100 * done / total)
        done += stage.weight
        hi = round(100 * done / total)
        # The last percent belongs to the final PROCESSED status, not to a stage.
        ctx.span = (lo, min(hi, 99))
        ctx.stage = stage.name
        started = time.monotonic()
        await ctx.progress(0.0, stage.start_message)
        await stage.run(ctx)
        ctx.stage_seconds[stage.name] = time.monotonic() - started
