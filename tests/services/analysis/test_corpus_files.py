"""Format checks for the round-3 blind corpus and the whole spoken services (``tests/data``).

These tests only check that the data files are well formed. They do not score the analyser, so
they import nothing from ``services.analysis``. The checks are: every line and gold file parses,
book ids are USFM codes, chapters exist in the book, verses are positive, and the gold files have
the required keys.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "data"
ROUND3 = DATA / "bible_corpus_round3.jsonl"
SERVICES = DATA / "services"

# USFM book code -> number of chapters (Protestant canon, KJV versification). Written out here
# rather than imported so the check does not depend on the code it will be used to evaluate.
CHAPTERS: dict[str, int] = {
    "GEN": 50, "EXO": 40, "LEV": 27, "NUM": 36, "DEU": 34, "JOS": 24, "JDG": 21, "RUT": 4,
    "1SA": 31, "2SA": 24, "1KI": 22, "2KI": 25, "1CH": 29, "2CH": 36, "EZR": 10, "NEH": 13,
    "EST": 10, "JOB": 42, "PSA": 150, "PRO": 31, "ECC": 12, "SNG": 8, "ISA": 66, "JER": 52,
    "LAM": 5, "EZK": 48, "DAN": 12, "HOS": 14, "JOL": 3, "AMO": 9, "OBA": 1, "JON": 4,
    "MIC": 7, "NAM": 3, "HAB": 3, "ZEP": 3, "HAG": 2, "ZEC": 14, "MAL": 4,
    "MAT": 28, "MRK": 16, "LUK": 24, "JHN": 21, "ACT": 28, "ROM": 16, "1CO": 16, "2CO": 13,
    "GAL": 6, "EPH": 6, "PHP": 4, "COL": 4, "1TH": 5, "2TH": 3, "1TI": 6, "2TI": 4, "TIT": 3,
    "PHM": 1, "HEB": 13, "JAS": 5, "1PE": 5, "2PE": 3, "1JN": 5, "2JN": 1, "3JN": 1, "JUD": 1,
    "REV": 22,
}  # fmt: skip

POSITIVE = {"r3_restated", "r3_wordbook", "r3_misspelt_phrased"}
NEGATIVE = {"r3_wordbook_negative", "r3_negatives"}
GOLD_KEYS = {
    "language", "speaker", "passages", "citations", "themes", "thesis", "points", "application",
}  # fmt: skip


def check_passage(ref: Any, where: str) -> None:
    assert isinstance(ref, dict), where
    assert set(ref) == {"book_id", "chapter", "verse_start", "verse_end"}, where
    assert ref["book_id"] in CHAPTERS, f"{where}: unknown USFM code {ref['book_id']!r}"
    chapter = ref["chapter"]
    assert type(chapter) is int and 1 <= chapter <= CHAPTERS[ref["book_id"]], where
    start, end = ref["verse_start"], ref["verse_end"]
    if start is None:
        assert end is None, f"{where}: a whole chapter has both verses null"
        return
    assert type(start) is int and type(end) is int, where
    assert 1 <= start <= end, where


@pytest.mark.parametrize(
    "ref",
    [
        {"book_id": "NAH", "chapter": 1, "verse_start": 7, "verse_end": 7},
        {"book_id": "NAM", "chapter": 4, "verse_start": 1, "verse_end": 1},
        {"book_id": "NAM", "chapter": 1, "verse_start": 0, "verse_end": 0},
        {"book_id": "NAM", "chapter": 1, "verse_start": 7, "verse_end": None},
        {"book_id": "NAM", "chapter": 1, "verse_start": 8, "verse_end": 7},
        {"book_id": "NAM", "chapter": "1", "verse_start": 7, "verse_end": 7},
    ],
)
def test_check_passage_rejects_bad_references(ref: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check_passage(ref, "example")


def round3_lines() -> list[dict[str, Any]]:
    with ROUND3.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_round3_lines_are_well_formed() -> None:
    lines = round3_lines()
    assert len(lines) >= 160
    for n, line in enumerate(lines, 1):
        where = f"line {n}: {line.get('text')!r}"
        assert set(line) == {"text", "lang", "category", "expected"}, where
        assert isinstance(line["text"], str) and line["text"].strip(), where
        assert line["lang"] in {"pt", "en"}, where
        assert line["category"] in POSITIVE | NEGATIVE, where
        assert isinstance(line["expected"], list), where
        assert bool(line["expected"]) == (line["category"] in POSITIVE), where
        for ref in line["expected"]:
            check_passage(ref, where)


def test_round3_covers_every_class_in_both_languages() -> None:
    lines = round3_lines()
    counts = Counter((line["category"], line["lang"]) for line in lines)
    for category in POSITIVE | NEGATIVE:
        assert counts[(category, "pt")] >= 10 and counts[(category, "en")] >= 10, category
    assert sum(1 for line in lines if not line["expected"]) >= 30
    assert len({line["text"] for line in lines}) == len(lines), "duplicate lines"
    portuguese = sum(1 for line in lines if line["lang"] == "pt") / len(lines)
    assert 0.5 <= portuguese <= 0.7


def service_names() -> list[str]:
    return sorted(p.stem for p in SERVICES.glob("*.txt"))


def test_every_service_has_a_gold_file() -> None:
    names = service_names()
    assert len(names) >= 2
    assert any(n.startswith("pt_") for n in names) and any(n.startswith("en_") for n in names)
    golds = sorted(p.name.removesuffix(".gold.json") for p in SERVICES.glob("*.gold.json"))
    assert golds == names


@pytest.mark.parametrize("name", service_names())
def test_service_gold_is_well_formed(name: str) -> None:
    text = (SERVICES / f"{name}.txt").read_text(encoding="utf-8")
    gold = json.loads((SERVICES / f"{name}.gold.json").read_text(encoding="utf-8"))
    assert set(gold) >= GOLD_KEYS, GOLD_KEYS - set(gold)
    assert gold["language"] == name.split("_")[0]
    assert 1200 <= len(text.split()) <= 2200
    assert isinstance(gold["speaker"], str) and gold["speaker"].split()[-1] in text
    assert len(gold["passages"]) >= 8
    for ref in gold["passages"]:
        check_passage(ref, name)
    assert gold["citations"]
    for citation in gold["citations"]:
        assert set(citation) == {"author", "quote_contains"}, citation
        assert citation["quote_contains"].lower() in text.lower(), citation
    assert gold["themes"] and all(" / " in theme for theme in gold["themes"])
    assert 3 <= len(gold["points"]) <= 7
    for key in ("thesis", "application"):
        assert isinstance(gold[key], str) and gold[key].strip(), key
