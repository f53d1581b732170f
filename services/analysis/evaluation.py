"""Scoring a whole-sermon analysis against a gold file (``tests/data/asr/sermons/*.gold.json``).

Used by ``benchmarks/eval_sermons.py`` and its test. A sermon ``.txt`` has one caption line per
line; it becomes a transcript with one segment per line, :data:`SECONDS_PER_LINE` apart, so a
key point's timestamp names the line it starts on. The gold file records the speaker (and
aliases), the passages, the citations (author, aliases, first words of the quote), the
canonical themes and which lines do (``key_idea_lines``) or must not (``non_key_lines``)
give key points.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from schemas.summary import Language, SummaryDTO
from schemas.transcripts import Transcript, TranscriptSegment
from services.analysis.analyzer import analyze
from services.analysis.lexicon import THEMES
from services.analysis.text import fold, tokens

SECONDS_PER_LINE = 6.0

PassageKey = tuple[str, int, int | None, int | None]


@dataclass(slots=True)
class SermonReport:
    """How one analysis compares with its gold file."""

    name: str
    speaker: str | None
    speaker_ok: bool
    passages_tp: int
    passages_fp: int
    passages_fn: int
    citations_found: list[str] = field(default_factory=list)
    citations_missed: list[str] = field(default_factory=list)
    quotes_ok: int = 0
    themes: list[str] = field(default_factory=list)
    gold_themes: list[str] = field(default_factory=list)
    non_canonical: list[str] = field(default_factory=list)
    key_lines: list[list[int]] = field(default_factory=list)
    key_hits: int = 0
    non_key_hits: int = 0
    extra_passages: list[PassageKey] = field(default_factory=list)
    missed_passages: list[PassageKey] = field(default_factory=list)

    @property
    def passage_precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted."""
        found = self.passages_tp + self.passages_fp
        return self.passages_tp / found if found else 1.0

    @property
    def passage_recall(self) -> float:
        """tp / (tp + fn); 1.0 when nothing was expected."""
        wanted = self.passages_tp + self.passages_fn
        return self.passages_tp / wanted if wanted else 1.0


def load_transcript(path: Path, language: str | None = None) -> Transcript:
    """One segment per line of ``path``, :data:`SECONDS_PER_LINE` seconds apart."""
    lines = path.read_text(encoding="utf-8").splitlines()
    segments = [
        TranscriptSegment(
            start=i * SECONDS_PER_LINE, end=(i + 1) * SECONDS_PER_LINE, text=line.strip()
        )
        for i, line in enumerate(lines)
    ]
    return Transcript(source="file", language=language, segments=segments)


def _words(text: str) -> list[str]:
    return tokens(text)


def key_point_lines(lines: list[str], point: str, timestamp: float | None) -> list[int]:
    """1-based line numbers a key point covers: from its timestamp's line, word by word."""
    if timestamp is None:
        return []
    first = round(timestamp / SECONDS_PER_LINE)
    wanted = len(_words(point))
    covered: list[int] = []
    index = first
    while wanted > 0 and index < len(lines):
        covered.append(index + 1)
        wanted -= len(_words(lines[index]))
        index += 1
    return covered


def _name_key(name: str) -> str:
    return "".join(ch for ch in fold(name) if ch.isalnum())


def _speaker_ok(found: str | None, gold: dict[str, Any]) -> bool:
    if not found:
        return False
    names = [str(gold["speaker"]), *[str(a) for a in gold.get("speaker_aliases", [])]]
    return _name_key(found) in {_name_key(n) for n in names}


def _citations(summary: SummaryDTO, gold: dict[str, Any], report: SermonReport) -> None:
    for cited in gold.get("citations", []):
        aliases = {_name_key(a) for a in [cited["author"], *cited.get("author_aliases", [])]}
        match = next((c for c in summary.citations if _name_key(c.author) in aliases), None)
        if match is None:
            report.citations_missed.append(str(cited["author"]))
            continue
        report.citations_found.append(str(cited["author"]))
        start = _words(str(cited["quote_start"]))
        if _words(match.text)[: len(start)] == start:
            report.quotes_ok += 1


def score_sermon(txt: Path, gold_path: Path) -> SermonReport:
    """Analyse ``txt`` and compare it with ``gold_path``."""
    gold = cast(dict[str, Any], json.loads(gold_path.read_text(encoding="utf-8")))
    lang = cast(Language, gold["lang"])
    summary = analyze(load_transcript(txt), language=lang)
    predicted = Counter(
        (p.book_id, p.chapter, p.verse_start, p.verse_end) for p in summary.passages
    )
    expected = Counter(
        (p["book_id"], p["chapter"], p["verse_start"], p["verse_end"]) for p in gold["passages"]
    )
    tp = sum((predicted & expected).values())
    report = SermonReport(
        name=txt.stem,
        speaker=summary.speaker,
        speaker_ok=_speaker_ok(summary.speaker, gold),
        passages_tp=tp,
        passages_fp=sum(predicted.values()) - tp,
        passages_fn=sum(expected.values()) - tp,
        extra_passages=sorted(predicted - expected, key=str),
        missed_passages=sorted(expected - predicted, key=str),
    )
    _citations(summary, gold, report)
    canonical = {entry.names[lang] for entry in THEMES}
    report.themes = list(summary.themes)
    report.gold_themes = [str(t) for t in gold.get("themes", [])]
    report.non_canonical = [t for t in summary.themes if t not in canonical]
    lines = txt.read_text(encoding="utf-8").splitlines()
    key, non_key = set(gold.get("key_idea_lines", [])), set(gold.get("non_key_lines", []))
    for point, when in zip(summary.key_points, summary.key_point_timestamps, strict=True):
        covered = key_point_lines(lines, point, when)
        report.key_lines.append(covered)
        report.key_hits += any(line in key for line in covered)
        report.non_key_hits += any(line in non_key for line in covered)
    return report


def format_report(report: SermonReport) -> str:
    """A few human-readable lines for one sermon."""
    themes_ok = set(report.themes) & set(report.gold_themes)
    return "\n".join(
        [
            f"== {report.name}",
            f"speaker      : {report.speaker!r} ({'right' if report.speaker_ok else 'WRONG'})",
            f"passages     : P={report.passage_precision:.3f} R={report.passage_recall:.3f} "
            f"(tp={report.passages_tp} fp={report.passages_fp} fn={report.passages_fn})"
            + (f" extra={report.extra_passages}" if report.extra_passages else "")
            + (f" missed={report.missed_passages}" if report.missed_passages else ""),
            f"citations    : {len(report.citations_found)}/"
            f"{len(report.citations_found) + len(report.citations_missed)} authors found, "
            f"{report.quotes_ok} quote starts right"
            + (f"; missed {report.citations_missed}" if report.citations_missed else ""),
            f"themes       : {report.themes} vs gold {report.gold_themes} "
            f"({len(themes_ok)}/{len(report.gold_themes)} gold found"
            + (f", NON-CANONICAL {report.non_canonical}" if report.non_canonical else "")
            + ")",
            f"key points   : {len(report.key_lines)} chosen, {report.key_hits} on key lines, "
            f"{report.non_key_hits} on non-key lines; lines {report.key_lines}",
        ]
    )
