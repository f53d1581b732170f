"""Portuguese/English detection by stop-word ratios.

Only two languages matter for this product, so a full language identifier is overkill: the
share of tokens that are Portuguese-only versus English-only function words separates them
reliably after a few dozen words. Words that are stop words in both lists ("a", "me", "se"
in some spellings) are ignored because they carry no signal.
"""

from __future__ import annotations

from typing import Final

from schemas.summary import Language
from services.analysis.stopwords import EN_STOPWORDS, PT_STOPWORDS
from services.analysis.text import WORD_RE, fold

_PT_ONLY: Final = PT_STOPWORDS - EN_STOPWORDS
_EN_ONLY: Final = EN_STOPWORDS - PT_STOPWORDS

# How many words to look at: the opening 4,000 words decide as well as the full sermon.
_SAMPLE_WORDS: Final = 4000
# Below this many signal words the text is too short to judge; fall back to the hint.
_MIN_SIGNAL: Final = 3


def language_scores(text: str) -> tuple[int, int]:
    """Count Portuguese-only and English-only stop words in (the opening of) ``text``.

    Returns:
        ``(portuguese_hits, english_hits)``.
    """
    pt_hits = en_hits = 0
    for index, match in enumerate(WORD_RE.finditer(text)):
        if index >= _SAMPLE_WORDS:
            break
        word = fold(match.group(0))
        if word in _PT_ONLY:
            pt_hits += 1
        elif word in _EN_ONLY:
            en_hits += 1
    return pt_hits, en_hits


def _hint_language(hint: str | None) -> Language | None:
    if not hint:
        return None
    code = hint.strip().lower()[:2]
    if code == "pt":
        return "pt"
    if code == "en":
        return "en"
    return None


def detect_language(text: str, hint: str | None = None) -> Language:
    """Decide whether ``text`` is Portuguese or English.

    Args:
        text: The transcript text.
        hint: An optional language tag from the transcript source ("pt-BR", "en").

    Returns:
        ``"pt"`` or ``"en"``. Too little evidence yields the hint, else ``"pt"`` (most
        sermons the product sees are Brazilian Portuguese).
    """
    pt_hits, en_hits = language_scores(text)
    hinted = _hint_language(hint)
    if pt_hits + en_hits < _MIN_SIGNAL:
        return hinted or ("en" if en_hits > pt_hits else "pt")
    return "en" if en_hits > pt_hits else "pt"
