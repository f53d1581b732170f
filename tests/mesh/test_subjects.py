"""Subject builders refuse anything that is not a canonical id or known type."""

from __future__ import annotations

import pytest

from culto.errors import InvalidInput
from mesh.subjects import (
    event_filters,
    event_subject,
    job_subject,
    parse_event_subject,
    video_token,
)

VID = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "*",
        ">",
        "a.b",
        f"{VID}.>",
        f"{VID} ",
        f" {VID}",
        f"{VID}\n",
        "3F2B8C1E-5D4A-4C7B-9E1F-0A2B3C4D5E6F",  # not canonical: callers must normalise first
        "../../etc/passwd",
        "3f2b8c1e5d4a4c7b9e1f0a2b3c4d5e6f",
        "x" * 500,
    ],
)
def test_unsafe_video_tokens_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        video_token(bad)
    with pytest.raises(InvalidInput):
        event_subject(bad, "video.status")
    with pytest.raises(InvalidInput):
        job_subject(bad)


def test_subjects_are_built_and_parsed() -> None:
    assert event_subject(VID, "video.status") == f"culto.events.{VID}.video.status"
    assert job_subject(VID) == f"culto.jobs.process.{VID}"
    assert parse_event_subject(f"culto.events.{VID}.summary.ready") == (VID, "summary.ready")
    assert parse_event_subject("culto.events.nope.video.status") is None
    assert parse_event_subject(f"culto.events.{VID}.made.up") is None


def test_unknown_event_types_are_refused() -> None:
    with pytest.raises(InvalidInput):
        event_subject(VID, "video.*")
    with pytest.raises(InvalidInput):
        event_filters([VID], [">"])


def test_filters_cover_videos_and_types() -> None:
    assert event_filters() == ["culto.events.*.>"]
    assert event_filters([VID]) == [f"culto.events.{VID}.>"]
    assert event_filters([VID, VID], ["error", "video.status"]) == [
        f"culto.events.{VID}.error",
        f"culto.events.{VID}.video.status",
    ]
    assert event_filters([], ["error"]) == ["culto.events.*.error"]
