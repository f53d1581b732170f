"""Text helpers, sentence splitting and the offset-to-time timeline."""

from __future__ import annotations

import pytest

from schemas.transcripts import Transcript, TranscriptSegment
from services.analysis.sentences import MAX_WORDS, split_sentences
from services.analysis.text import fold, fold_same_length, tokens, word_count
from services.analysis.timeline import Timeline


def test_fold_strips_accents_and_case() -> None:
    assert fold("Oração FÉ Coríntios João") == "oracao fe corintios joao"
    assert fold("plain ascii") == "plain ascii"


def test_fold_same_length_keeps_offsets() -> None:
    text = "Ação de Graças em İstanbul"
    folded = fold_same_length(text)
    assert len(folded) == len(text)
    assert folded.startswith("acao de gracas")


def test_word_count_and_tokens() -> None:
    text = "Bem-aventurados os que creem, disse Jesus em Mateus 5:3. Don't worry!"
    assert word_count(text) == 12
    assert tokens("Fé e ORAÇÃO") == ["fe", "e", "oracao"]
    assert word_count("  \n ... !!! ") == 0


def _texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_abbreviations_and_references_do_not_split() -> None:
    text = (
        "Bom dia, igreja! O Pr. João leu 1 Co 13.4 e depois 1 Co. 13 versículo 5. "
        "Como disse C. S. Lewis, o amor é paciente. Leia o cap. 3, v. 16 de João. "
        "O Sr. Antônio e a Dra. Maria oraram. Ele nos amou etc. e nos salvou. Fiquem de pé. "
        "Cristo morreu por nós. Amém."
    )
    assert _texts(text) == [
        "Bom dia, igreja!",
        "O Pr. João leu 1 Co 13.4 e depois 1 Co. 13 versículo 5.",
        "Como disse C. S. Lewis, o amor é paciente.",
        "Leia o cap. 3, v. 16 de João.",
        "O Sr. Antônio e a Dra. Maria oraram.",
        "Ele nos amou etc. e nos salvou.",
        "Fiquem de pé.",
        "Cristo morreu por nós.",
        "Amém.",
    ]


def test_english_sentences_and_questions() -> None:
    text = 'Dr. Smith said "grace is free." Do you believe it? I do! Rev. Jones agreed.'
    assert _texts(text) == [
        'Dr. Smith said "grace is free."',
        "Do you believe it?",
        "I do!",
        "Rev. Jones agreed.",
    ]


def test_offsets_point_into_the_text() -> None:
    text = "  Primeira frase aqui.   Segunda frase, com vírgula!  "
    for sentence in split_sentences(text):
        assert text[sentence.start : sentence.end] == sentence.text


def test_unpunctuated_captions_become_pseudo_sentences() -> None:
    chunks = [f"a palavra de deus fala sobre fé e esperança parte {i}" for i in range(40)]
    transcript = Transcript(segments=[TranscriptSegment(text=c) for c in chunks])
    timeline = Timeline.from_transcript(transcript)
    sentences = split_sentences(timeline.text, timeline.boundaries())
    assert len(sentences) > 5
    assert all(s.words <= MAX_WORDS for s in sentences)
    # Cuts fall on segment boundaries, so every piece starts where a caption starts.
    assert all(s.start in timeline.offsets for s in sentences)


def test_paragraph_breaks_split() -> None:
    assert _texts("Primeiro parágrafo sem ponto\n\nSegundo parágrafo") == [
        "Primeiro parágrafo sem ponto",
        "Segundo parágrafo",
    ]


@pytest.mark.parametrize(
    ("offset", "expected"), [(0, 0.0), (5, 0.0), (6, 4.5), (12, 4.5), (13, None), (30, None)]
)
def test_timeline_maps_offsets_to_segment_starts(offset: int, expected: float | None) -> None:
    transcript = Transcript(
        segments=[
            TranscriptSegment(start=0.0, text="Hello"),
            TranscriptSegment(start=4.5, text="church"),
            TranscriptSegment(text=""),
            TranscriptSegment(text="no time"),
        ]
    )
    timeline = Timeline.from_transcript(transcript)
    assert timeline.text == transcript.text == "Hello church no time"
    assert timeline.time_at(offset) == expected


def test_timeline_without_segments() -> None:
    timeline = Timeline.from_transcript(Transcript())
    assert timeline.text == ""
    assert timeline.time_at(0) is None
