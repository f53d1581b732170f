"""The analysis of one sermon: Bible passages, themes, key points, citations, speaker."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["pt", "en"]


class BiblePassageDTO(BaseModel):
    """One Bible passage cited in a sermon.

    ``verse_start``/``verse_end`` are null for a whole chapter; ``verse_end`` equals
    ``verse_start`` for a single verse.
    """

    model_config = ConfigDict(frozen=True)

    reference: str = Field(description="Normalised reference, e.g. 'João 3:16' or '1 Coríntios 13'")
    book_id: str = Field(pattern=r"^[1-3A-Z][A-Z0-9]{2}$", description="USFM book code")
    chapter: int = Field(ge=1, le=150)
    verse_start: int | None = Field(default=None, ge=1, le=176)
    verse_end: int | None = Field(default=None, ge=1, le=176)
    mentions: int = Field(default=1, ge=1, description="How often the sermon cites it")
    timestamps: list[float] = Field(
        default_factory=list, description="Seconds into the video where it is cited, if known"
    )


class CitationDTO(BaseModel):
    """An attributed quotation (``como disse Agostinho, ...``)."""

    model_config = ConfigDict(frozen=True)

    author: str
    text: str
    timestamp: float | None = None


class SummaryDTO(BaseModel):
    """The full analysis of a sermon transcript."""

    model_config = ConfigDict(frozen=True)

    language: Language = "pt"
    word_count: int = Field(ge=0)
    speaker: str | None = None
    themes: list[str] = Field(default_factory=list)
    passages: list[BiblePassageDTO] = Field(default_factory=list)
    citations: list[CitationDTO] = Field(default_factory=list)
    key_points: list[str] = Field(default_factory=list)
    key_point_timestamps: list[float | None] = Field(
        default_factory=list, description="Start second of each key point (parallel list)"
    )
