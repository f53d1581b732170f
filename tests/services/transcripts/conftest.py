"""Fixtures for the transcript-source tests: generated audio and a local HTTP server."""

from __future__ import annotations

import gc
import http.server
import math
import shutil
import struct
import subprocess
import threading
import wave
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

SPEECH_TEXT = "Deus é amor. João capítulo três versículo dezesseis."


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


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Brazilian Portuguese speech synthesised by espeak-ng (skips when espeak-ng is missing).

    Slow speech (-s 110) with word gaps (-g 8) keeps the tiny base model's recognition stable.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    path = tmp_path_factory.mktemp("speech") / "sermao.wav"
    subprocess.run(
        [exe, "-v", "pt-br", "-s", "110", "-g", "8", "-w", str(path), SPEECH_TEXT],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a temporary directory: ``(base_url, dir)``."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
