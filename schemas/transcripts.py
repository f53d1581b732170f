"""Transcripts as the pipeline stores them (object store: ``<video_id>/transcript.json``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TranscriptSource = Literal["inline", "youtube", "asr", "file"]


class TranscriptSegment(BaseModel):
    """One caption cue or recognised utterance; times in seconds when known."""

    model_config = ConfigDict(frozen=True)

    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, ge=0)
    text: str


class Transcript(BaseModel):
    """A cleaned transcript: segments in order, with the language when known."""

    model_config = ConfigDict(frozen=True)

    source: TranscriptSource = "inline"
    language: str | None = None
    segments: list[TranscriptSegment] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """The segments joined with single spaces."""
        return " ".join(s.text for s in self.segments if s.text)
