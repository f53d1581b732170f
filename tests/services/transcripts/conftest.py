"""Fixtures for the transcript-source tests: generated audio and speech, a loaded recogniser."""

from __future__ import annotations

import gc
import importlib.util
import math
import struct
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.transcripts import WhisperTranscriber
from tests.support import spoken_wav

HAS_FASTER_WHISPER = importlib.util.find_spec("faster_whisper") is not None


def write_tone(path: Path, seconds: float = 2.0, rate: int = 16_000) -> Path:
    """A mono 16-bit sine-wave WAV (no speech; enough for download tests)."""
    frames = int(seconds * rate)
    samples = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


@pytest.fixture
def make_tone() -> Callable[..., Path]:
    """:func:`write_tone` as a fixture, for test modules (they cannot import conftest)."""
    return write_tone


@pytest.fixture
def tone_wav(tmp_path: Path) -> Path:
    """A 2-second WAV (~64 KB) in a fresh directory."""
    src = tmp_path / "src"
    src.mkdir()
    return write_tone(src / "culto.wav")


YTDLP_FILE_LEAK = "ignore:unclosed file <_io.FileIO name=:ResourceWarning"
"""yt-dlp (2026.10.26) never closes the urllib response of a ``file://`` download: its HTTP
downloader keeps ``ctx.data`` open (yt_dlp/downloader/http.py), so the file object warns when it
is garbage-collected. Modules that download ``file://`` URLs filter exactly this warning and use
:func:`collect_leaked_files` so the warning fires (and is ignored) inside them."""


@pytest.fixture
def collect_leaked_files() -> Iterator[None]:
    """Garbage-collect after the test, while the module's warning filter is still active."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def transcriber(tmp_path_factory: pytest.TempPathFactory) -> WhisperTranscriber:
    """One loaded bundled base model (int8, greedy) for the module."""
    if not HAS_FASTER_WHISPER:
        pytest.skip("faster-whisper is not installed (the [asr] extra)")
    t = WhisperTranscriber(cache_dir=tmp_path_factory.mktemp("models"), beam_size=1)
    t.load()
    return t


SERMON_MINUTE = (
    "Irmãos, Deus é amor. A esperança cristã não nasce da ausência de sofrimento. "
    "Ela nasce no meio da luta, quando descobrimos que Deus continua fiel. "
    "Jesus disse aos seus discípulos que no mundo eles teriam aflições, "
    "mas que tivessem bom ânimo, porque ele venceu o mundo. "
    "A oração não é o último recurso do cristão, é o primeiro. "
    "Na oração entregamos a Deus aquilo que não conseguimos controlar. "
    "Que o Senhor encha cada coração de alegria e de paz. Amém."
)
"""About 45 s when spoken: more than one 30 s chunk, so batched decoding yields several
segments."""


@pytest.fixture(scope="module")
def sermon_minute_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:data:`SERMON_MINUTE` spoken by espeak-ng (pt-BR, slowish: the base model's comfort)."""
    path = tmp_path_factory.mktemp("sermon") / "sermao.wav"
    return spoken_wav(path, SERMON_MINUTE, speed=130, gap=4)
