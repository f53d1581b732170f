"""Versification and book tables: totals, range validation, display names."""

from __future__ import annotations

import pytest

from services.analysis.bible import book_name, find_passages
from services.analysis.bible.books import BOOK_IDS, lookup
from services.analysis.bible.versification import (
    VERSES_PER_CHAPTER,
    chapter_count,
    is_valid,
    verse_count,
)


def test_kjv_totals() -> None:
    assert len(VERSES_PER_CHAPTER) == 66
    assert sum(len(c) for c in VERSES_PER_CHAPTER.values()) == 1189
    assert sum(sum(c) for c in VERSES_PER_CHAPTER.values()) == 31102


@pytest.mark.parametrize(
    ("book", "chapters"),
    [("GEN", 50), ("PSA", 150), ("ISA", 66), ("MAL", 4), ("JOL", 3), ("MAT", 28), ("REV", 22)],
)
def test_chapter_counts(book: str, chapters: int) -> None:
    assert chapter_count(book) == chapters


def test_verse_counts_and_validation() -> None:
    assert verse_count("PSA", 119) == 176
    assert verse_count("JHN", 3) == 36
    assert verse_count("JHN", 22) == 0
    assert verse_count("XXX", 1) == 0
    assert is_valid("ROM", 8, 28, 30)
    assert not is_valid("ROM", 8, 30, 28)
    assert not is_valid("ROM", 8, 0, 1)
    assert not is_valid("ROM", 8, 39, 40)
    assert not is_valid("ROM", 17, None, None)
    assert is_valid("3JN", 1, 15, 15)  # ARA/NVI numbering


@pytest.mark.parametrize(
    "text",
    ["João 22:1", "João 21:26", "Salmo 151", "Judas 26", "Romanos 8:28-40", "Gênesis 50:27",
     "Malaquias 5", "Obadias 22", "Apocalipse 23", "Mateus 5:49-7:29"],
)  # fmt: skip
def test_out_of_range_references_are_rejected(text: str) -> None:
    assert find_passages(text, "pt") == []


def test_book_names_both_languages() -> None:
    assert [book_name(b, "pt") for b in ("JHN", "1CO", "SNG", "JOB")] == [
        "João", "1 Coríntios", "Cânticos", "Jó",
    ]  # fmt: skip
    assert [book_name(b, "en") for b in ("JHN", "1CO", "SNG", "JOB")] == [
        "John", "1 Corinthians", "Song of Songs", "Job",
    ]  # fmt: skip
    assert len(BOOK_IDS) == 66


def test_every_book_reachable_by_its_display_name() -> None:
    for book_id in BOOK_IDS:
        for language in ("pt", "en"):
            text = f"{book_name(book_id, language)} 1:1"
            found = find_passages(text, language)
            assert [(m.book_id, m.chapter, m.verse_start) for m in found] == [(book_id, 1, 1)], text


def test_weak_abbreviations_are_not_used_in_the_other_language() -> None:
    assert lookup(None, "at", "pt") is not None
    assert lookup(None, "at", "en") is None
    assert lookup(None, "is", "en") is None
