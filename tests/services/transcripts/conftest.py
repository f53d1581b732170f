"""Fixtures for the transcript-source tests: generated audio and a local HTTP server."""

from __future__ import annotations

import gc
import math
import struct
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


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
