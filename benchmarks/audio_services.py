"""Whole services for the end-to-end evaluation: scripts with gold, spoken by espeak-ng.

A service is ``<name>.txt`` (one utterance per line, as a preacher would say it) with
``<name>.gold.json`` next to it: ``lang`` (or ``language``), ``speaker`` (+ optional
``speaker_aliases``), ``passages`` (``book_id``, ``chapter``, ``verse_start``, ``verse_end``),
``citations`` (``author`` with optional ``author_aliases``) and ``themes`` (canonical names, or
``"English / Português"`` pairs as in ``tests/data/services``). Lines starting with ``#`` are
comments.

:func:`speak` renders one service in one of two modes:

* ``paced``: line by line at :data:`PACES` in turn (slower lines with small gaps between
  words, as preachers slow down and speed up) with :data:`LINE_PAUSE_S` of silence after each
  line: the speech-and-pauses of a real service, which the VAD shortens;
* ``continuous``: the whole text in one breath at :data:`CONTINUOUS_WPM`, sentence
  punctuation read through, so there is no silence for the VAD to skip and the real-time
  factor is that of speech alone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACES = ((135, 3), (150, 1), (165, 0))
"""(espeak-ng words per minute, extra gap between words in 10 ms units), cycled per line."""
LINE_PAUSE_S = 0.7
CONTINUOUS_WPM = 165
VOICES = {"pt": "pt-br", "en": "en-us"}
MODES = ("paced", "continuous")


@dataclass(frozen=True)
class Service:
    """One service script and its gold."""

    name: str
    lang: str
    lines: tuple[str, ...]
    gold: dict[str, Any] = field(repr=False)

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def load_services(directory: Path) -> list[Service]:
    """Every ``*.txt`` with a ``*.gold.json`` beside it, sorted by name."""
    services = []
    for gold_path in sorted(directory.glob("*.gold.json")):
        script = gold_path.with_name(gold_path.name.replace(".gold.json", ".txt"))
        if not script.is_file():
            continue
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        lines = tuple(
            line.strip()
            for line in script.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )
        lang = str(gold.get("lang") or gold["language"])
        services.append(Service(script.stem, lang, lines, gold))
    return services


def _espeak(text: str, voice: str, wpm: int, gap: int, out: Path) -> None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(
        [exe, "-v", voice, "-s", str(wpm), "-g", str(gap), "-w", str(out), text],
        check=True,
        capture_output=True,
        timeout=600,
    )


def speak(service: Service, mode: str, out: Path, workdir: Path) -> float:
    """Render ``service`` to a 16-bit mono WAV at ``out``; returns its duration in seconds."""
    voice = VOICES[service.lang]
    parts: list[Path] = []
    if mode == "continuous":
        # Sentence marks make espeak pause; read through them so the speech never stops.
        flat = re.sub(r"[.!?;:,]+(?=\s|$)", "", service.text)
        parts.append(workdir / f"{service.name}-all.wav")
        _espeak(flat, voice, CONTINUOUS_WPM, 0, parts[0])
    else:
        for index, line in enumerate(service.lines):
            wpm, gap = PACES[index % len(PACES)]
            parts.append(workdir / f"{service.name}-{index:03d}.wav")
            _espeak(line, voice, wpm, gap, parts[-1])
    pause = LINE_PAUSE_S if mode == "paced" else 0.0
    return _concatenate(parts, pause, out)


def _concatenate(parts: list[Path], pause_s: float, out: Path) -> float:
    params = None
    with wave.open(str(out), "wb") as dst:
        for part in parts:
            with wave.open(str(part), "rb") as src:
                if params is None:
                    params = src.getparams()
                    dst.setnchannels(params.nchannels)
                    dst.setsampwidth(params.sampwidth)
                    dst.setframerate(params.framerate)
                frames = src.readframes(src.getnframes())
            silence = b"\x00" * (params.sampwidth * int(params.framerate * pause_s))
            dst.writeframes(frames + silence)
    with wave.open(str(out), "rb") as done:
        return done.getnframes() / done.getframerate()
