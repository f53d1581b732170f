"""Batched decoding's chunks: sentences by word times, and starved chunks decoded again."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.transcripts import TranscriptSegment
from services.transcripts import WhisperTranscriber
from services.transcripts.asr import transcriber as asr_module
from services.transcripts.asr.chunks import (
    ChunkText,
    chunk_text,
    redecode,
    starved_chunks,
    typical_rate,
    utterances,
)

needs_faster_whisper = pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is None,
    reason="faster-whisper is not installed (the [asr] extra)",
)


class _Word:
    def __init__(self, word: str, start: float, end: float) -> None:
        self.word, self.start, self.end = word, start, end


class _Segment:
    def __init__(
        self,
        start: float,
        end: float,
        text: str,
        words: list[_Word] | None = None,
        seek: int | None = None,
    ) -> None:
        self.start, self.end, self.text, self.words, self.seek = start, end, text, words, seek


def _chunk(offset: float, words: int) -> ChunkText:
    text = " ".join(["palavra"] * words)
    found = (TranscriptSegment(start=offset, end=offset + 1, text=text),) if words else ()
    return ChunkText(offset, words, found)


def test_batched_chunks_are_split_into_sentences_by_word_times() -> None:
    """A batched chunk is up to 30 s long; the analysis dates passages by segment, so the
    chunk comes back as one segment per sentence, timed by its words."""
    words = [
        _Word(" Deus", 1.0, 1.5),
        _Word(" é", 1.5, 1.7),
        _Word(" amor.", 1.7, 2.4),
        _Word(" Ouçam", 9.0, 9.6),
        _Word("-no!", 9.6, 9.5),  # DTW can misplace an end a little
        _Word(" E", 20.0, 20.2),
        _Word(" o", 20.2, 20.3),
        _Word(" resto", 20.3, 28.9),
    ]
    chunk = _Segment(1.0, 28.9, " Deus é amor. Ouçam-no! E o resto", words)
    assert [(s.start, s.end, s.text) for s in utterances(chunk)] == [
        (1.0, 2.4, "Deus é amor."),
        (9.0, 9.6, "Ouçam-no!"),
        (20.0, 28.9, "E o resto"),
    ]
    # A piece decoded on its own is put back in place by its offset.
    assert utterances(chunk, offset=100.0)[0].start == 101.0
    # Without word times (sequential decoding) a segment stays whole; empty text is dropped.
    assert [s.text for s in utterances(_Segment(0.0, 3.0, "  Amém. "))] == ["Amém."]
    assert utterances(_Segment(0.0, 3.0, " ")) == []


def test_chunk_text_reads_the_chunk_offset_and_counts_words() -> None:
    chunk = chunk_text(_Segment(3.0, 5.0, " Deus é amor.", seek=2920))
    assert chunk is not None
    assert (chunk.offset_s, chunk.words, [u.text for u in chunk.utterances]) == (
        29.2,
        3,
        ["Deus é amor."],
    )
    assert chunk_text(_Segment(3.0, 5.0, " Deus é amor.")) is None  # no seek: not judged


def test_a_chunk_far_sparser_than_the_others_is_starved() -> None:
    """The continuous English service: 105-117 words per 29 s chunk, and one with 2."""
    chunks = [_chunk(29.2 * i, n) for i, n in enumerate([111, 107, 114, 2, 108, 110])]
    assert starved_chunks(chunks, 29.2 * 6) == [3]
    # Half the median is the bar: a chunk at 60 % of its neighbours' pace is left alone.
    chunks[3] = _chunk(29.2 * 3, 66)
    assert starved_chunks(chunks, 29.2 * 6) == []


def test_only_long_chunks_are_judged_against_enough_others() -> None:
    # A short chunk (a 1.7 s "to a vegan, a vegan chap.") says nothing about its pace.
    short = [_chunk(0.0, 111), _chunk(29.2, 1), _chunk(30.9, 107), _chunk(60.2, 110)]
    assert starved_chunks(short, 89.4) == []
    # Two long chunks give no median worth comparing with.
    assert starved_chunks([_chunk(0.0, 100), _chunk(29.0, 1)], 58.0) == []
    assert starved_chunks([], 0.0) == []


def test_a_chunk_with_no_segment_leaves_its_span_to_the_one_before() -> None:
    """A chunk that gave nothing is absent; the previous one then spans both and looks half as
    dense, so it is decoded again over both."""
    chunks = [_chunk(0.0, 110), _chunk(30.0, 108), _chunk(60.0, 60), _chunk(120.0, 112)]
    assert starved_chunks(chunks, 150.0) == [2]


def test_retries_are_capped_to_a_tenth_of_the_chunks_starkest_first() -> None:
    counts = [100] * 20 + [10, 5, 20, 100]
    chunks = [_chunk(30.0 * i, n) for i, n in enumerate(counts)]
    assert starved_chunks(chunks, 720.0) == [20, 21]  # 2 of 24 chunks, the 20 waits
    counts = [100, 100, 100, 3, 100, 100, 100, 10]
    chunks = [_chunk(30.0 * i, n) for i, n in enumerate(counts)]
    assert starved_chunks(chunks, 240.0) == [3]  # at least one


class _Info:
    duration = 120.0
    duration_after_vad = 120.0
    language = "pt"
    vad_options = object()


@needs_faster_whisper  # the fakes stand in for the model, not for the PyAV import
def test_the_transcriber_puts_a_better_reading_of_a_starved_chunk_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["Um dois três quatro cinco seis.", "Sete.", "Oito nove dez onze doze treze."]
    texts.append("Catorze quinze dezesseis dezessete.")
    batched = [
        _Segment(30.0 * i, 30.0 * i + 29.0, f" {t}", seek=3000 * i) for i, t in enumerate(texts)
    ]
    redecoded: list[dict[str, Any]] = []

    class Pipeline:
        def __init__(self, model: object) -> None:
            pass

        def transcribe(self, path: str, **options: object) -> tuple[Iterator[_Segment], _Info]:
            return iter(batched), _Info()

    def fake_redecode(
        model: object,
        path: Path,
        info: object,
        chunks: list[ChunkText],
        indices: list[int],
        options: dict[str, Any],
    ) -> dict[int, tuple[TranscriptSegment, ...]]:
        redecoded.append({"indices": indices, "options": options, "words": chunks[1].words})
        return {1: (TranscriptSegment(start=31.0, end=40.0, text="Sete, e o que faltava."),)}

    class Model:
        supported_languages = ("pt", "en")

    monkeypatch.setattr(asr_module, "_batched_pipeline", Pipeline)
    monkeypatch.setattr(asr_module, "redecode", fake_redecode)
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"not decoded by the fakes")
    transcriber = WhisperTranscriber()
    transcriber._loaded = Model()
    transcript = transcriber.transcribe(audio, language="pt")
    assert [s.text for s in transcript.segments] == [texts[0], "Sete, e o que faltava.", *texts[2:]]
    assert redecoded == [
        {
            "indices": [1],
            "options": {
                "language": "pt",
                "beam_size": asr_module.DEFAULT_BEAM_SIZE,
                "initial_prompt": None,
                "word_timestamps": True,
                "no_repeat_ngram_size": asr_module.DEFAULT_NO_REPEAT_NGRAM_SIZE,
            },
            "words": 1,
        }
    ]
    # Turned off, the batched reading stands.
    transcriber.redecode_starved = False
    assert transcriber.transcribe(audio, language="pt").segments[1].text == "Sete."
    assert len(redecoded) == 1


@pytest.mark.asr
def test_redecode_reads_a_chunk_again_from_the_audio(
    transcriber: WhisperTranscriber, sermon_minute_wav: Path
) -> None:
    """Real model, real VAD: a chunk marked empty is decoded again from its own audio, its
    sentences timed inside the chunk's place in the file."""
    model = transcriber.load()
    segments, info = asr_module._batched_pipeline(model).transcribe(
        str(sermon_minute_wav),
        language="pt",
        beam_size=1,
        without_timestamps=True,
        word_timestamps=True,
        vad_filter=True,
    )
    chunks = [c for c in (chunk_text(s) for s in segments) if c is not None]
    assert len(chunks) >= 2
    last = chunks[-1]
    emptied = [*chunks[:-1], ChunkText(last.offset_s, 0, ())]
    better = redecode(
        model,
        sermon_minute_wav,
        info,
        emptied,
        [len(chunks) - 1],
        {"language": "pt", "beam_size": 1, "word_timestamps": True},
    )
    assert list(better) == [len(chunks) - 1]
    again = better[len(chunks) - 1]
    assert sum(len(u.text.split()) for u in again) >= 5, again
    first_start = last.utterances[0].start
    assert first_start is not None
    for u in again:
        assert u.start is not None and u.end is not None
        assert first_start - 3.0 <= u.start <= u.end <= info.duration + 0.5
    # A reading with no more words than the batched one is not taken.
    full = [ChunkText(chunks[0].offset_s, 10_000, chunks[0].utterances), *chunks[1:]]
    options = {"language": "pt", "beam_size": 1}
    assert redecode(model, sermon_minute_wav, info, full, [0], options) == {}


def test_the_typical_pace_is_the_median_of_the_long_chunks() -> None:
    chunks = [_chunk(0.0, 90), _chunk(30.0, 120), _chunk(60.0, 1), _chunk(61.0, 60)]
    assert typical_rate(chunks, 91.0) == 3.0  # 3.0 and 4.0 and 2.0 per second; 1 s ignored
    assert typical_rate([], 0.0) == 0.0
