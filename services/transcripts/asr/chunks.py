"""Batched decoding's chunks: split into sentences, and decoded again where decoding stopped early.

Batched decoding (:class:`~.transcriber.WhisperTranscriber`'s default) decodes each VAD chunk of
up to 30 s without timestamps, so Whisper cannot resume a chunk the way sequential decoding seeks
past its last timestamp: when it ends a chunk early, the rest of the chunk is lost. In a
continuous English service (``benchmarks/eval_audio.py``) one chunk of 29.2 s came back as
"it would" (2 words where its neighbours had 105 to 117): "Romans six twenty three" and
"Titus three five" were never in the transcript. Chunks of 20 s only moved the loss elsewhere;
sequential decoding of the same audio kept every sentence, at 1.4 times the CPU.

So a chunk whose words per second fall below half the median of the transcription's long
chunks is *starved* (:func:`starved_chunks`), and only those are decoded again window by
window (:func:`redecode`, the transcriber's beam at temperature 0, no fallback), keeping
whichever reading has more words unless it is implausibly dense (a loop).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from schemas.transcripts import TranscriptSegment

__all__ = ["ChunkText", "redecode", "starved_chunks", "utterances"]

STARVED_SHARE: Final = 0.5
"""A chunk is starved below this share of the median words per second of the long chunks."""
MIN_CHUNK_S: Final = 10.0
"""Only chunks with at least this much speech are judged (a short one has too few words)."""
MIN_LONG_CHUNKS: Final = 3
"""Fewer long chunks give no median worth comparing with."""
MAX_DENSER: Final = 1.5
"""A reading denser than this many times the fastest long chunk is a loop, not speech."""
MAX_RETRY_SHARE: Final = 0.1
"""At most this share of the chunks (at least one) is decoded again, the starkest first: music
or a long prayer in another voice may be sparse for good reasons, and decoding a 29 s chunk
window by window cost 5.7 CPU seconds against about 3.2 in its batch (about twice), so retries
cost at most about a fifth more CPU."""
SAMPLING_RATE: Final = 16000


@dataclass(frozen=True)
class ChunkText:
    """What batched decoding gave for one VAD chunk."""

    offset_s: float
    """Where the chunk starts on the VAD's timeline (speech only, silences removed)."""
    words: int
    utterances: tuple[TranscriptSegment, ...]


def utterances(segment: Any, offset: float = 0.0) -> list[TranscriptSegment]:
    """The transcript segments of one recogniser segment: one per sentence when it carries
    word times (batched decoding's chunks of up to 30 s), else the segment itself; ``offset``
    is added to every time."""
    words = getattr(segment, "words", None)
    if not words:
        text = " ".join(str(segment.text).split())
        if not text:
            return []
        start, end = float(segment.start) + offset, float(segment.end) + offset
        return [TranscriptSegment(start=round(start, 3), end=round(end, 3), text=text)]
    out: list[TranscriptSegment] = []
    sentence: list[Any] = []
    for index, word in enumerate(words):
        sentence.append(word)
        ends_sentence = str(word.word).strip().rstrip("\"'”)]").endswith((".", "!", "?", "…"))
        if index + 1 < len(words) and not ends_sentence:
            continue
        # Words carry their own leading spaces ("-se" has none), so joined they give the text.
        text = " ".join("".join(str(w.word) for w in sentence).split())
        if text:
            start = float(sentence[0].start) + offset
            end = max(start, *(float(w.end) + offset for w in sentence))  # times may overlap
            out.append(TranscriptSegment(start=round(start, 3), end=round(end, 3), text=text))
        sentence = []
    return out


def chunk_text(segment: Any, found: Sequence[TranscriptSegment] | None = None) -> ChunkText | None:
    """One batched segment as a :class:`ChunkText` (``None`` without the chunk's ``seek``);
    ``found`` is its :func:`utterances` when already made."""
    seek = getattr(segment, "seek", None)
    if not isinstance(seek, int):
        return None
    kept = tuple(utterances(segment) if found is None else found)
    return ChunkText(seek / 100.0, sum(len(u.text.split()) for u in kept), kept)


def _spans(chunks: Sequence[ChunkText], speech_s: float) -> list[tuple[float, float]]:
    """Each chunk's (start, end) on the VAD timeline: it ends where the next one starts."""
    if not chunks:
        return []
    ends = [c.offset_s for c in chunks[1:]] + [speech_s]
    return [(c.offset_s, max(c.offset_s, end)) for c, end in zip(chunks, ends, strict=True)]


def _rates(chunks: Sequence[ChunkText], speech_s: float) -> list[tuple[int, float]]:
    """``(index, words per second)`` of the chunks long enough to judge."""
    spans = _spans(chunks, speech_s)
    return [
        (index, chunk.words / (end - start))
        for index, (chunk, (start, end)) in enumerate(zip(chunks, spans, strict=True))
        if end - start >= MIN_CHUNK_S
    ]


def typical_rate(chunks: Sequence[ChunkText], speech_s: float) -> float:
    """The median words per second of the long chunks (0.0 when there are none)."""
    rates = _rates(chunks, speech_s)
    return statistics.median(rate for _, rate in rates) if rates else 0.0


def starved_chunks(chunks: Sequence[ChunkText], speech_s: float) -> list[int]:
    """Indices of the chunks whose decoding stopped early, in order.

    Args:
        chunks: The batched decoder's chunks in order (a chunk that gave no segment at all is
            absent, and its neighbour's span then covers it: a retry recovers both).
        speech_s: Seconds of speech the VAD kept (the end of the last chunk).
    """
    rates = _rates(chunks, speech_s)
    if len(rates) < MIN_LONG_CHUNKS:
        return []
    bar = STARVED_SHARE * typical_rate(chunks, speech_s)
    starved = sorted((rate, index) for index, rate in rates if rate < bar)
    allowed = max(1, int(len(chunks) * MAX_RETRY_SHARE))
    return sorted(index for _, index in starved[:allowed])


def redecode(
    model: Any,
    path: Path,
    info: Any,
    chunks: Sequence[ChunkText],
    indices: Sequence[int],
    options: dict[str, Any],
) -> dict[int, tuple[TranscriptSegment, ...]]:
    """Decode the chunks at ``indices`` again with the sequential decoder and return the readings
    that hold more words than the batched ones (and no more than :data:`MAX_DENSER` times the
    fastest long chunk's pace).

    The sequential decoder has timestamps, so it resumes after an early end; it runs with the
    transcriber's beam at temperature 0 only, with ``options``' n-gram ban against loops: its
    temperature fallback decoded a garbled Portuguese chunk up to six times (the retry doubled
    that service's CPU) and gained nothing.

    The VAD runs again with the batched run's own options (``info.vad_options``) to map a
    chunk's place on the speech-only timeline back to the audio.
    """
    from faster_whisper.audio import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        decode_audio,
    )
    from faster_whisper.vad import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        SpeechTimestampsMap,
        get_speech_timestamps,
    )

    audio = decode_audio(str(path), sampling_rate=SAMPLING_RATE)
    speech = get_speech_timestamps(audio, info.vad_options)
    if not speech:
        return {}
    timeline = SpeechTimestampsMap(speech, SAMPLING_RATE)
    speech_s = float(info.duration_after_vad)
    spans = _spans(chunks, speech_s)
    limit = MAX_DENSER * max((rate for _, rate in _rates(chunks, speech_s)), default=0.0)
    better: dict[int, tuple[TranscriptSegment, ...]] = {}
    for index in indices:
        start, end = spans[index]
        first = timeline.get_original_time(start)
        last = timeline.get_original_time(end, is_end=True)
        piece = audio[int(first * SAMPLING_RATE) : int(last * SAMPLING_RATE)]
        segments, _ = model.transcribe(
            piece, vad_filter=False, condition_on_previous_text=False, temperature=0.0, **options
        )
        found = tuple(u for segment in segments for u in utterances(segment, offset=first))
        words = sum(len(u.text.split()) for u in found)
        if chunks[index].words < words <= limit * max(end - start, MIN_CHUNK_S):
            better[index] = found
    return better
