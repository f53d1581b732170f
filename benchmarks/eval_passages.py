"""Evaluate the Bible passage finder on a labelled corpus (default tests/data/bible_corpus.jsonl).

Usage: ``.venv/bin/python benchmarks/eval_passages.py [--corpus PATH] [--detect-language]
[--overall] [--verbose]`` (the held-out corpus is ``tests/data/bible_corpus_heldout.jsonl``, the
blind ASR-style one ``tests/data/asr/bible_corpus_asr.jsonl``).

Prints precision and recall per category and overall, the finder's total time on the corpus and
on a synthetic ~9,000-word transcript, and exits 1 if any category is below 0.95 in either -
or, with ``--overall`` (the ASR corpus's targets), if the overall precision is below 0.97 or the
overall recall below 0.95.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.analysis.bible import find_passages  # noqa: E402
from services.analysis.bible.evaluation import evaluate, format_table, load_corpus  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "bible_corpus.jsonl"
THRESHOLD = 0.95
OVERALL_PRECISION = 0.97


def synthetic_transcript(words: int = 9_000) -> str:
    """A sermon-like text of about ``words`` words with a few references sprinkled in."""
    filler = (
        "Irmãos, a graça de Deus nos alcança todos os dias e o pastor Lucas 2 vezes "
        "lembrou que a fé vem pelo ouvir. Como diz Romanos 10:17, a fé vem pelo ouvir, "
        "e em João capítulo 3 versículo 16 vemos o amor do Pai. Às 10:30 cantamos salmos "
        "de louvor, e o Salmo 23 nos consola. "
    )
    repeats = words // len(filler.split()) + 1
    return filler * repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=CORPUS, help=f"JSONL corpus (default: {CORPUS})"
    )
    parser.add_argument("--detect-language", action="store_true", help="call with language=None")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    parser.add_argument(
        "--overall", action="store_true", help="judge the overall row only (ASR corpus targets)"
    )
    args = parser.parse_args()

    scores, elapsed = evaluate(load_corpus(args.corpus), use_language=not args.detect_language)
    print(format_table(scores))
    print(f"\ncorpus time: {elapsed * 1000:.1f} ms for {scores['overall'].examples} snippets")

    text = synthetic_transcript()
    started = time.perf_counter()
    found = find_passages(text)
    took = time.perf_counter() - started
    print(
        f"9,000-word transcript: {took * 1000:.1f} ms, {len(found)} passages, "
        f"{len(text.split())} words"
    )

    if args.overall:
        total = scores["overall"]
        failing = (
            ["overall"] if total.precision < OVERALL_PRECISION or total.recall < THRESHOLD else []
        )
    else:
        failing = [
            name for name, s in scores.items() if s.precision < THRESHOLD or s.recall < THRESHOLD
        ]
    if args.verbose or failing:
        for name, score in sorted(scores.items()):
            for error in score.errors:
                print(f"[{name}] {error}")
    if failing:
        print(f"\nFAIL: below {THRESHOLD} in {', '.join(sorted(failing))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
