"""End-to-end: ``analyze`` on full PT and EN fixture sermons, and its edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from culto.errors import TranscriptError
from schemas.summary import SummaryDTO
from schemas.transcripts import Transcript, TranscriptSegment
from services.analysis import analyze
from services.analysis.text import tokens

SERMONS = Path(__file__).resolve().parents[2] / "data" / "sermons"
SECONDS_PER_LINE = 6.0


def _transcript(name: str, *, timed: bool = True, language: str | None = None) -> Transcript:
    lines = (SERMONS / name).read_text(encoding="utf-8").splitlines()
    segments = [
        TranscriptSegment(
            start=i * SECONDS_PER_LINE if timed else None,
            end=(i + 1) * SECONDS_PER_LINE if timed else None,
            text=line,
        )
        for i, line in enumerate(lines)
    ]
    return Transcript(source="file", language=language, segments=segments)


def _segment_start_of(transcript: Transcript, sentence: str) -> float | None:
    for segment in transcript.segments:
        if sentence[:40] in segment.text:
            return segment.start
    raise AssertionError(f"sentence not found in any segment: {sentence!r}")


@pytest.fixture(scope="module")
def pt_summary() -> SummaryDTO:
    return analyze(_transcript("pt_fe_que_vence.txt"), title="A fé que vence o mundo")


@pytest.fixture(scope="module")
def en_summary() -> SummaryDTO:
    return analyze(_transcript("en_grace_that_forgives.txt"))


def test_portuguese_sermon_end_to_end(pt_summary: SummaryDTO) -> None:
    summary = pt_summary
    transcript = _transcript("pt_fe_que_vence.txt")
    assert summary.language == "pt"
    assert 900 <= summary.word_count <= 1000
    assert summary.speaker == "Pastor João Carlos Silva"

    assert summary.themes[0] == "Fé"
    assert {"Oração", "Graça", "Esperança"} <= set(summary.themes)
    assert len(summary.themes) <= 6

    refs = {p.reference: p for p in summary.passages}
    assert {"Hebreus 11:1", "Romanos 10:17", "Efésios 2:8-9", "Tiago 1:2-4"} <= set(refs)
    heb = refs["Hebreus 11:6"]
    assert (heb.book_id, heb.chapter, heb.verse_start, heb.verse_end) == ("HEB", 11, 6, 6)
    assert heb.mentions == 2
    assert len(heb.timestamps) == 2 and heb.timestamps == sorted(heb.timestamps)
    assert refs["Hebreus 11:1"].timestamps == [3 * SECONDS_PER_LINE]
    assert summary.passages[0].reference == "Hebreus 11:1"  # first-mention order

    authors = [c.author for c in summary.citations]
    assert authors == ["Agostinho", "Spurgeon", "C. S. Lewis"]
    assert summary.citations[0].text.startswith("a fé é crer no que não vemos")
    assert summary.citations[0].timestamp == 8 * SECONDS_PER_LINE

    assert 3 <= len(summary.key_points) <= 7
    assert len(summary.key_point_timestamps) == len(summary.key_points)
    for point, when in zip(summary.key_points, summary.key_point_timestamps, strict=True):
        assert point in transcript.text
        assert when == _segment_start_of(transcript, point)


def test_english_sermon_end_to_end(en_summary: SummaryDTO) -> None:
    summary = en_summary
    transcript = _transcript("en_grace_that_forgives.txt")
    assert summary.language == "en"
    assert summary.speaker == "Pastor Michael Turner"
    assert summary.themes[:2] == ["Grace", "Forgiveness"]
    assert {"Romans 5:8", "1 John 1:9", "Titus 2:11-12"} <= {p.reference for p in summary.passages}
    assert [c.author for c in summary.citations] == ["C. S. Lewis", "Martin Luther", "Spurgeon"]
    assert 3 <= len(summary.key_points) <= 7
    assert all(p in transcript.text for p in summary.key_points)
    assert not any("subscribe" in p or "Good morning" in p for p in summary.key_points)


def test_summary_round_trips_as_json(pt_summary: SummaryDTO) -> None:
    assert SummaryDTO.model_validate_json(pt_summary.model_dump_json()) == pt_summary


def test_deterministic() -> None:
    transcript = _transcript("pt_fe_que_vence.txt")
    assert analyze(transcript) == analyze(transcript)


def test_untimed_transcript_has_null_timestamps() -> None:
    summary = analyze(_transcript("en_grace_that_forgives.txt", timed=False))
    assert summary.key_point_timestamps == [None] * len(summary.key_points)
    assert all(p.timestamps == [] for p in summary.passages)
    assert all(c.timestamp is None for c in summary.citations)


def test_language_argument_wins() -> None:
    summary = analyze(_transcript("pt_fe_que_vence.txt"), language="en")
    assert summary.language == "en"


def test_speaker_from_title_and_description() -> None:
    transcript = _transcript("en_grace_that_forgives.txt")
    assert analyze(transcript, title="Grace | Pastor Rick").speaker == "Pastor Rick"
    assert analyze(transcript, description="Preached by Rev. Anna Lee").speaker == "Rev. Anna Lee"


def test_speaker_is_null_without_a_name() -> None:
    transcript = Transcript(
        segments=[TranscriptSegment(text="O pastor disse que a fé vem pelo ouvir a Palavra.")]
    )
    assert analyze(transcript).speaker is None


def test_plain_text_single_segment() -> None:
    text = (SERMONS / "pt_fe_que_vence.txt").read_text(encoding="utf-8")
    summary = analyze(Transcript(segments=[TranscriptSegment(text=text)]))
    assert summary.word_count == analyze(_transcript("pt_fe_que_vence.txt")).word_count
    assert 3 <= len(summary.key_points) <= 7


@pytest.mark.parametrize(
    "segments",
    [[], [TranscriptSegment(text="")], [TranscriptSegment(text="  ... !! ")]],
)
def test_transcript_without_words_is_rejected(segments: list[TranscriptSegment]) -> None:
    with pytest.raises(TranscriptError):
        analyze(Transcript(segments=segments))


def test_lowercase_unpunctuated_captions() -> None:
    """YouTube automatic captions: no capitals, no punctuation, short rolling cues."""
    raw = (SERMONS / "pt_fe_que_vence.txt").read_text(encoding="utf-8").lower()
    words = "".join(ch for ch in raw if ch.isalnum() or ch.isspace() or ch == ":").split()
    segments = [
        TranscriptSegment(start=i * 3.0, text=" ".join(words[j : j + 8]))
        for i, j in enumerate(range(0, len(words), 8))
    ]
    transcript = Transcript(source="youtube", segments=segments)
    summary = analyze(transcript)
    assert summary.language == "pt"
    assert summary.themes[0] == "Fé"
    assert 3 <= len(summary.key_points) <= 7
    # Key points are shown with capitals and sentence punctuation restored, so compare words.
    spoken = " ".join(tokens(transcript.text))
    assert all(" ".join(tokens(p)) in spoken for p in summary.key_points)
    assert all(t is not None for t in summary.key_point_timestamps)
    assert "Agostinho" in [c.author for c in summary.citations]
    # Read from the self-introduction, without relying on capital letters.
    assert summary.speaker == "Pastor João Carlos Silva"
