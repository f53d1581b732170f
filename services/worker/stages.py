"""The standard stages: fetch transcript → transcribe (audio, when needed) → analyse → store."""

from __future__ import annotations

from dataclasses import dataclass

from culto.errors import NotFound, PermanentStageError, TranscriptError
from schemas.summary import SummaryDTO
from schemas.transcripts import Transcript
from schemas.videos import TranscriptFormat
from services.analysis import analyze
from services.transcripts import (
    ASR_FALLBACK_CODES,
    ProgressCallback,
    asr_available,
    download_audio,
    fetch_youtube_captions,
    parse_transcript,
    transcribe_audio,
)
from services.worker.pipeline import JobContext, Stage

ASR_HINT = (
    "submit the video again with an inline transcript (txt, vtt or srt), or run workers with "
    "speech recognition installed (pip install 'culto-mesh[asr]')"
)


@dataclass
class FetchTranscriptStage:
    """Inline transcript, else YouTube captions, else mark the job as needing audio."""

    name: str = "fetch"
    weight: int = 15
    start_message: str = "Fetching transcript..."

    async def run(self, ctx: JobContext) -> None:
        video = ctx.video
        if video.has_inline_transcript:
            try:
                submitted = await ctx.artifacts.get_input(video.id)
            except NotFound:
                raise TranscriptError(
                    "the submitted transcript is missing; submit the video again",
                    code="transcript_missing",
                ) from None
            ctx.transcript = await ctx.in_thread(
                _parse,
                submitted.content,
                submitted.format,
                ctx.config.max_transcript_bytes,
                message="Reading transcript...",
            )
        elif video.youtube_id:
            try:
                ctx.transcript = await ctx.in_thread(
                    _captions, video.youtube_id, message="Downloading captions..."
                )
            except PermanentStageError as exc:
                if exc.code not in ASR_FALLBACK_CODES or not asr_available():
                    raise
                ctx.needs_audio = True
        else:
            ctx.needs_audio = True
        if ctx.needs_audio and not asr_available():
            raise PermanentStageError(
                f"no transcript is available for this video: {ASR_HINT}", code="no_transcript"
            )
        await ctx.progress(1.0, "Transcript fetched" if ctx.transcript else "Audio needed")


def _parse(
    content: str, fmt: TranscriptFormat, max_bytes: int, *, on_progress: ProgressCallback
) -> Transcript:
    return parse_transcript(content, fmt, max_bytes=max_bytes)


def _captions(youtube_id: str, *, on_progress: ProgressCallback) -> Transcript:
    return fetch_youtube_captions(youtube_id)


@dataclass
class TranscribeStage:
    """Download the audio and recognise speech, only when no text transcript exists."""

    name: str = "transcribe"
    weight: int = 50
    # Reported at every stage start, also for a pasted transcript that needs no audio: the
    # audio messages ("Downloading audio...", "Transcribing audio...") come from run().
    start_message: str = "Preparing transcript..."

    async def run(self, ctx: JobContext) -> None:
        if not ctx.needs_audio:
            await ctx.progress(1.0, "Transcript ready")
            return
        video = ctx.video
        url = video.url or f"https://www.youtube.com/watch?v={video.youtube_id}"
        download_span = ctx.span[0], ctx.span[0] + (ctx.span[1] - ctx.span[0]) // 3
        recognise_span = download_span[1], ctx.span[1]
        ctx.span = download_span
        audio = await ctx.in_thread(
            download_audio,
            url,
            ctx.workdir,
            policy=ctx.config.fetch_policy,
            message="Downloading audio...",
        )
        await ctx.ensure_current()
        ctx.span = recognise_span
        ctx.transcript = await ctx.in_thread(
            transcribe_audio,
            audio,
            model=ctx.config.whisper_model,
            message="Transcribing audio...",
        )


@dataclass
class AnalyseStage:
    """Bible passages, themes, key points, citations, speaker."""

    name: str = "analyse"
    weight: int = 25
    start_message: str = "Analysing sermon..."

    async def run(self, ctx: JobContext) -> None:
        if ctx.transcript is None:
            raise PermanentStageError("nothing to analyse: no transcript was produced")
        transcript = ctx.transcript
        video = ctx.video
        ctx.summary = await ctx.in_thread(
            _analyse, transcript, video.title, video.description, message="Analysing sermon..."
        )
        await ctx.progress(1.0, "Analysis complete")


def _analyse(
    transcript: Transcript,
    title: str | None,
    description: str | None,
    *,
    on_progress: ProgressCallback,
) -> SummaryDTO:
    return analyze(transcript, title=title, description=description)


@dataclass
class StoreTranscriptStage:
    """Keep the cleaned transcript next to the record (the summary goes into the record)."""

    name: str = "store"
    weight: int = 10
    start_message: str = "Saving results..."

    async def run(self, ctx: JobContext) -> None:
        if ctx.transcript is not None:
            await ctx.artifacts.put_transcript(ctx.video.id, ctx.transcript)
        await ctx.progress(1.0, "Results saved")


def default_stages() -> list[Stage]:
    """The production pipeline."""
    return [FetchTranscriptStage(), TranscribeStage(), AnalyseStage(), StoreTranscriptStage()]
