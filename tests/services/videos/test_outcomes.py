"""fail_job: which errors mean 'nothing left to mark' and which must reach the caller."""

from __future__ import annotations

from typing import Any, cast

import pytest

from culto.errors import JobCancelled, MeshUnavailable, NotFound, PermanentStageError
from mesh.events import EventPublisher
from mesh.replay import EventReader
from mesh.videos import VideoStore
from services.videos.outcomes import fail_job


class _Store:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def update(self, video_id: str, mutate: Any) -> Any:
        raise self.error


class _Events:
    published: list[Any]

    def __init__(self) -> None:
        self.published = []

    async def publish(self, *args: Any, **kwargs: Any) -> None:
        self.published.append(args)

    async def publish_status(self, *args: Any, **kwargs: Any) -> None:
        self.published.append(args)


async def _fail(error: Exception, events: _Events) -> object:
    return await fail_job(
        cast(VideoStore, _Store(error)),
        cast(EventPublisher, events),
        cast(EventReader, None),
        video_id="v",
        job_id="j",
        error=PermanentStageError("gave up"),
        stage="fetch",
    )


@pytest.mark.parametrize("gone", [NotFound("deleted"), JobCancelled("re-queued")])
async def test_a_deleted_or_requeued_video_has_nothing_to_mark(gone: Exception) -> None:
    events = _Events()
    assert await _fail(gone, events) is None
    assert events.published == []


async def test_mesh_trouble_reaches_the_caller_so_the_job_is_retried_not_dropped() -> None:
    # Regression (issue 9, defect 1): the worker caught every CultoError here as "deleted",
    # so a NATS outage while failing a job terminated it and stranded the video.
    with pytest.raises(MeshUnavailable):
        await _fail(MeshUnavailable("down"), _Events())
