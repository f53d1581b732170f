"""The finder never raises, stays fast, and the corpus eval meets the 0.95 bar."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from services.analysis.bible import find_passages
from services.analysis.bible.evaluation import evaluate, format_table, load_corpus, match_counts

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "data" / "bible_corpus.jsonl"

NASTY = [
    "", " ", "\x00", "\ufeff", "1", "1 ", "I", "II III", "Jo", "Jo ", "Jo 3", "Jo 3:", "Jo 3:16-",
    "Jo 3:16-4:", "capítulo", "capítulo 3 de", "chapter nine hundred of John",
    "João capítulo", "João capítulo mil", "Salmo cento e", "primeira segunda terceira João",
    "1 2 3 Coríntios 13", "Rm 8:28-30-31", "Rm 8::28", "Rm 8..28", "Rm 999999:1",
    "Gênesis 1:" + "1" * 5000, "Jo 3:16, " * 2000, "ΙΩΑΝΝΗΣ 3:16", "İstanbul 3:16",
    "\u0301João 3:16", "João\u0301 3:16", "\U0001d50d\U0001d52c\U0001d51e\U0001d52c 3:16",
    "João 3:16\udcff", "a" * 10000,
    "Romanos 8, versículos 28 a", "verses 1 through", "Salmo vinte e", "João 0:0", "João 3:0",
]  # fmt: skip


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_strings_never_raise(text: str) -> None:
    for language in ("pt", "en", None):
        for mention in find_passages(text, language):
            assert 0 <= mention.start < mention.end <= len(text)


def test_random_fuzz_never_raises() -> None:
    rng = random.Random(1234)
    alphabet = (
        "João Jó Rm 1Co Sl II capítulo versículo verses chapter e and a - \u2013 : . , ; 0 1 9 ªº"
    )
    tokens = alphabet.split() + list(":.,;-\u2013 0123456789")
    for _ in range(500):
        text = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 40)))
        for mention in find_passages(text, rng.choice(["pt", "en", None])):
            assert 0 <= mention.start < mention.end <= len(text)


def test_non_str_input_returns_empty() -> None:
    assert find_passages(None, "pt") == []  # type: ignore[arg-type]
    assert find_passages(b"Jo 3:16", "pt") == []  # type: ignore[arg-type]


def test_nine_thousand_words_find_every_passage_and_no_decoy() -> None:
    """A sermon-length text; its speed is measured by benchmarks/bench_analysis.py."""
    paragraph = (
        "Irmãos, a graça de Deus nos alcança todos os dias. O diácono Lucas 2 vezes lembrou que a "
        "fé vem pelo ouvir, como diz Romanos 10:17, e em João capítulo 3 versículo 16 vemos o amor "
        "do Pai. Às 10:30 cantamos salmos de louvor e o Salmo 23 nos consolou. Marcos tinha 3 "
        "filhos e a irmã Rute cantou. "
    )
    text = paragraph * (9_000 // len(paragraph.split()) + 1)
    repeats = 9_000 // len(paragraph.split()) + 1
    found = find_passages(text, None)
    assert len(found) == 3 * repeats
    assert {(m.book_id, m.chapter, m.verse_start) for m in found} == {
        ("ROM", 10, 17),
        ("JHN", 3, 16),
        ("PSA", 23, None),
    }


def test_match_counts_is_multiset() -> None:
    a = ("JHN", 3, 16, 16)
    b = ("ROM", 8, None, None)
    assert match_counts([a, a, b], [a, b, b]) == (2, 1, 1)


def test_corpus_precision_and_recall_per_category() -> None:
    examples = load_corpus(CORPUS)
    categories = {e.category for e in examples}
    assert len(examples) >= 220
    assert {"pt_written", "pt_spoken", "en_written", "en_spoken", "lists_ranges", "negatives"} <= (
        categories
    )
    assert sum(e.category == "negatives" for e in examples) >= 40
    scores, _ = evaluate(examples)
    report = format_table(scores)
    for name, score in scores.items():
        assert score.precision >= 0.95, f"{name}\n{report}\n{score.errors}"
        assert score.recall >= 0.95, f"{name}\n{report}\n{score.errors}"
