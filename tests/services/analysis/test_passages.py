"""Aggregating finder mentions into passages with counts and timestamps."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.transcripts import Transcript, TranscriptSegment
from services.analysis.passages import aggregate_passages
from services.analysis.timeline import Timeline


@dataclass(frozen=True)
class FakeMention:
    """Stands in for ``services.analysis.bible.PassageMention`` (same fields)."""

    book_id: str
    chapter: int
    verse_start: int | None
    verse_end: int | None
    reference: str
    start: int
    end: int


def _timeline() -> Timeline:
    segments = [
        TranscriptSegment(start=0.0, text="Abram em João 3:16."),  # offsets 0-18
        TranscriptSegment(start=10.0, text="Leia João 3:16 de novo e Salmo 23."),  # 20-53
        TranscriptSegment(start=20.0, text="Outra vez João 3.16!"),  # 55-74
    ]
    return Timeline.from_transcript(Transcript(segments=segments))


def test_mentions_are_grouped_with_counts_and_timestamps() -> None:
    timeline = _timeline()
    text = timeline.text
    jn = [text.find("João 3:16"), text.find("João 3:16", 10), text.find("João 3.16")]
    mentions = [
        FakeMention("PSA", 23, None, None, "Salmos 23", text.find("Salmo 23"), 0),
        FakeMention("JHN", 3, 16, 16, "João 3:16", jn[2], 0),
        FakeMention("JHN", 3, 16, 16, "João 3:16", jn[0], 0),
        FakeMention("JHN", 3, 16, 16, "João 3:16", jn[1], 0),
    ]
    passages = aggregate_passages(mentions, timeline)
    assert [p.reference for p in passages] == ["João 3:16", "Salmos 23"]
    john, psalm = passages
    assert john.mentions == 3
    assert john.timestamps == [0.0, 10.0, 20.0]
    assert (john.book_id, john.chapter, john.verse_start, john.verse_end) == ("JHN", 3, 16, 16)
    assert psalm.mentions == 1
    assert psalm.timestamps == [10.0]
    assert psalm.verse_start is None


def test_same_segment_twice_gives_one_timestamp() -> None:
    mentions = [
        FakeMention("ROM", 8, 28, 30, "Romanos 8:28-30", 2, 0),
        FakeMention("ROM", 8, 28, 30, "Romanos 8:28-30", 8, 0),
    ]
    (passage,) = aggregate_passages(mentions, _timeline())
    assert passage.mentions == 2
    assert passage.timestamps == [0.0]


def test_different_ranges_are_different_passages() -> None:
    mentions = [
        FakeMention("ROM", 8, 28, 28, "Romanos 8:28", 0, 0),
        FakeMention("ROM", 8, 28, 30, "Romanos 8:28-30", 5, 0),
        FakeMention("ROM", 8, None, None, "Romanos 8", 9, 0),
    ]
    assert len(aggregate_passages(mentions)) == 3


def test_no_timeline_or_unknown_times() -> None:
    mention = FakeMention("GEN", 1, 1, 1, "Gênesis 1:1", 0, 0)
    assert aggregate_passages([mention])[0].timestamps == []
    untimed = Timeline.from_transcript(Transcript(segments=[TranscriptSegment(text="Gn 1:1")]))
    assert aggregate_passages([mention], untimed)[0].timestamps == []


def test_invalid_mentions_are_dropped() -> None:
    bad = FakeMention("JHN", 999, 1, 1, "João 999:1", 0, 0)
    assert aggregate_passages([bad]) == []
