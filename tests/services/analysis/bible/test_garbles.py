"""What Whisper did to spoken references in the end-to-end audio runs (``garbles.py``).

Each form is read only with the evidence it needs; the negatives beside each one are the
ordinary sentences the same shape could have been.
"""

from __future__ import annotations

import pytest

from services.analysis.bible import find_passages
from services.analysis.bible.garbles import (
    joined_verse,
    misheard_chapter,
    misheard_psalms,
    misheard_verse,
    skipped_words_before_range,
)

Ref = tuple[str, int, int | None, int | None]


def refs(text: str, language: str) -> list[Ref]:
    return [
        (m.book_id, m.chapter, m.verse_start, m.verse_end)
        for m in find_passages(text, language)  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # a comma between the book and its chapter
        (
            "the psalmist says it in lamentations, three twenty two, and twenty three",
            "en",
            [("LAM", 3, 22, 22), ("LAM", 3, 23, 23)],
        ),
        ("Leia comigo Romanos, oito vinte e oito.", "pt", [("ROM", 8, 28, 28)]),
        # a chapter heard as its homophone
        ("at one in lamentations, free twenty-two", "en", [("LAM", 3, 22, 22)]),
        ("turn with me to john for sixteen", "en", [("JHN", 4, 16, 16)]),
        # "e" heard between chapter and verse: 7 is no chapter of First Peter
        ("Primeira Pedro 5 e 7, lançando sobre ele", "pt", [("1PE", 5, 7, 7)]),
        # "versículo" misheard, or dropped, before a rising range
        ("Vamos para Marcos Quatro, do meu ciclo 35 ao quarenta e um.", "pt", [("MRK", 4, 35, 41)]),
        ("em Mateus 6, a partir do 25 até o 34.", "pt", [("MAT", 6, 25, 34)]),
        # the Brazilian "vinte" written "Vinci"
        ("ele ora, Lucas Vinci e Três, Trinta e Quatro, Pai", "pt", [("LUK", 23, 34, 34)]),
        # "versículo" heard as words after a spoken chapter
        (
            "Jesus disse em Mateus capítulo 6, ver se cura 34, que basta a cada dia",
            "pt",
            [("MAT", 6, 34, 34)],
        ),
        ("Abra em Primeira Pedro, capítulo 5, vei da sícula 7.", "pt", [("1PE", 5, 7, 7)]),
        ("Romanos capítulo oito, vé da sículo vinte e oito", "pt", [("ROM", 8, 28, 28)]),
        # "Salmo de número" heard as "salvo de nome do"
        ("No salvo de nome do trinta e quatro, Davi diz", "pt", [("PSA", 34, None, None)]),
        (
            "leia no salmo 23 e no salvo de número 91",
            "pt",
            [("PSA", 23, None, None), ("PSA", 91, None, None)],
        ),
    ],
)
def test_garbled_reference_is_read(text: str, language: str, expected: list[Ref]) -> None:
    assert refs(text, language) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("in Romans, eight people came to faith", "en"),
        ("we read Mark, and then we prayed", "en"),
        ("I prayed for John for 3 days", "en"),
        ("Em Romanos, 8 pessoas se converteram.", "pt"),
        ("o pintor Lucas Vinci e a sua obra", "pt"),
        ("Leia Lucas Vinci", "pt"),
        ("Leonardo da Vinci pintou a ceia", "pt"),
        # the misheard "versículo" needs the spoken chapter before it and a verse after it
        ("vamos ver se cura 34 pessoas", "pt"),
        ("o capítulo 6 do livro, ver se cura 34 doentes", "pt"),
        # "salvo" stays saved without "de número"/"nome do" and a psalm that exists
        ("ele foi salvo de 3 acidentes", "pt"),
        ("o salvo de nome do pecado", "pt"),
        ("o salvo de nome do 200", "pt"),
        ("fui salvo aos 34 anos", "pt"),
    ],
)
def test_the_same_shapes_without_a_verse_are_nothing(text: str, language: str) -> None:
    assert refs(text, language) == []


def test_salmos_23_e_91_stays_two_psalms() -> None:
    assert refs("Salmos 23 e 91", "pt") == [("PSA", 23, None, None), ("PSA", 91, None, None)]


def test_helpers_need_their_evidence() -> None:
    text = "lamentations free twenty two"
    assert misheard_chapter(text, len("lamentations"), english=True) == (3, len(text) - 11)
    assert misheard_chapter(text, len("lamentations"), english=False) is None
    assert joined_verse(" e 7", 0, "1PE", 5) == (7, 4)
    assert joined_verse(" e 3", 0, "1PE", 5) is None  # 3 is a chapter of First Peter
    assert joined_verse(" e 40", 0, "1PE", 5) is None  # 5:40 does not exist
    found = skipped_words_before_range(" do meu ciclo 35 ao 41", 0)
    assert found is not None and found.group("n") == "35"
    assert skipped_words_before_range(" do vinte e cinco ao 30", 0) is None
    assert skipped_words_before_range(" do capitulo 3 ao 5", 0) is None
    assert misheard_verse(", ver se cura 34, que", 0, "MAT", 6) == (34, 16)
    assert misheard_verse(", ver se cura 35", 0, "MAT", 6) is None  # Matthew 6 has 34 verses
    assert misheard_verse(", ver se cura", 0, "MAT", 6) is None
    assert misheard_psalms("no salvo de nome do trinta e quatro") == [(34, 0, 35)]
    assert misheard_psalms("salvo de nome do trinta e quatro") == []  # no article: no psalm
    # a compound number split around its "e" (seen as "30 e 4" in the development run)
    assert misheard_psalms("o salvo de numero 100 e 3, diz") == [(103, 0, 25)]
    assert misheard_psalms("no salvo de nome do 30 e 4") == [(34, 0, 26)]
    assert misheard_psalms("no salvo de numero 23 e 5 irmaos") == [(23, 0, 21)]  # 23 is not round


def test_a_lower_case_rare_word_name_with_chapter_and_verse_in_cased_text() -> None:
    """Whisper lower-cases "Lamentations" mid-sentence; a chapter and verse that exist make it
    the book, a determiner before it keeps it a word."""
    assert refs("That is lamentations free 22 and 23.", "en") == [
        ("LAM", 3, 22, 22),
        ("LAM", 3, 23, 23),
    ]
    assert refs("The lamentations 3 22 of the people", "en") == []
    assert refs("Our new revelation 2 3 is out.", "en") == []
