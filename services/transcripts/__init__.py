"""Transcript sources: inline transcripts, YouTube captions, and audio download + recognition.

Everything here is synchronous; the worker runs it in a thread. Errors are
:class:`~culto.errors.CultoError` subclasses with stable codes:

- bad inline transcripts raise :class:`~culto.errors.TranscriptError`;
- YouTube, download and recognition failures raise
  :class:`~culto.errors.TransientStageError` (retry) or
  :class:`~culto.errors.PermanentStageError` (do not).
"""

from __future__ import annotations

from .asr import WhisperTranscriber, asr_available, transcribe_audio
from .audio import download_audio
from .decode import DEFAULT_MAX_BYTES, decode_transcript
from .fetch_policy import DEFAULT_VIDEO_HOSTS, FetchPolicy, FetchRefused
from .parse import parse_transcript
from .progress import ProgressCallback
from .youtube import ASR_FALLBACK_CODES, fetch_youtube_captions

__all__ = [
    "ASR_FALLBACK_CODES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_VIDEO_HOSTS",
    "FetchPolicy",
    "FetchRefused",
    "ProgressCallback",
    "WhisperTranscriber",
    "asr_available",
    "decode_transcript",
    "download_audio",
    "fetch_youtube_captions",
    "parse_transcript",
    "transcribe_audio",
]
