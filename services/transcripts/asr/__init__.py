"""Speech recognition with faster-whisper (the optional ``[asr]`` extra).

:class:`~services.transcripts.asr.transcriber.WhisperTranscriber` loads a model and decodes
audio into a :class:`~schemas.transcripts.Transcript`; batched decoding's chunks are split into
sentences and decoded again where decoding stopped early
(:mod:`~services.transcripts.asr.chunks`); :mod:`~services.transcripts.asr.prompt` holds the
prompt of Bible book names.
"""

from .transcriber import WhisperTranscriber, asr_available, transcribe_audio

__all__ = ["WhisperTranscriber", "asr_available", "transcribe_audio"]
