"""The transcription worker: a durable pull consumer on ``CULTO_JOBS`` running a stage pipeline."""

from services.worker.pipeline import JobContext, Stage, WorkerConfig, run_pipeline
from services.worker.stages import default_stages
from services.worker.worker import Worker, backoff

__all__ = [
    "JobContext",
    "Stage",
    "Worker",
    "WorkerConfig",
    "backoff",
    "default_stages",
    "run_pipeline",
]
