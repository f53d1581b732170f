"""Per-sermon report of the whole analyser on the blind ASR-style sermons.

Usage: ``.venv/bin/python benchmarks/eval_sermons.py [--dir tests/data/asr/sermons]
[--verbose]``

For every ``<name>.txt`` with a ``<name>.gold.json`` next to it, prints whether the speaker is
right, passage precision/recall, which gold citations were found, themes against the gold
themes and how many key points fall on key lines and on non-key lines (``--verbose`` also
prints the key points and citations). Exits 1 if a speaker is wrong, a gold citation is
missed, a theme is not canonical or a key point starts on a non-key line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.analysis import analyze  # noqa: E402
from services.analysis.evaluation import (  # noqa: E402
    format_report,
    load_transcript,
    score_sermon,
)

SERMONS = ROOT / "tests" / "data" / "asr" / "sermons"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=SERMONS, help=f"default: {SERMONS}")
    parser.add_argument("--verbose", action="store_true", help="print key points and citations")
    args = parser.parse_args()

    failed = False
    total_tp = total_fp = total_fn = 0
    for gold in sorted(args.dir.glob("*.gold.json")):
        txt = gold.with_name(gold.name.replace(".gold.json", ".txt"))
        report = score_sermon(txt, gold)
        print(format_report(report))
        total_tp += report.passages_tp
        total_fp += report.passages_fp
        total_fn += report.passages_fn
        failed |= (
            not report.speaker_ok
            or bool(report.citations_missed)
            or bool(report.non_canonical)
            or report.non_key_hits > 0
            or report.key_hits == 0
        )
        if args.verbose:
            summary = analyze(load_transcript(txt))
            for point, when in zip(summary.key_points, summary.key_point_timestamps, strict=True):
                print(f"   [{when}] {point}")
            for citation in summary.citations:
                print(f"   cite {citation.author}: {citation.text}")
    precision = total_tp / (total_tp + total_fp) if total_tp + total_fp else 1.0
    recall = total_tp / (total_tp + total_fn) if total_tp + total_fn else 1.0
    print(f"\nall sermons: passages P={precision:.3f} R={recall:.3f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
