"""End to end: whole services spoken by espeak-ng, recognised, analysed, scored against gold.

Every service (``benchmarks/audio_services.py``: a script and its gold) is spoken in each mode
(``paced``: lines at three paces with pauses; ``continuous``: one breath, nothing for the VAD
to skip), transcribed by the worker's own recogniser (``WhisperTranscriber``) in each decoder
setting, analysed by ``services.analysis.analyze`` and scored:

* passages at verse level (book, chapter, verse range all equal): precision, recall, F1;
* the speaker (gold name or alias), quoted authors found, gold themes found;
* word error rate against the script and real-time factor (wall seconds / audio seconds),
  with the process's CPU seconds per audio second beside it (on a busy shared machine the
  wall clock waits for other people's work; CPU time does not);
* ``text``: the script itself analysed, what a perfect recogniser would give.

Settings (``--settings``, comma-separated)::

    base-before   the bundled base model as the worker decoded before issue 24 (the baseline)
    base          the bundled base model with WhisperTranscriber's defaults now
    MODEL[-FLAG...]  ``base`` or any CULTO_WHISPER_MODEL value (``small``, a model directory)
                  with the defaults changed by flags: ``prompt``/``noprompt``, ``beamN``,
                  ``batchN``, ``threadsN``, ``retry``/``noretry`` (decode starved chunks
                  again, see ``services/transcripts/asr/chunks.py``; e.g. ``base-beam3``,
                  ``base-noretry``)

Ratios in the summary are against ``base-before`` measured in the same run. The machine load
(1-minute average) is printed before and after: wall times on a shared machine are only
comparable within one run.

Usage::

    .venv/bin/python benchmarks/eval_audio.py [--dir benchmarks/data/services]
        [--settings base-before,base,base-prompt] [--modes paced,continuous]
        [--only NAME] [--json PATH] [--show-text] [--text-only] [--rescore PATH]

``--rescore PATH`` analyses again the transcripts an earlier ``--json`` run saved, keeping its
recognition figures: an analysis change is measured without speaking anything again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from audio_services import MODES, Service, load_services, speak  # noqa: E402
from bench_asr import edit_counts, words  # noqa: E402

from schemas.summary import SummaryDTO  # noqa: E402
from schemas.transcripts import Transcript, TranscriptSegment  # noqa: E402
from services.analysis import analyze  # noqa: E402
from services.analysis.lexicon import THEMES  # noqa: E402
from services.analysis.text import fold, word_set  # noqa: E402
from services.transcripts import asr  # noqa: E402
from services.transcripts.asr import WhisperTranscriber  # noqa: E402

SERVICES = ROOT / "benchmarks" / "data" / "services"
BASELINE = "base-before"
DEFAULT_SETTINGS = (BASELINE, "base", "base-prompt")


@dataclass
class Row:
    """Figures of one service, mode and setting."""

    service: str
    mode: str
    setting: str
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    wer: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    speaker_ok: bool = False
    authors_found: int = 0
    authors: int = 0
    themes_found: int = 0
    themes: int = 0
    extra: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    speaker: str | None = None
    transcript: str = ""  # what the recogniser heard (in --json only)

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else 0.0


def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 (1.0 when nothing was predicted or expected)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


_TITLES = word_set(
    "pastor pastora pr pra dr dra doutor doutora doctor reverend reverendo rev bispo bishop "
    "elder presbitero missionario missionaria apostolo evangelista diacono deacon"
)


def same_person(found: str | None, names: Sequence[str]) -> bool:
    """Whether ``found`` names the person of ``names``: titles aside, the same words, or the
    same surname with the first name (or its initial) agreeing ("C. S. Lewis" = "Lewis")."""
    if not found:
        return False
    mine = [w for w in fold(found).replace(".", " ").split() if w not in _TITLES]
    for name in names:
        theirs = [w for w in fold(name).replace(".", " ").split() if w not in _TITLES]
        if not mine or not theirs:
            continue
        if mine == theirs or (mine[-1] == theirs[-1] and (len(mine) == 1 or len(theirs) == 1)):
            return True
        if mine[-1] == theirs[-1] and mine[0][0] == theirs[0][0]:
            return True
    return False


def theme_found(gold: str, themes: Sequence[str]) -> bool:
    """Whether a listener's theme (``"Healing / Cura interior"`` or one name) is among the
    summary's: any of its names in either language holds all the words of a found theme's
    name in either language ("God's love" holds "Love", "Cura interior" holds "Cura")."""
    wanted = [set(fold(name).replace("'s", "").split()) for name in gold.split("/")]
    for entry in THEMES:
        if entry.names["pt"] in themes or entry.names["en"] in themes:
            for name in entry.names.values():
                words = set(fold(name).split()) - {"de", "a", "o", "of", "the", "em", "in"}
                if any(words and words <= w for w in wanted):
                    return True
    return False


def score(summary: SummaryDTO, service: Service, row: Row) -> None:
    """Compare ``summary`` with the service's gold into ``row``."""
    gold = service.gold
    found = Counter((p.book_id, p.chapter, p.verse_start, p.verse_end) for p in summary.passages)
    wanted = Counter(
        (p["book_id"], p["chapter"], p["verse_start"], p["verse_end"]) for p in gold["passages"]
    )
    row.tp = sum((found & wanted).values())
    row.fp, row.fn = sum(found.values()) - row.tp, sum(wanted.values()) - row.tp
    row.extra = [str(k) for k in (found - wanted)]
    row.missed = [str(k) for k in (wanted - found)]
    row.speaker = summary.speaker
    row.speaker_ok = same_person(
        summary.speaker, [gold["speaker"], *gold.get("speaker_aliases", [])]
    )
    row.authors = len(gold.get("citations", []))
    row.authors_found = sum(
        any(
            same_person(c.author, [cited["author"], *cited.get("author_aliases", [])])
            for c in summary.citations
        )
        for cited in gold.get("citations", [])
    )
    row.themes = len(gold.get("themes", []))
    row.themes_found = sum(theme_found(theme, summary.themes) for theme in gold["themes"])


def script_transcript(service: Service) -> Transcript:
    """The script as a transcript: one segment per line, 6 s apart."""
    segments = [
        TranscriptSegment(start=i * 6.0, end=i * 6.0 + 6.0, text=line)
        for i, line in enumerate(service.lines)
    ]
    return Transcript(source="file", language=service.lang, segments=segments)


def make_transcriber(setting: str) -> WhisperTranscriber:
    """The recogniser of a setting name (see the module docstring)."""
    if setting == BASELINE:
        # The worker's decoding before issue 24 (the README's bench_asr.py figures).
        return WhisperTranscriber(
            beam_size=5,
            batch_size=8,
            no_repeat_ngram_size=4,
            cpu_threads=0,
            bible_prompt=False,
            redecode_starved=False,
        )
    model, *flags = setting.split("-")
    transcriber = WhisperTranscriber(None if model == "base" else model)
    for flag in flags:
        if flag in ("prompt", "noprompt"):
            transcriber.bible_prompt = flag == "prompt"
        elif flag.startswith("beam") and flag[4:].isdigit():
            transcriber.beam_size = int(flag[4:])
        elif flag.startswith("batch") and flag[5:].isdigit():
            transcriber.batch_size = int(flag[5:])
        elif flag.startswith("threads") and flag[7:].isdigit():
            transcriber.cpu_threads = int(flag[7:])
        elif flag in ("retry", "noretry"):
            transcriber.redecode_starved = flag == "retry"
        else:
            raise SystemExit(f"{setting}: unknown flag {flag!r}")
    return transcriber


def run(
    services: Sequence[Service], settings: Sequence[str], modes: Sequence[str], show: bool
) -> list[Row]:
    """Speak, transcribe, analyse and score every service in every mode and setting."""
    rows: list[Row] = []
    for service in services:
        text_row = Row(service.name, "script", "text")
        score(analyze(script_transcript(service), language=service.lang), service, text_row)
        rows.append(text_row)
    transcribers = {s: make_transcriber(s) for s in settings}
    with tempfile.TemporaryDirectory(prefix="eval-audio-") as tmp:
        for service in services:
            for mode in modes:
                audio = Path(tmp) / f"{service.name}-{mode}.wav"
                seconds = speak(service, mode, audio, Path(tmp))
                reference = words(service.text)
                for setting in settings:
                    transcriber = transcribers[setting]
                    transcriber.load()
                    started, cpu = time.perf_counter(), time.process_time()
                    transcript = transcriber.transcribe(audio, language=service.lang)
                    row = Row(service.name, mode, setting, audio_s=seconds)
                    row.wall_s = time.perf_counter() - started
                    row.cpu_s = time.process_time() - cpu
                    row.transcript = transcript.text
                    row.wer = (
                        100.0 * sum(edit_counts(reference, words(transcript.text))) / len(reference)
                    )
                    score(analyze(transcript, language=service.lang), service, row)
                    rows.append(row)
                    print(_line(row), flush=True)
                    if show:
                        print(f"    {transcript.text}\n")
    return rows


def rescore(path: Path, services: Sequence[Service]) -> list[Row]:
    """Rows of an earlier ``--json`` run, their saved transcripts analysed again with today's
    analyser (recognition figures kept as measured): analysis changes cost no audio run."""
    by_name = {s.name: s for s in services}
    rows: list[Row] = []
    for saved in json.loads(path.read_text(encoding="utf-8"))["rows"]:
        service = by_name.get(saved["service"])
        if service is None:
            continue
        row = Row(**{k: v for k, v in saved.items() if k in Row.__dataclass_fields__})
        if row.setting == "text":
            transcript = script_transcript(service)
        else:
            sentences = re.split(r"(?<=[.!?])\s+", row.transcript)
            transcript = Transcript(
                source="asr",
                language=service.lang,
                segments=[
                    TranscriptSegment(start=i * 4.0, end=i * 4.0 + 4.0, text=text)
                    for i, text in enumerate(sentences)
                    if text.strip()
                ],
            )
        score(analyze(transcript, language=service.lang), service, row)
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(row: Row) -> str:
    p, r, f = f1(row.tp, row.fp, row.fn)
    timing = (
        f"{row.audio_s:6.1f} {row.rtf:6.3f} {row.cpu_s / row.audio_s:6.3f} {row.wer:6.1f}"
        if row.audio_s
        else " " * 27
    )
    return (
        f"{row.service:<22} {row.mode:<10} {row.setting:<14} {timing} "
        f"{p:5.2f} {r:5.2f} {f:5.2f} {'yes' if row.speaker_ok else 'NO':>4} "
        f"{row.authors_found}/{row.authors:<3} {row.themes_found}/{row.themes:<3}"
        + (f" extra={row.extra}" if row.extra else "")
        + (f" missed={row.missed}" if row.missed else "")
        + ("" if row.speaker_ok else f" speaker={row.speaker!r}")
    )


def summarise(rows: Sequence[Row], settings: Sequence[str]) -> dict[str, dict[str, float]]:
    """Micro-averaged figures per setting (and mode), with ratios against the baseline."""
    table: dict[str, dict[str, float]] = {}
    keys = [("text", "script")] + [(s, m) for s in settings for m in MODES]
    for setting, mode in keys:
        picked = [r for r in rows if r.setting == setting and r.mode == mode]
        if not picked:
            continue
        tp, fp, fn = (sum(getattr(r, k) for r in picked) for k in ("tp", "fp", "fn"))
        p, r, f = f1(tp, fp, fn)
        audio = sum(r.audio_s for r in picked)
        table[f"{setting}/{mode}"] = {
            "services": len(picked),
            "precision": round(p, 3),
            "recall": round(r, 3),
            "f1": round(f, 3),
            "rtf": round(sum(r.wall_s for r in picked) / audio, 4) if audio else 0.0,
            "cpu_per_audio_s": round(sum(r.cpu_s for r in picked) / audio, 4) if audio else 0.0,
            "wer": round(sum(r.wer * r.audio_s for r in picked) / audio, 1) if audio else 0.0,
            "speaker_right": sum(r.speaker_ok for r in picked),
            "authors": round(
                sum(r.authors_found for r in picked) / max(1, sum(r.authors for r in picked)), 3
            ),
            "themes": round(
                sum(r.themes_found for r in picked) / max(1, sum(r.themes for r in picked)), 3
            ),
        }
    for name, figures in table.items():
        base = table.get(f"{BASELINE}/{name.split('/')[1]}")
        if base and figures["rtf"]:
            figures["speedup_vs_baseline"] = round(base["rtf"] / figures["rtf"], 2)
            figures["f1_minus_baseline"] = round(figures["f1"] - base["f1"], 3)
    return table


def parse_args(
    argv: Sequence[str] | None,
) -> tuple[argparse.Namespace, list[str], list[str], list[Service]]:
    """The command line, checked: the arguments, settings, modes and services it names."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, default=SERVICES)
    parser.add_argument("--settings", default=",".join(DEFAULT_SETTINGS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--only", help="only the services whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--show-text", action="store_true", help="print each transcript")
    parser.add_argument(
        "--text-only", action="store_true", help="analyse the scripts only (no audio, fast)"
    )
    parser.add_argument(
        "--rescore", type=Path, help="re-analyse the transcripts saved by an earlier --json run"
    )
    args = parser.parse_args(argv)
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in MODES for m in modes):
        parser.error(f"--modes: {', '.join(MODES)}")
    services = [s for s in load_services(args.dir) if not args.only or args.only in s.name]
    if not services:
        parser.error(f"no services (*.txt with *.gold.json) in {args.dir}")
    return args, settings, modes, services


def print_summary(table: dict[str, dict[str, float]]) -> None:
    """One line per setting and mode: passages, speed, WER and the ratios to the baseline."""
    print(
        f"\n{'setting/mode':<26} {'P':>6} {'R':>6} {'F1':>6} {'RTF':>7} {'CPU/s':>6} {'WER%':>6} "
        f"{'speedup':>8} {'ΔF1':>7} speaker authors themes"
    )
    for name, fig in table.items():
        print(
            f"{name:<26} {fig['precision']:6.3f} {fig['recall']:6.3f} {fig['f1']:6.3f} "
            f"{fig['rtf']:7.4f} {fig['cpu_per_audio_s']:6.3f} {fig['wer']:6.1f} "
            f"{fig.get('speedup_vs_baseline', 0):7.2f}x "
            f"{fig.get('f1_minus_baseline', 0):+7.3f} {int(fig['speaker_right'])}/"
            f"{int(fig['services'])}     {fig['authors']:.2f}    {fig['themes']:.2f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args, settings, modes, services = parse_args(argv)
    if not (args.text_only or args.rescore) and not asr.asr_available():
        print("speech recognition is not installed: pip install -e '.[asr]'", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    print(f"{len(services)} services, {os.cpu_count()} CPUs, load average {load_before:.2f}")
    print(
        f"{'service':<22} {'mode':<10} {'setting':<14} {'audio':>6} {'RTF':>6} {'CPU/s':>6} "
        f"{'WER%':>6} "
        f"{'P':>5} {'R':>5} {'F1':>5} {'spkr':>4} auth themes"
    )
    if args.rescore:
        rows = rescore(args.rescore, services)
        settings = sorted({r.setting for r in rows if r.setting != "text"})
    else:
        rows = run(services, [] if args.text_only else settings, modes, args.show_text)
    for row in rows:
        if row.setting == "text":
            print(_line(row))
    load_after = os.getloadavg()[0]
    table = summarise(rows, settings)
    print_summary(table)
    print(
        f"\nratios against {BASELINE} in this run; load average before {load_before:.2f}, "
        f"after {load_after:.2f} (1 min)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "load_average": [load_before, load_after],
                    "cpus": os.cpu_count(),
                    "summary": table,
                    "rows": [asdict(r) | {"rtf": r.rtf} for r in rows],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
