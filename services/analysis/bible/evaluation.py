"""Precision/recall scoring of the passage finder against a labelled JSONL corpus.

A predicted mention is a true positive when ``book_id``, ``chapter``, ``verse_start`` and
``verse_end`` all equal an expected one; matching is multiset-wise (two expected ``João 3:16``
need two predictions).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from services.analysis.bible.finder import find_passages

Key = tuple[str, int, int | None, int | None]


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled snippet of the corpus."""

    text: str
    lang: Literal["pt", "en"]
    category: str
    expected: tuple[Key, ...]


@dataclass(slots=True)
class Score:
    """True positives, false positives and false negatives for one category."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    examples: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when nothing was expected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_corpus(path: Path) -> list[Example]:
    """Read the JSONL corpus (one object per line: text, lang, category, expected)."""
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        expected = tuple(
            (e["book_id"], e["chapter"], e["verse_start"], e["verse_end"]) for e in row["expected"]
        )
        examples.append(Example(row["text"], row["lang"], row["category"], expected))
    return examples


def match_counts(predicted: Iterable[Key], expected: Iterable[Key]) -> tuple[int, int, int]:
    """Multiset (tp, fp, fn) of predicted against expected keys."""
    pred, exp = Counter(predicted), Counter(expected)
    tp = sum((pred & exp).values())
    return tp, sum(pred.values()) - tp, sum(exp.values()) - tp


def evaluate(
    examples: Iterable[Example], use_language: bool = True
) -> tuple[dict[str, Score], float]:
    """Score every category (plus ``overall``) and return the finder's total run time in seconds.

    Args:
        examples: the labelled corpus.
        use_language: pass each example's language to the finder (False: let it detect).
    """
    scores: dict[str, Score] = {}
    elapsed = 0.0
    for example in examples:
        started = time.perf_counter()
        found = find_passages(example.text, example.lang if use_language else None)
        elapsed += time.perf_counter() - started
        predicted = [(m.book_id, m.chapter, m.verse_start, m.verse_end) for m in found]
        tp, fp, fn = match_counts(predicted, example.expected)
        for name in (example.category, "overall"):
            score = scores.setdefault(name, Score())
            score.tp, score.fp, score.fn = score.tp + tp, score.fp + fp, score.fn + fn
            score.examples += 1
        if fp or fn:
            scores[example.category].errors.append(
                f"{example.text!r}: expected {list(example.expected)}, got {predicted}"
            )
    return scores, elapsed


def format_table(scores: Mapping[str, Score]) -> str:
    """Fixed-width table: category, examples, tp, fp, fn, precision, recall."""
    width = max(14, *(len(name) + 1 for name in scores))
    header = f"{'n':>5}{'tp':>6}{'fp':>5}{'fn':>5}{'precision':>11}{'recall':>9}"
    lines = [f"{'category':<{width}}{header}"]
    for name in sorted(scores, key=lambda n: (n == "overall", n)):
        s = scores[name]
        lines.append(
            f"{name:<{width}}{s.examples:>5}{s.tp:>6}{s.fp:>5}{s.fn:>5}"
            f"{s.precision:>11.3f}{s.recall:>9.3f}"
        )
    return "\n".join(lines)
