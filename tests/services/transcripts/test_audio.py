"""Audio download with yt-dlp: file:// and local HTTP URLs, progress, refusals, error mapping."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from culto.errors import PermanentStageError, TransientStageError
from services.transcripts import download_audio
from services.transcripts.fetch_policy import FetchPolicy

# yt-dlp leaves file:// downloads open; see YTDLP_FILE_LEAK in conftest.py.
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed file <_io.FileIO name=:ResourceWarning"),
    pytest.mark.usefixtures("collect_leaked_files"),
]


LOCAL = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_private_addresses=True)
"""The local test servers stand in for a video site: loopback must be allowed explicitly
(what ``CULTO_ALLOW_PRIVATE_FETCH=1`` does), the default policy refuses it."""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str) -> None:
        self.calls.append((fraction, message))


def _assert_progress(calls: list[tuple[float, str]]) -> None:
    fractions = [f for f, _ in calls]
    assert len(calls) >= 3
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions[-1] == 1.0 and calls[-1][1] == "Audio downloaded"
    assert fractions.count(1.0) == 1
    assert any(0.0 < f < 1.0 for f in fractions)
    assert all("Downloading audio:" in m and " of " in m and "MB" in m for _, m in calls[:-1])


def test_http_download_with_progress(
    tone_wav: Path, http_dir: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = http_dir
    (root / "culto.wav").write_bytes(tone_wav.read_bytes())
    progress = Recorder()
    out = download_audio(f"{base}/culto.wav", tmp_path / "dl", on_progress=progress, policy=LOCAL)
    assert out.suffix == ".wav" and out.stat().st_size == tone_wav.stat().st_size
    _assert_progress(progress.calls)


def test_without_callback(tone_wav: Path, http_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, root = http_dir
    (root / "culto.wav").write_bytes(tone_wav.read_bytes())
    out = download_audio(f"{base}/culto.wav", tmp_path / "dl", policy=LOCAL)
    assert out == tmp_path / "dl" / "audio.wav"
    assert out.read_bytes() == tone_wav.read_bytes()


def test_file_urls_are_refused(tone_wav: Path, tmp_path: Path) -> None:
    with pytest.raises(PermanentStageError) as info:
        download_audio(tone_wav.as_uri(), tmp_path, policy=LOCAL)
    assert info.value.code == "unsupported_url"


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.org/a.mp3", "http://", "javascript:x"])
def test_unsupported_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(PermanentStageError) as info:
        download_audio(url, tmp_path, policy=LOCAL)
    assert info.value.code == "unsupported_url"


def test_http_404_is_permanent(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_dir
    with pytest.raises(PermanentStageError) as info:
        download_audio(f"{base}/nada.wav", tmp_path, policy=LOCAL)
    assert info.value.code == "audio_not_found"
    assert info.value.details["http_status"] == 404
    assert "\n" not in info.value.message


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    # A port nobody listens on (bound, then released).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientStageError) as info:
        download_audio(f"http://127.0.0.1:{port}/a.wav", tmp_path, policy=LOCAL)
    assert info.value.code == "download_network_error"


def test_html_page_is_unsupported(http_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, root = http_dir
    (root / "page.html").write_text("<html><body>sem vídeo</body></html>", encoding="utf-8")
    with pytest.raises(PermanentStageError) as info:
        download_audio(f"{base}/page.html", tmp_path, policy=LOCAL)
    assert info.value.code == "unsupported_url"


def test_too_large(tone_wav: Path, http_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, root = http_dir
    (root / "culto.wav").write_bytes(tone_wav.read_bytes())
    with pytest.raises(PermanentStageError) as info:
        download_audio(f"{base}/culto.wav", tmp_path / "dl", max_filesize=10_000, policy=LOCAL)
    assert info.value.code == "audio_too_large"


# yt-dlp's HttpFD closes its file but not its HTTP response when a progress hook raises; the
# socket is closed by its finalizer. That upstream leak is the only warning tolerated here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_progress_callback_can_cancel(
    tone_wav: Path, http_dir: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = http_dir
    (root / "culto.wav").write_bytes(tone_wav.read_bytes())

    class Cancelled(Exception):
        pass

    def cancel(fraction: float, message: str) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        download_audio(f"{base}/culto.wav", tmp_path, on_progress=cancel, policy=LOCAL)
