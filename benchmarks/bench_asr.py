"""Benchmark: speech-recognition speed (real-time factor) and accuracy (WER) per decoding setting.

A fixed Portuguese sermon (29 paragraphs, 718 words, below) is spoken by espeak-ng (Brazilian
voice), one paragraph at a time at three paces in turn (130, 145 and 160 words per minute, the
slower ones with small gaps between words, as preachers slow down and speed up) with pauses
between paragraphs: about five minutes of audio. Every setting then transcribes that same file
with the bundled Whisper base model (int8, loaded once through the project's own
``WhisperTranscriber``), and a table shows side by side, from one run on one machine:

* audio seconds, wall seconds and the real-time factor (wall / audio; lower is faster);
* the word error rate against the source text: word-level Levenshtein distance / source words,
  after lower-casing and stripping punctuation (accents are kept: a lost accent is an error);
* the speed-up and the WER difference against today's setting (``beam5-sequential``);
* the number of progress reports and whether they ascended to a single final 100 %.

Settings are named ``{greedy|beamN}-{sequential|batchN}[-norepeatN]``: beam width, then either
one 30 s window at a time (faster-whisper's ``WhisperModel.transcribe``, with temperature
fallback) or ``BatchedInferencePipeline`` over VAD chunks ``N`` at a time (with the word times
that split chunks into sentences, as the worker runs it), optionally forbidding repeated
``N``-token sequences inside a chunk. The setting that matches ``WhisperTranscriber``'s defaults
is starred. The goal it was chosen against: real-time factor ≤ 0.06 on 2 cores with a WER at
most 2 points above ``beam5-sequential``.

Usage::

    .venv/bin/python benchmarks/bench_asr.py [--settings beam5-sequential,beam5-batch8-norepeat4]
        [--paragraphs 29] [--runs 1] [--json PATH] [--keep-audio PATH]

Needs the ``[asr]`` extra and espeak-ng. The default run takes three to four minutes on 2 idle
cores; the machine should be otherwise idle, since the settings are compared by wall time (the
load average is printed before and after).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import wave
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.transcripts import asr  # noqa: E402
from services.transcripts.asr import WhisperTranscriber  # noqa: E402

SOURCE_PARAGRAPHS = (
    "Irmãos e irmãs, que alegria estarmos reunidos mais uma vez na casa do Senhor. Hoje quero "
    "conversar com vocês sobre a esperança que não decepciona.",
    "Vivemos dias difíceis. Muitas famílias enfrentam desemprego, doença e solidão. Alguns de "
    "vocês chegaram aqui cansados, carregando um peso que ninguém vê.",
    "A palavra de Deus não ignora a nossa dor. Pelo contrário, a Bíblia está cheia de pessoas "
    "que choraram, que duvidaram e que pensaram em desistir.",
    "Pensem em Elias debaixo do zimbro. Ele tinha acabado de ver o fogo descer do céu, mas logo "
    "depois fugiu com medo e pediu para morrer.",
    "E o que Deus fez? Deus não o repreendeu. Primeiro mandou um anjo com pão e água. Deixou o "
    "profeta dormir e comer, e só depois falou com ele numa brisa suave.",
    "Às vezes a nossa maior necessidade espiritual é descansar e receber o cuidado do Pai. Deus "
    "conhece a nossa estrutura e lembra que somos pó.",
    "O apóstolo Paulo escreveu aos romanos que a tribulação produz perseverança, a perseverança "
    "produz caráter aprovado, e o caráter produz esperança.",
    "E a esperança não nos deixa envergonhados, porque o amor de Deus foi derramado em nosso "
    "coração pelo Espírito Santo que nos foi dado.",
    "Reparem na ordem dessas palavras. A esperança cristã não nasce da ausência de sofrimento. "
    "Ela nasce no meio da luta, quando descobrimos que Deus continua fiel.",
    "Muita gente confunde esperança com otimismo. O otimismo diz que tudo vai dar certo. A "
    "esperança diz que, mesmo que nada dê certo, Deus continua sendo bom.",
    "O otimismo depende das circunstâncias. A esperança depende de uma pessoa, e essa pessoa é "
    "Jesus Cristo, que venceu a morte e vive para sempre.",
    "Lembro de uma irmã da nossa igreja que perdeu o marido depois de uma longa doença. No culto "
    "de despedida ela cantou com lágrimas nos olhos.",
    "Perguntei como ela conseguia cantar naquele momento. Ela respondeu que a tristeza era "
    "verdadeira, mas a promessa da ressurreição era ainda mais verdadeira.",
    "Isso é esperança. Não é negar a dor, mas olhar para além dela. É saber que o túmulo vazio "
    "de Jesus é a garantia de que a última palavra pertence a Deus.",
    "Jesus disse aos seus discípulos que no mundo eles teriam aflições, mas que tivessem bom "
    "ânimo, porque ele venceu o mundo.",
    "Observem que Jesus não prometeu uma vida sem problemas. Ele prometeu a sua presença e a sua "
    "vitória. Essas duas coisas mudam tudo.",
    "Então, como podemos cultivar essa esperança no dia a dia? Quero deixar com vocês três "
    "atitudes simples.",
    "A primeira atitude é lembrar. O salmista, quando estava abatido, dizia para a própria alma "
    "que se lembraria das obras do Senhor e das suas maravilhas antigas.",
    "Faça uma lista das vezes em que Deus cuidou de você. Escreva, conte para os seus filhos, "
    "repita em voz alta. A memória da fidelidade de Deus alimenta a fé.",
    "A segunda atitude é orar. A oração não é o último recurso do cristão, é o primeiro. Na "
    "oração entregamos a Deus aquilo que não conseguimos controlar.",
    "Paulo ensinou os filipenses a não andarem ansiosos por coisa alguma, mas apresentarem tudo "
    "a Deus em oração, com ações de graças.",
    "E a paz de Deus, que excede todo entendimento, guardará o coração e a mente de vocês em "
    "Cristo Jesus.",
    "A terceira atitude é caminhar juntos. Ninguém foi chamado para viver a fé sozinho. A igreja "
    "é uma família onde carregamos os fardos uns dos outros.",
    "Se você está passando por um vale, não se isole. Procure um irmão, procure os pastores, "
    "venha aos grupos de oração durante a semana.",
    "E se você está num tempo bom, olhe ao redor. Talvez a pessoa sentada ao seu lado precise de "
    "uma palavra de ânimo, de uma visita ou de uma refeição.",
    "Meus irmãos, o nosso Deus é o Deus da esperança. Ele não prometeu que o caminho seria "
    "fácil, mas prometeu que nunca nos deixaria.",
    "Que o Senhor encha cada coração de alegria e de paz, para que vocês transbordem de "
    "esperança pelo poder do Espírito Santo.",
    "Vamos orar. Senhor, obrigado porque a tua misericórdia se renova a cada manhã. Recebe as "
    "nossas lágrimas e transforma o nosso choro em louvor.",
    "Fortalece quem está cansado, consola quem está de luto, e dá trabalho a quem está "
    "desempregado. Em nome de Jesus. Amém.",
)
"""The spoken text and the reference for the WER. Numbers are written as words, since Whisper
may write them either way."""

PACES = ((130, 4), (145, 2), (160, 0))
"""(espeak-ng words per minute, extra gap between words in units of 10 ms), cycled per paragraph.
Uniform fast speech without gaps is hard for the base model (WER ≈ 50 % in trials); the mix
varies the difficulty as preaching does, and leaves the VAD pauses to cut at."""

PARAGRAPH_PAUSE_S = 0.8
BASELINE = "beam5-sequential"
DEFAULT_SETTINGS = (
    BASELINE,
    "greedy-sequential",
    "greedy-batch4",
    "greedy-batch8",
    "greedy-batch16",
    "greedy-batch8-norepeat4",
    "beam5-batch8",
    "beam5-batch4-norepeat4",
    "beam5-batch8-norepeat4",
    "beam5-batch16-norepeat4",
)
GOAL_RTF = 0.06
GOAL_WER_POINTS = 2.0
_SETTING = re.compile(r"(?:greedy|beam(?P<beam>\d+))-(?:sequential|batch(?P<batch>\d+))")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One decoding configuration of :class:`WhisperTranscriber`."""

    name: str
    beam_size: int
    batch_size: int  # 0 = sequential
    no_repeat_ngram_size: int

    @classmethod
    def parse(cls, name: str) -> Setting:
        """``beam5-batch8-norepeat4`` → Setting(beam 5, batch 8, no repeated 4-grams)."""
        base, _, guard = name.partition("-norepeat")
        match = _SETTING.fullmatch(base)
        if match is None or (guard and not guard.isdigit()):
            raise ValueError(f"bad setting {name!r}: expected e.g. beam5-batch8-norepeat4")
        batch = int(match["batch"] or 0)
        if guard and batch == 0:
            raise ValueError(f"{name}: -norepeat applies to batched decoding only")
        if match["beam"] is not None and int(match["beam"]) < 1:
            raise ValueError(f"{name}: the beam width must be at least 1")
        return cls(name, int(match["beam"] or 1), batch, int(guard or 0))

    def matches(self, transcriber: WhisperTranscriber) -> bool:
        """Whether ``transcriber`` (as configured) decodes with this setting."""
        batched = transcriber.batched
        return (self.beam_size, self.batch_size, self.no_repeat_ngram_size) == (
            transcriber.beam_size,
            transcriber.batch_size if batched else 0,
            transcriber.no_repeat_ngram_size if batched else 0,
        )


@dataclasses.dataclass
class Result:
    """Figures of one setting (the fastest of its runs; WER averaged over runs)."""

    setting: str
    audio_s: float
    wall_s: list[float] = dataclasses.field(default_factory=list)
    wer: list[float] = dataclasses.field(default_factory=list)
    errors: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)
    segments: int = 0
    reports: int = 0
    progress_ok: bool = True
    text: str = ""

    @property
    def best_wall(self) -> float:
        return min(self.wall_s)

    @property
    def rtf(self) -> float:
        return self.best_wall / self.audio_s

    @property
    def mean_wer(self) -> float:
        return statistics.fmean(self.wer)


def words(text: str) -> list[str]:
    """Lower-cased words without punctuation (accents kept), for the WER."""
    text = unicodedata.normalize("NFC", text).lower()
    return re.sub(r"[^\w]+|_", " ", text).split()


def edit_counts(ref: Sequence[str], hyp: Sequence[str]) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of a minimal word-level alignment."""
    # cost[i][j]: distance between ref[:i] and hyp[:j]; ~700 x 700 cells, fine in pure Python.
    cost = [list(range(len(hyp) + 1))]
    for i, r in enumerate(ref, 1):
        row = [i]
        prev = cost[-1]
        for j, h in enumerate(hyp, 1):
            row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h)))
        cost.append(row)
    subs = dels = ins = 0
    i, j = len(ref), len(hyp)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            subs += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            dels, i = dels + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return subs, dels, ins


def synthesise(paragraphs: Sequence[str], out: Path, workdir: Path) -> float:
    """Speak ``paragraphs`` into one 16-bit mono WAV; returns its duration in seconds."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
    params = None
    chunks: list[bytes] = []
    for index, paragraph in enumerate(paragraphs):
        wpm, gap = PACES[index % len(PACES)]
        part = workdir / f"p{index:02d}.wav"
        subprocess.run(
            [exe, "-v", "pt-br", "-s", str(wpm), "-g", str(gap), "-w", str(part), paragraph],
            check=True,
            capture_output=True,
            timeout=60,
        )
        with wave.open(str(part), "rb") as src:
            params = params or src.getparams()
            if src.getparams()[:3] != params[:3]:
                raise SystemExit("espeak-ng changed its output format between paragraphs")
            chunks.append(src.readframes(src.getnframes()))
    assert params is not None
    pause = b"\x00" * (
        params.sampwidth * params.nchannels * int(params.framerate * PARAGRAPH_PAUSE_S)
    )
    with wave.open(str(out), "wb") as dst:
        dst.setnchannels(params.nchannels)
        dst.setsampwidth(params.sampwidth)
        dst.setframerate(params.framerate)
        for chunk in chunks:
            dst.writeframes(pause + chunk)
        dst.writeframes(pause)
    with wave.open(str(out), "rb") as done:
        return done.getnframes() / done.getframerate()


def run_setting(
    transcriber: WhisperTranscriber,
    setting: Setting,
    audio: Path,
    reference: Sequence[str],
    result: Result,
) -> None:
    """Transcribe ``audio`` once with ``setting`` and add the figures to ``result``."""
    transcriber.beam_size = setting.beam_size
    transcriber.batch_size = setting.batch_size
    transcriber.no_repeat_ngram_size = setting.no_repeat_ngram_size
    progress: list[float] = []
    started = time.perf_counter()
    transcript = transcriber.transcribe(
        audio, language="pt", on_progress=lambda fraction, _: progress.append(fraction)
    )
    result.wall_s.append(time.perf_counter() - started)
    counts = edit_counts(reference, words(transcript.text))
    result.errors.append(counts)
    result.wer.append(100.0 * sum(counts) / len(reference))
    result.segments = len(transcript.segments)
    result.reports = len(progress)
    result.progress_ok = result.progress_ok and (
        progress == sorted(progress) and progress[-1] == 1.0 and progress.count(1.0) == 1
    )
    result.text = transcript.text


def print_table(results: Sequence[Result], default: str) -> None:
    """The figures side by side, ratios against :data:`BASELINE`."""
    base = next((r for r in results if r.setting == BASELINE), None)
    header = (
        f"{'setting':<26} {'audio s':>7} {'wall s':>7} {'RTF':>6} {'WER %':>6} "
        f"{'speed-up':>8} {'ΔWER':>6} {'segs':>5} {'reports':>8} {'goal':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        speedup = f"{base.rtf / r.rtf:7.2f}x" if base else "       -"
        delta = f"{r.mean_wer - base.mean_wer:+6.1f}" if base else "     -"
        meets = base is not None and (
            r.rtf <= GOAL_RTF and r.mean_wer <= base.mean_wer + GOAL_WER_POINTS
        )
        star = "*" if r.setting == default else " "
        reports = f"{r.reports}{'' if r.progress_ok else ' BAD'}"
        print(
            f"{star}{r.setting:<25} {r.audio_s:7.1f} {r.best_wall:7.1f} {r.rtf:6.3f} "
            f"{r.mean_wer:6.1f} {speedup} {delta} {r.segments:5d} {reports:>8} "
            f"{'yes' if meets else 'no':>5}"
        )
    print(
        f"\n* = WhisperTranscriber's defaults. goal: RTF ≤ {GOAL_RTF} and WER ≤ "
        f"{BASELINE} + {GOAL_WER_POINTS:g} points. speed-up = {BASELINE} RTF / RTF."
    )


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[Setting]]:
    """The command line, checked: the arguments and the settings they name."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--settings",
        default=",".join(DEFAULT_SETTINGS),
        help="comma-separated setting names (default: %(default)s)",
    )
    parser.add_argument(
        "--paragraphs",
        type=int,
        default=len(SOURCE_PARAGRAPHS),
        help="speak only the first N paragraphs (default: all %(default)s, about five minutes)",
    )
    parser.add_argument("--runs", type=int, default=1, help="runs per setting; the fastest counts")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep-audio", type=Path, help="also keep the generated WAV here")
    parser.add_argument("--show-text", action="store_true", help="print each transcript")
    args = parser.parse_args(argv)
    try:
        settings = [Setting.parse(name.strip()) for name in args.settings.split(",") if name]
    except ValueError as exc:
        parser.error(str(exc))
    if not 1 <= args.paragraphs <= len(SOURCE_PARAGRAPHS) or args.runs < 1:
        parser.error(f"--paragraphs must be 1..{len(SOURCE_PARAGRAPHS)}, --runs at least 1")
    return args, settings


def warm_up(transcriber: WhisperTranscriber, audio: Path, reference: Sequence[str]) -> None:
    """Decode the first 12 s with both decoders, before anything is timed.

    The VAD model, CTranslate2's kernels and the page cache are then ready.
    """
    warm_audio = audio.with_name("warm.wav")
    with wave.open(str(audio), "rb") as src, wave.open(str(warm_audio), "wb") as w:
        w.setparams(src.getparams())
        w.writeframes(src.readframes(int(src.getframerate() * 12)))
    for warm in (Setting.parse("greedy-sequential"), Setting.parse("greedy-batch8")):
        run_setting(transcriber, warm, warm_audio, reference, Result("", 1.0))


def measure(
    args: argparse.Namespace,
    settings: Sequence[Setting],
    paragraphs: Sequence[str],
    reference: Sequence[str],
    load_before: tuple[float, float, float],
) -> tuple[dict[str, Result], float]:
    """Speak the paragraphs and transcribe them with every setting: results and audio seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        audio = Path(tmp) / "sermao.wav"
        seconds = synthesise(paragraphs, audio, Path(tmp))
        if args.keep_audio:
            shutil.copyfile(audio, args.keep_audio)
        print(
            f"{len(reference)} words, {seconds:.1f} s of espeak-ng speech; "
            f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f}",
            flush=True,
        )
        transcriber = WhisperTranscriber()
        transcriber.load()
        warm_up(transcriber, audio, reference)
        results = {s.name: Result(s.name, seconds) for s in settings}
        # Round-robin over the settings so that a burst of load elsewhere hits them alike.
        for _ in range(args.runs):
            for setting in settings:
                run_setting(transcriber, setting, audio, reference, results[setting.name])
                r = results[setting.name]
                print(f"  {setting.name}: {r.wall_s[-1]:.1f} s, WER {r.wer[-1]:.1f} %", flush=True)
    return results, seconds


def figures_json(
    results: Sequence[Result],
    *,
    seconds: float,
    reference: Sequence[str],
    paragraphs: Sequence[str],
    default: str,
    loads: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> dict[str, object]:
    """What ``--json`` writes: the machine, the versions, the audio and every setting's figures."""
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": loads[0],
            "load_average_after": loads[1],
        },
        "versions": {name: metadata.version(name) for name in ("faster-whisper", "ctranslate2")},
        "audio": {
            "seconds": round(seconds, 2),
            "words": len(reference),
            "paragraphs": len(paragraphs),
            "paces": PACES,
        },
        "baseline": BASELINE,
        "default": default,
        "goal": {"rtf": GOAL_RTF, "wer_points_over_baseline": GOAL_WER_POINTS},
        "results": [
            {
                "setting": r.setting,
                "audio_s": round(r.audio_s, 2),
                "wall_s": [round(w, 2) for w in r.wall_s],
                "rtf": round(r.rtf, 4),
                "wer": round(r.mean_wer, 2),
                "wer_runs": [round(w, 2) for w in r.wer],
                "sub_del_ins": r.errors,
                "segments": r.segments,
                "progress_reports": r.reports,
                "progress_ok": r.progress_ok,
            }
            for r in results
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args, settings = parse_args(argv)
    if not asr.asr_available():
        print("speech recognition is not installed: pip install -e '.[asr]'", file=sys.stderr)
        return 2

    paragraphs = SOURCE_PARAGRAPHS[: args.paragraphs]
    reference = words(" ".join(paragraphs))
    default = next((s.name for s in settings if s.matches(WhisperTranscriber())), "")
    load_before = os.getloadavg()
    results, seconds = measure(args, settings, paragraphs, reference, load_before)
    load_after = os.getloadavg()
    print()
    print_table(list(results.values()), default)
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    if args.show_text:
        for r in results.values():
            print(f"\n--- {r.setting}\n{r.text}")
    if args.json:
        figures = figures_json(
            list(results.values()),
            seconds=seconds,
            reference=reference,
            paragraphs=paragraphs,
            default=default,
            loads=(load_before, load_after),
        )
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
