"""The held-out corpus and unit tests for the forms it revealed.

``tests/data/bible_corpus_heldout.jsonl`` was written by someone other than the finder's author,
without reading the finder's code, and committed before the finder was changed. Labelling
decisions it encodes:

* ``Mateus 5, 6 e 7`` is the three whole chapters (the Sermon on the Mount), as ``Mateus 5-7``;
* a later ``no versículo 7`` that relies on an earlier book is out of scope and left unlabelled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.analysis.bible import find_passages
from services.analysis.bible.evaluation import Score, evaluate, load_corpus

HELDOUT = Path(__file__).resolve().parents[4] / "tests" / "data" / "bible_corpus_heldout.jsonl"
CATEGORIES = ("pt_written", "pt_spoken", "en_written", "en_spoken", "lists_ranges", "negatives")
THRESHOLD = 0.95

Ref = tuple[str, int, int | None, int | None]


def refs(text: str, language: str | None) -> list[Ref]:
    return [
        (m.book_id, m.chapter, m.verse_start, m.verse_end)
        for m in find_passages(text, language)  # type: ignore[arg-type]
    ]


@pytest.fixture(scope="module")
def heldout_scores() -> dict[str, Score]:
    examples = load_corpus(HELDOUT)
    assert len(examples) >= 120
    return evaluate(examples)[0]


def test_heldout_corpus_shape() -> None:
    examples = load_corpus(HELDOUT)
    counts = {c: sum(e.category == c for e in examples) for c in CATEGORIES}
    assert set(e.category for e in examples) == set(CATEGORIES)
    assert counts["negatives"] >= 35


@pytest.mark.parametrize("category", CATEGORIES)
def test_heldout_precision_and_recall(heldout_scores: dict[str, Score], category: str) -> None:
    score = heldout_scores[category]
    detail = "\n".join(score.errors)
    assert score.precision >= THRESHOLD, detail
    assert score.recall >= THRESHOLD, detail


# --- "pair" shape: the colon Whisper drops ------------------------------------------------------

PAIRS: list[tuple[str, str, list[Ref]]] = [
    ("pt", "João 3 16 diz que Deus amou o mundo", [("JHN", 3, 16, 16)]),
    ("en", "Acts 1 8 says you will receive power", [("ACT", 1, 8, 8)]),
    ("pt", "vamos em filipenses quatro treze", [("PHP", 4, 13, 13)]),
    ("pt", "segunda timóteo três dezesseis", [("2TI", 3, 16, 16)]),
    ("en", "Isaiah fifty three five by his stripes", [("ISA", 53, 5, 5)]),
    ("en", "Joshua twenty four fifteen", [("JOS", 24, 15, 15)]),
    ("pt", "Romanos 12 1 a 2", [("ROM", 12, 1, 2)]),
    ("pt", "Romanos 12 1 e 2", [("ROM", 12, 1, 1), ("ROM", 12, 2, 2)]),
    ("pt", "Judas 1 24", [("JUD", 1, 24, 24)]),
    ("pt", "Salmos 23 1 Coríntios 13", [("PSA", 23, None, None), ("1CO", 13, None, None)]),
]


@pytest.mark.parametrize(("lang", "text", "expected"), PAIRS)
def test_pair_shape(lang: str, text: str, expected: list[Ref]) -> None:
    assert refs(text, lang) == expected


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("pt", "os números 4 5 e 6 da rifa"),  # lower-case book name that is an ordinary word
        ("pt", "O João 3 16 anos"),  # quantity after the second number
        ("pt", "João 3 16 de junho"),  # a date
        ("pt", "a irmã Ester 4 14 anos"),
        ("pt", "Is 9 6"),  # weak abbreviations still need the written shape
    ],
)
def test_pair_shape_guards(lang: str, text: str) -> None:
    assert refs(text, lang) == []


# --- number words for a bare chapter -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("pt", "Hoje vamos estudar João três, a conversa com Nicodemos.", [("JHN", 3, None, None)]),
        ("pt", "Lucas quinze conta a parábola", [("LUK", 15, None, None)]),
        ("en", "Luke fifteen is the chapter of lost things", [("LUK", 15, None, None)]),
        ("pt", "o Salmo um fala do homem feliz", [("PSA", 1, None, None)]),
        ("pt", "Lucas um amigo meu veio hoje", []),  # "um" alone is an article
        ("en", "John one of my friends came", []),
        ("pt", "o Daniel três vezes", []),
        ("pt", "o joão três vezes me ligou", []),
    ],
)
def test_number_word_chapter(lang: str, text: str, expected: list[Ref]) -> None:
    assert refs(text, lang) == expected


# --- locators said before the book ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("pt", "Vejam o versículo 16 do capítulo 3 de João.", [("JHN", 3, 16, 16)]),
        ("pt", "versículo 16 do capítulo 3 do evangelho de João", [("JHN", 3, 16, 16)]),
        ("pt", "versículos 5 a 7 do capítulo 3 de Provérbios", [("PRO", 3, 5, 7)]),
        ("en", "look at verse 16 of chapter 3 of John", [("JHN", 3, 16, 16)]),
        ("pt", "o versículo 28 de Romanos 8 diz", [("ROM", 8, 28, 28)]),
        ("pt", "os versículos 1 a 3 de João 14", [("JHN", 14, 1, 3)]),
        ("en", "verses 1 to 3 of John 14", [("JHN", 14, 1, 3)]),
        ("pt", "capítulo 3, versículo 16, de João", [("JHN", 3, 16, 16)]),
        # A verse far before, with other words in between, is not this book's verse.
        ("pt", "no versículo 16 Jesus diz; em João 3 lemos", [("JHN", 3, None, None)]),
    ],
)
def test_reversed_orders(lang: str, text: str, expected: list[Ref]) -> None:
    assert refs(text, lang) == expected


def test_preceding_verse_offsets_cover_the_verse() -> None:
    text = "Pois o versículo 28 de Romanos 8 diz"
    (mention,) = find_passages(text, "pt")
    assert text[mention.start : mention.end] == "versículo 28 de Romanos 8"


def test_letter_of_paul_prefix() -> None:
    assert refs("na segunda carta de Paulo aos Coríntios, capítulo 12, versículo 9", "pt") == [
        ("2CO", 12, 9, 9)
    ]
    assert refs("primeira carta do apóstolo Paulo aos Coríntios capítulo 13", "pt") == [
        ("1CO", 13, None, None)
    ]


# --- lists of chapters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mateus 5, 6 e 7",
            [("MAT", 5, None, None), ("MAT", 6, None, None), ("MAT", 7, None, None)],
        ),
        (
            "Matthew 5, 6 and 7",
            [("MAT", 5, None, None), ("MAT", 6, None, None), ("MAT", 7, None, None)],
        ),
        ("em Provérbios 3, 5 e 6", [("PRO", 3, 5, 5), ("PRO", 3, 6, 6)]),  # not consecutive
        ("João 3,16 e 17", [("JHN", 3, 16, 16), ("JHN", 3, 17, 17)]),
        ("João 10, 10", [("JHN", 10, 10, 10)]),  # two numbers: the comma convention still holds
    ],
)
def test_chapter_runs(text: str, expected: list[Ref]) -> None:
    assert refs(text, None) == expected


# --- new negatives -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("pt", "No torneio de pingue-pongue deu Lucas 3 a 1."),  # a score
        ("pt", "O Lucas 2 a 0 no jogo"),
        ("pt", "A gente se reunia na Rua Daniel 12, numa igreja pequenina."),  # an address
        ("pt", "Rua Romanos 8"),
        ("pt", "Ensaio com o Lucas 19:30 no sábado."),  # a person and a clock time
        ("pt", "o pastor Lucas 19:30 chega"),
        ("en", "The ping pong score was John 3, Peter 1."),  # a tally
        ("pt", "Aniversário do João 3 de junho"),  # a date
    ],
)
def test_new_negatives(lang: str, text: str) -> None:
    assert refs(text, lang) == []


def test_guards_keep_real_references() -> None:
    assert refs("Como diz Lucas 19:30, bendito o rei", "pt") == [("LUK", 19, 30, 30)]
    assert refs("Lucas 15, Mateus 18", "pt") == [("LUK", 15, None, None), ("MAT", 18, None, None)]
    assert refs("Mateus 5-7", "pt") == [
        ("MAT", 5, None, None),
        ("MAT", 6, None, None),
        ("MAT", 7, None, None),
    ]
