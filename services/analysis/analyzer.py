"""The sermon analyser: one transcript in, one ``SummaryDTO`` out.

Pure, synchronous and deterministic: no network, no models, no global state. Each concern
lives in its own module; this one only wires them together on the joined transcript text,
whose character offsets map back to segment start times through a
:class:`~services.analysis.timeline.Timeline`.
"""

from __future__ import annotations

from collections.abc import Callable

from culto.errors import TranscriptError
from schemas.summary import CitationDTO, Language, SummaryDTO
from schemas.transcripts import Transcript
from services.analysis.bible.asr import is_caseless
from services.analysis.citations import find_citations
from services.analysis.keypoints import is_boilerplate, select_key_points
from services.analysis.keypoints.roles import shown as without_fillers
from services.analysis.keywords import extract_keywords
from services.analysis.language import detect_language
from services.analysis.passages import aggregate_passages
from services.analysis.sentences import split_sentences
from services.analysis.speaker import find_speaker
from services.analysis.stopwords import stopwords_for
from services.analysis.text import tokens
from services.analysis.themes import extract_themes
from services.analysis.timeline import Timeline
from services.analysis.truecase import restore


def analyze(
    transcript: Transcript,
    *,
    title: str | None = None,
    description: str | None = None,
    language: Language | None = None,
) -> SummaryDTO:
    """Analyse a sermon transcript.

    Args:
        transcript: The cleaned transcript; segment start times, when present, become the
            timestamps of passages, key points and citations.
        title: The video title (searched first for the speaker; boosts themes).
        description: The video description (searched second for the speaker).
        language: Forces ``"pt"`` or ``"en"``; detected from the text when omitted.

    Returns:
        The full summary: language, word count, speaker, themes, passages (with mention
        counts and timestamps), citations and 3-7 key points with their timestamps.

    Raises:
        TranscriptError: The transcript contains no words.
    """
    # Imported here, not at module level, so that importing the passage finder on its own
    # (its tests, its eval script) never depends on the rest of the analyser loading.
    from services.analysis.bible import find_passages

    timeline = Timeline.from_transcript(transcript)
    text = timeline.text
    words = tokens(text)
    if not words:
        raise TranscriptError("the transcript has no words to analyse")

    lang: Language = language or detect_language(text, transcript.language)
    stopwords = stopwords_for(lang)
    sentences = split_sentences(text, timeline.boundaries())

    # YAKE favours a text's opening, which in a sermon is greetings and announcements.
    body = [s.text for s in sentences if not is_boilerplate(s.text, s.words)]
    keywords = extract_keywords(body, stopwords)
    # Offerings, announcements and the closing prayer are not what the sermon is about.
    body_words = tokens(" ".join(body)) or words
    themes = extract_themes(
        body_words, lang, title=title, description=description, keywords=keywords
    )
    key_points = select_key_points(sentences, stopwords)
    # Captions have no capitals or punctuation; what a reader sees gets them back by rule.
    shown = (lambda s: restore(s, lang)) if is_caseless(text) else (lambda s: s)
    citations = _citations(timeline, shown)
    passages = aggregate_passages(find_passages(text, lang), timeline)

    return SummaryDTO(
        language=lang,
        word_count=len(words),
        speaker=find_speaker(text, title=title, description=description),
        themes=themes,
        passages=passages,
        citations=citations,
        key_points=[shown(without_fillers(s.text)) for s in key_points],
        key_point_timestamps=[timeline.time_at(s.start) for s in key_points],
    )


def _citations(timeline: Timeline, shown: Callable[[str], str]) -> list[CitationDTO]:
    """Attributed quotations with their timestamps, quotes shown through ``shown``."""
    return [
        CitationDTO(author=c.author, text=shown(c.text), timestamp=timeline.time_at(c.start))
        for c in find_citations(timeline.text, timeline.boundaries())
    ]
