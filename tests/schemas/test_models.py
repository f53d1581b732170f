"""Validation rules of the DTOs: ids, YouTube ids, progress, UTC timestamps, submit body, events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas import (
    ANY_EVENT_ADAPTER,
    ErrorEventDTO,
    HeartbeatEventDTO,
    SummaryDTO,
    SummaryReadyEventDTO,
    VideoCreate,
    VideoDeletedEventDTO,
    VideoDTO,
    VideoRef,
    VideoStatus,
    VideoStatusEventDTO,
    format_utc,
    is_video_id,
    new_video_id,
    parse_event,
)

VID = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"
YT = "dQw4w9WgXcQ"
WHEN = datetime(2025, 11, 5, 12, 0, 0, 123456, tzinfo=UTC)


def video(**overrides: Any) -> VideoDTO:
    fields: dict[str, Any] = {
        "id": VID,
        "status": "PROCESSING",
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    return VideoDTO.model_validate({**fields, **overrides})


def error_types(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {str(error["type"]) for error in exc.value.errors()}


# --- video ids ---------------------------------------------------------------------------------


def test_video_ids_are_canonicalised_to_lower_case() -> None:
    assert VideoRef(id=VID.upper()).id == VID
    assert video(id=VID.upper()).id == VID
    assert VideoDeletedEventDTO(video_id=VID.upper()).video_id == VID


def test_surrounding_whitespace_never_reaches_the_canonical_id() -> None:
    # Ids become NATS subject tokens: whatever is accepted must come out without whitespace.
    assert VideoRef(id=f" {VID}\n").id == VID


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "a.b",
        "*",
        ">",
        "a b",
        "",
        VID.replace("-", ""),  # 32 hex digits, but not the hyphenated form
        VID.replace("-", " ", 1),
        VID.replace("-", "\t", 1),
        VID[:-1] + ".",
        VID[:-1] + "*",
        VID[:-1] + ">",
        VID[:-1] + "g",
        f"{VID}.{VID}",
        f"culto.events.{VID}",
    ],
)
@pytest.mark.parametrize("model", [VideoRef, VideoDTO, VideoDeletedEventDTO])
def test_video_ids_that_are_not_uuids_are_rejected(bad: str, model: type[BaseModel]) -> None:
    field = "video_id" if model is VideoDeletedEventDTO else "id"
    data: dict[str, Any] = {field: bad}
    if model is VideoDTO:
        data.update(status="PENDING", created_at=WHEN, updated_at=WHEN)
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    assert exc.value.errors()[0]["loc"] == (field,)
    assert not is_video_id(bad)


def test_new_video_ids_are_canonical() -> None:
    assert is_video_id(new_video_id())
    assert not is_video_id(VID.upper())
    assert not is_video_id(None)


# --- YouTube ids and progress ------------------------------------------------------------------


@pytest.mark.parametrize("good", [YT, "abc_DEF-123", "___________", "-----------"])
def test_youtube_ids_of_eleven_url_safe_characters_are_accepted(good: str) -> None:
    assert VideoCreate(youtube_id=good).youtube_id == good
    assert video(youtube_id=good).youtube_id == good


@pytest.mark.parametrize(
    "bad", [YT[:-1], YT + "Q", YT[:-1] + "!", YT[:-1] + " ", YT[:-1] + ".", YT + "\n", "", "x" * 64]
)
def test_other_youtube_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError) as exc:
        VideoCreate(youtube_id=bad)
    assert error_types(exc) == {"string_pattern_mismatch"}


@pytest.mark.parametrize("progress", [0, 45, 100])
def test_progress_within_0_to_100_is_accepted(progress: int) -> None:
    assert video(progress=progress).progress == progress
    event = VideoStatusEventDTO(video_id=VID, status=VideoStatus.PROCESSING, progress=progress)
    assert event.progress == progress


@pytest.mark.parametrize("progress", [-1, 101, 1000])
def test_progress_outside_0_to_100_is_rejected(progress: int) -> None:
    with pytest.raises(ValidationError):
        video(progress=progress)
    with pytest.raises(ValidationError):
        VideoStatusEventDTO(video_id=VID, status=VideoStatus.PROCESSING, progress=progress)


def test_status_must_be_a_known_value() -> None:
    assert [s.value for s in VideoStatus] == [
        "PENDING",
        "QUEUED",
        "PROCESSING",
        "PROCESSED",
        "FAILED",
    ]
    with pytest.raises(ValidationError):
        video(status="DONE")


# --- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (WHEN, "2025-11-05T12:00:00.123Z"),
        (datetime(2025, 11, 5, 12, 0, 0, 123456), "2025-11-05T12:00:00.123Z"),  # naive = UTC
        (WHEN.astimezone(timezone(timedelta(hours=-3))), "2025-11-05T12:00:00.123Z"),
        (WHEN.astimezone(timezone(timedelta(hours=5, minutes=30))), "2025-11-05T12:00:00.123Z"),
        ("2025-11-05T09:00:00-03:00", "2025-11-05T12:00:00.000Z"),
        ("2025-11-05T12:00:00Z", "2025-11-05T12:00:00.000Z"),
        ("2025-11-05T12:00:00", "2025-11-05T12:00:00.000Z"),
    ],
)
def test_timestamps_serialise_as_utc_iso_8601_with_z(given: datetime | str, expected: str) -> None:
    dto = video(created_at=given, updated_at=given)
    assert dto.created_at.tzinfo is not None and dto.created_at.utcoffset() == timedelta(0)
    body = json.loads(dto.model_dump_json())
    assert body["created_at"] == body["updated_at"] == expected
    event = HeartbeatEventDTO.model_validate({"timestamp": given})
    assert json.loads(event.model_dump_json())["timestamp"] == expected


def test_default_event_timestamps_are_now_in_utc() -> None:
    before = datetime.now(UTC)
    stamp = HeartbeatEventDTO().timestamp
    assert stamp.tzinfo is not None and before <= stamp <= datetime.now(UTC)
    assert json.loads(HeartbeatEventDTO().model_dump_json())["timestamp"].endswith("Z")


def test_format_utc_takes_naive_as_utc() -> None:
    assert format_utc(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05.000Z"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (datetime(2025, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC), "2025-01-02T03:04:05.999Z"),  # cut
        (datetime(999, 1, 2, 3, 4, 5, 1_000, tzinfo=UTC), "0999-01-02T03:04:05.001Z"),  # 4 digits
        (datetime(2025, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))), "2024-12-31T23:00:00.000Z"),
    ],
)
def test_format_utc_truncates_to_milliseconds_with_a_four_digit_year(
    given: datetime, expected: str
) -> None:
    assert format_utc(given) == expected


# --- submit body -------------------------------------------------------------------------------


def test_video_create_needs_a_youtube_id_a_url_or_a_transcript() -> None:
    with pytest.raises(ValidationError, match="give a youtube_id or url, or a transcript"):
        VideoCreate()
    with pytest.raises(ValidationError, match="give a youtube_id or url, or a transcript"):
        VideoCreate.model_validate({"title": "Culto", "youtube_id": None, "url": None})
    assert VideoCreate(youtube_id=YT).url is None
    by_url = VideoCreate.model_validate({"url": f"https://www.youtube.com/watch?v={YT}"})
    assert by_url.youtube_id is None and by_url.url is not None
    assert by_url.reprocess is False


def test_a_pasted_transcript_alone_is_a_submission_and_needs_a_title() -> None:
    pasted = {"transcript": {"format": "txt", "content": "Deus é amor."}}
    body = VideoCreate.model_validate({**pasted, "title": "  Culto de domingo  "})
    assert body.title == "Culto de domingo" and body.youtube_id is None and body.url is None
    with pytest.raises(ValidationError) as caught:
        VideoCreate.model_validate({**pasted, "title": "   "})
    [error] = caught.value.errors()
    assert error["loc"] == ("title",) and "give a title" in error["msg"]
    # With a video the title stays optional.
    assert VideoCreate.model_validate({**pasted, "youtube_id": YT}).title is None


@pytest.mark.parametrize("extra", [{"status": "PROCESSED"}, {"id": VID}, {"progress": 100}])
def test_video_create_forbids_extra_fields(extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as exc:
        VideoCreate.model_validate({"youtube_id": YT, **extra})
    assert error_types(exc) == {"extra_forbidden"}


def test_video_create_checks_the_inline_transcript() -> None:
    body = VideoCreate.model_validate(
        {"youtube_id": YT, "transcript": {"format": "vtt", "content": "WEBVTT"}}
    )
    assert body.transcript is not None and body.transcript.format == "vtt"
    for transcript in ({"format": "doc", "content": "x"}, {"content": ""}, {"x": 1}):
        with pytest.raises(ValidationError):
            VideoCreate.model_validate({"youtube_id": YT, "transcript": transcript})


# --- events ------------------------------------------------------------------------------------

# JSON carries milliseconds, so a round trip only compares equal for a millisecond timestamp.
AT = WHEN.replace(microsecond=123_000)
EVENTS: list[BaseModel] = [
    VideoStatusEventDTO(
        timestamp=AT, video_id=VID, status=VideoStatus.PROCESSING, progress=45, message="x"
    ),
    SummaryReadyEventDTO(timestamp=AT, video_id=VID, summary=SummaryDTO(word_count=12)),
    ErrorEventDTO(timestamp=AT, video_id=VID, code="download_failed", message="x", stage="asr"),
    VideoDeletedEventDTO(timestamp=AT, video_id=VID),
    HeartbeatEventDTO(timestamp=AT),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_the_union_parses_each_event_by_type(event: BaseModel) -> None:
    raw = event.model_dump_json()
    parsed = ANY_EVENT_ADAPTER.validate_json(raw)
    assert type(parsed) is type(event)
    assert parsed == event
    assert ANY_EVENT_ADAPTER.validate_python(json.loads(raw)) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_event_json_is_type_first(event: BaseModel) -> None:
    raw = event.model_dump_json()
    event_type = json.loads(raw)["type"]
    assert raw.startswith(f'{{"type":"{event_type}","timestamp":"')
    assert list(json.loads(raw))[:2] == ["type", "timestamp"]


@pytest.mark.parametrize(
    "data",
    [
        {"type": "video.unknown", "video_id": VID},
        {"type": "VIDEO.STATUS", "video_id": VID, "status": "QUEUED", "progress": 0},
        {"video_id": VID, "status": "QUEUED", "progress": 0},
    ],
)
def test_the_union_rejects_unknown_or_missing_types(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as exc:
        ANY_EVENT_ADAPTER.validate_python(data)
    assert error_types(exc) <= {"union_tag_invalid", "union_tag_not_found"}


def test_each_type_is_validated_by_its_own_model() -> None:
    with pytest.raises(ValidationError) as exc:
        ANY_EVENT_ADAPTER.validate_python({"type": "video.status", "video_id": "../x"})
    assert {error["loc"][0] for error in exc.value.errors()} == {"video.status"}


def test_stored_events_exclude_heartbeats() -> None:
    assert parse_event(EVENTS[0].model_dump_json()) == EVENTS[0]
    with pytest.raises(ValidationError):
        parse_event(HeartbeatEventDTO().model_dump_json())
