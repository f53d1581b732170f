"""Offsets point at the matched text; references are normalised in the requested language."""

from __future__ import annotations

import unicodedata

import pytest

from services.analysis.bible import PassageMention, find_passages


def spans(text: str, language: str | None = None) -> list[str]:
    return [text[m.start : m.end] for m in find_passages(text, language)]  # type: ignore[arg-type]


def test_offsets_written_and_lists() -> None:
    text = "Leia Romanos 12:1-2 e 5:8, depois Jo 3:16, 18."
    assert spans(text, "pt") == ["Romanos 12:1-2", "5:8", "Jo 3:16", "18"]


def test_offsets_spoken_and_prefixed() -> None:
    text = "Abram em primeira Coríntios capítulo 13, versículos 4 a 7, por favor."
    assert spans(text, "pt") == ["primeira Coríntios capítulo 13, versículos 4 a 7"]


def test_offsets_survive_decomposed_accents() -> None:
    text = unicodedata.normalize("NFD", "Êxodo 14:14 e João 3:16 — fé!")
    found = find_passages(text, "pt")
    assert [m.book_id for m in found] == ["EXO", "JHN"]
    assert [text[m.start : m.end] for m in found] == [
        unicodedata.normalize("NFD", "Êxodo 14:14"),
        unicodedata.normalize("NFD", "João 3:16"),
    ]


def test_mentions_are_in_text_order() -> None:
    found = find_passages("Jo 1:1; Gn 1:1. Depois Ap 22:21 e Sl 23.", "pt")
    assert [m.start for m in found] == sorted(m.start for m in found)
    assert [m.book_id for m in found] == ["JHN", "GEN", "REV", "PSA"]


@pytest.mark.parametrize(
    ("text", "language", "reference"),
    [
        ("Jo 3.16", "pt", "João 3:16"),
        ("Jo 3.16", None, "João 3:16"),
        ("rm 8:28-30", "pt", "Romanos 8:28-30"),
        ("1 Co 13", "pt", "1 Coríntios 13"),
        ("II Tm 1:7", "pt", "2 Timóteo 1:7"),
        ("Sl 23", "pt", "Salmos 23"),
        ("Ct 2:4", "pt", "Cânticos 2:4"),
        ("John 3:16", "en", "John 3:16"),
        ("1 Cor 13:4-7", "en", "1 Corinthians 13:4-7"),
        ("Psalm 23", "en", "Psalm 23"),
        ("Romanos 8:28", "en", "Romans 8:28"),
        ("Romans 8:28", "pt", "Romanos 8:28"),
        ("Jude 3", "en", "Jude 1:3"),
    ],
)
def test_reference_normalisation(text: str, language: str | None, reference: str) -> None:
    found = find_passages(text, language)  # type: ignore[arg-type]
    assert [m.reference for m in found] == [reference]


def test_mention_is_frozen_value() -> None:
    mention = find_passages("João 3:16", "pt")[0]
    assert mention == PassageMention("JHN", 3, 16, 16, "João 3:16", 0, 9)
    with pytest.raises(AttributeError):
        mention.chapter = 4  # type: ignore[misc]
