"""The video lifecycle's transitions and refusals, without NATS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from culto.errors import JobCancelled
from schemas.ids import new_video_id
from schemas.summary import SummaryDTO
from schemas.videos import ErrorInfo, TranscriptInput, VideoCreate, VideoRecord, VideoStatus
from services.videos import lifecycle
from services.videos.lifecycle import NO_CHANGE

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SUMMARY = SummaryDTO(word_count=3)
ERROR = ErrorInfo(code="no_transcript", message="no transcript is available")


def queued(job: str = "job-1") -> VideoRecord:
    body = VideoCreate(youtube_id="dQw4w9WgXcQ", title="Culto de domingo")
    return lifecycle.queue(lifecycle.draft(new_video_id(), body, now=T0), job, now=T0)


def processing(job: str = "job-1", percent: int = 0) -> VideoRecord:
    record = lifecycle.start(queued(job), job, now=T0)
    assert record is not None
    if percent:
        record = lifecycle.progress(record, job, percent, f"at {percent}", now=T0)
        assert record is not None
    return record


def test_draft_is_pending_without_a_job() -> None:
    body = VideoCreate(url="https://example.org/a.mp4", channel_id="igreja")
    record = lifecycle.draft(new_video_id(), body, now=T0)
    assert record.status is VideoStatus.PENDING and record.job_id is None
    assert record.url == "https://example.org/a.mp4" and record.channel_id == "igreja"
    assert record.created_at == record.updated_at == T0


def test_queue_gives_a_new_job_and_clears_the_outcome() -> None:
    record = queued()
    assert (record.status, record.progress, record.job_id) == (VideoStatus.QUEUED, 0, "job-1")
    assert record.status_message == lifecycle.QUEUED_MESSAGE
    done = lifecycle.finish(processing("job-1", 60), "job-1", SUMMARY, now=T0)
    assert done is not None
    later = T0 + timedelta(minutes=1)
    again = lifecycle.queue(done, "job-2", title="Novo título", transcript_format="vtt", now=later)
    assert (again.status, again.progress, again.summary, again.error) == (
        VideoStatus.QUEUED,
        0,
        None,
        None,
    )
    assert again.job_id == "job-2" and again.title == "Novo título"
    assert again.has_inline_transcript and again.transcript_format == "vtt"
    assert again.created_at == T0 and again.updated_at == later


def test_queue_keeps_an_earlier_inline_transcript_and_title() -> None:
    body = VideoCreate(
        youtube_id="dQw4w9WgXcQ", title="Culto", transcript=TranscriptInput(content="Amém")
    )
    first = lifecycle.queue(lifecycle.draft(new_video_id(), body), "job-1", transcript_format="txt")
    again = lifecycle.queue(first, "job-2")
    assert again.has_inline_transcript and again.transcript_format == "txt"
    assert again.title == "Culto"


def test_queue_refuses_the_same_job_id() -> None:
    with pytest.raises(ValueError, match="new job id"):
        lifecycle.queue(queued("job-1"), "job-1")


def test_start_then_redelivered_start_is_no_change() -> None:
    record = processing()
    assert record.status is VideoStatus.PROCESSING
    assert lifecycle.start(record, "job-1") is NO_CHANGE


@pytest.mark.parametrize("settle", ["finish", "fail"])
def test_start_of_a_settled_job_is_stale(settle: str) -> None:
    record = processing()
    settled = (
        lifecycle.finish(record, "job-1", SUMMARY)
        if settle == "finish"
        else lifecycle.fail(record, "job-1", ERROR)
    )
    assert settled is not None
    with pytest.raises(JobCancelled):
        lifecycle.start(settled, "job-1")


@pytest.mark.parametrize(
    "transition",
    [
        lambda r: lifecycle.start(r, "old-job"),
        lambda r: lifecycle.progress(r, "old-job", 50, "x"),
        lambda r: lifecycle.finish(r, "old-job", SUMMARY),
        lambda r: lifecycle.fail(r, "old-job", ERROR),
    ],
)
def test_every_job_transition_refuses_a_stale_job(transition: object) -> None:
    record = processing("new-job")
    with pytest.raises(JobCancelled, match="re-queued"):
        transition(record)  # type: ignore[operator]
    cancelled = lifecycle.cancel(record)
    assert cancelled is not None
    with pytest.raises(JobCancelled, match="deleted"):
        transition(cancelled.model_copy(update={"job_id": None}))  # type: ignore[operator]


def test_progress_rises_and_never_goes_back() -> None:
    record = processing(percent=40)
    assert lifecycle.progress(record, "job-1", 39, "Fetching transcript...") is NO_CHANGE
    same = lifecycle.progress(record, "job-1", 40, "at 40")
    assert same is NO_CHANGE
    text_only = lifecycle.progress(record, "job-1", None, "retrying in 2s")
    assert text_only is not None
    assert (text_only.progress, text_only.status_message) == (40, "retrying in 2s")
    up = lifecycle.progress(record, "job-1", 65, "Transcribing audio...")
    assert up is not None and (up.progress, up.status_message) == (65, "Transcribing audio...")


@pytest.mark.parametrize("percent", [-1, 101, 500])
def test_progress_out_of_range_is_refused(percent: int) -> None:
    with pytest.raises(ValueError, match="0-100"):
        lifecycle.progress(processing(), "job-1", percent, "x")


def test_progress_outside_processing_is_stale() -> None:
    with pytest.raises(JobCancelled):
        lifecycle.progress(queued(), "job-1", 10, "x")


def test_finish_once_per_job() -> None:
    done = lifecycle.finish(processing(percent=90), "job-1", SUMMARY)
    assert done is not None
    assert (done.status, done.progress, done.summary) == (VideoStatus.PROCESSED, 100, SUMMARY)
    assert done.status_message == lifecycle.PROCESSED_MESSAGE
    assert lifecycle.finish(done, "job-1", SUMMARY) is NO_CHANGE  # redelivered: no 2nd write


def test_finish_after_fail_and_fail_after_finish_are_stale() -> None:
    failed = lifecycle.fail(processing(), "job-1", ERROR)
    assert failed is not None
    with pytest.raises(JobCancelled):
        lifecycle.finish(failed, "job-1", SUMMARY)
    done = lifecycle.finish(processing(), "job-1", SUMMARY)
    assert done is not None
    with pytest.raises(JobCancelled):
        lifecycle.fail(done, "job-1", ERROR)


def test_finish_from_queued_is_stale() -> None:
    with pytest.raises(JobCancelled):
        lifecycle.finish(queued(), "job-1", SUMMARY)


def test_fail_once_keeps_progress_and_says_why() -> None:
    failed = lifecycle.fail(processing(percent=30), "job-1", ERROR)
    assert failed is not None
    assert (failed.status, failed.progress, failed.error) == (VideoStatus.FAILED, 30, ERROR)
    assert failed.status_message == ERROR.message
    assert lifecycle.fail(failed, "job-1", ERROR) is NO_CHANGE
    # a queued job may fail before it starts (e.g. poisoned before any worker took it)
    assert lifecycle.fail(queued(), "job-1", ERROR) is not None


def test_cancel_detaches_the_job_once() -> None:
    record = processing()
    cancelled = lifecycle.cancel(record, now=T0)
    assert cancelled is not None and cancelled.job_id is None
    assert lifecycle.cancel(cancelled) is NO_CHANGE


def test_results_are_validated_and_unknown_fields_refused() -> None:
    record = processing()
    with pytest.raises(TypeError, match="progres"):
        lifecycle.evolve(record, None, progres=10)
    with pytest.raises(ValidationError):
        lifecycle.evolve(record, None, status="DONE")
