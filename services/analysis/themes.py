"""Sermon themes: canonical names from the curated lexicon, ranked with keyword evidence.

Scoring, per theme of :mod:`services.analysis.lexicon`:

1. ``hits`` — lexicon term matches in the transcript (exact words, stems and phrases).
2. A theme qualifies only if ``hits`` reaches :func:`min_hits` (2 in short texts, growing
   with length) and :data:`MIN_SHARE_OF_TOP` of the strongest theme's hits, *and* a density
   of :data:`MIN_PER_1000` hits per 1,000 words, so a word mentioned in passing in an
   hour-long sermon is not a theme. The analyser counts only the sermon body: liturgy,
   announcements and prayers (:func:`keypoints.is_boilerplate`) do not make themes.
3. ``score = sqrt(hits per 1,000 words)`` — the square root keeps one dominant theme (a
   sermon on faith says "fé" fifty times) from pushing every secondary theme under the
   cut-off — plus bonuses: :data:`TITLE_BONUS` per hit in the title,
   :data:`DESCRIPTION_BONUS` per hit in the description, and up to :data:`KEYWORD_BONUS`
   for each YAKE-style keyword (see :mod:`services.analysis.keywords`) that maps onto the
   theme — rank 1 earns the full bonus, later ranks linearly less. Title/description hits
   may also qualify a theme that the transcript mentions at least once.
4. Themes scoring below :data:`RELATIVE_CUTOFF` of the best are dropped; at most
   :data:`MAX_THEMES` are returned, strongest first, in the sermon's language.

Statistical keywords that map to no canonical theme are skipped: ``SummaryDTO.themes`` is a
list of canonical names that clients can translate and group, not free-form tags.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from schemas.summary import Language
from services.analysis.keywords import Keyword
from services.analysis.lexicon import MATCHERS, THEMES
from services.analysis.text import tokens

MAX_THEMES: Final = 6
MIN_PER_1000: Final = 0.6
TITLE_BONUS: Final = 2.0
DESCRIPTION_BONUS: Final = 0.5
KEYWORD_BONUS: Final = 1.0
RELATIVE_CUTOFF: Final = 0.15
MIN_SHARE_OF_TOP: Final = 0.06


def min_hits(word_total: int) -> int:
    """The fewest lexicon hits a theme needs in a transcript of ``word_total`` words."""
    if word_total < 400:
        return 2
    if word_total < 1500:
        return 3
    return 3 + word_total // 4000


def score_themes(
    words: Sequence[str],
    language: Language,
    *,
    title: str | None = None,
    description: str | None = None,
    keywords: Sequence[Keyword] = (),
) -> list[tuple[str, float]]:
    """Score every qualifying theme.

    Args:
        words: The transcript's folded words, in order.
        language: The sermon's language (selects terms and display names).
        title: The video title, if any.
        description: The video description, if any.
        keywords: Ranked statistical keywords of the transcript, best first.

    Returns:
        ``(canonical name, score)`` pairs, best first, at most :data:`MAX_THEMES`.
    """
    matcher = MATCHERS[language]
    n = len(THEMES)
    hits = matcher.count(words, n)
    title_hits = matcher.count(tokens(title), n) if title else [0] * n
    desc_hits = matcher.count(tokens(description), n) if description else [0] * n
    keyword_bonus = [0.0] * n
    for rank, keyword in enumerate(keywords):
        weight = KEYWORD_BONUS * (len(keywords) - rank) / len(keywords)
        for theme in matcher.themes_of(keyword.words):
            keyword_bonus[theme] = max(keyword_bonus[theme], weight)

    per_1000 = max(1.0, len(words) / 1000.0)
    # "More than a passing mention" is relative too: beside a sermon that says "oração" fifty
    # times, three words about family in an illustration are not a theme of it.
    floor = max(min_hits(len(words)), math.ceil(MIN_SHARE_OF_TOP * max(hits, default=0)))
    scored: list[tuple[str, float, int]] = []
    for index, entry in enumerate(THEMES):
        density = hits[index] / per_1000
        boosted = title_hits[index] > 0 or desc_hits[index] > 0
        qualifies = (hits[index] >= floor and density >= MIN_PER_1000) or (
            boosted and hits[index] >= 1
        )
        if not qualifies:
            continue
        score = (
            math.sqrt(density)
            + TITLE_BONUS * title_hits[index]
            + DESCRIPTION_BONUS * desc_hits[index]
            + keyword_bonus[index]
        )
        scored.append((entry.names[language], score, index))
    if not scored:
        return []
    scored.sort(key=lambda item: (-item[1], item[2]))
    best = scored[0][1]
    kept = [(name, round(score, 3)) for name, score, _ in scored if score >= RELATIVE_CUTOFF * best]
    return kept[:MAX_THEMES]


def extract_themes(
    words: Sequence[str],
    language: Language,
    *,
    title: str | None = None,
    description: str | None = None,
    keywords: Sequence[Keyword] = (),
) -> list[str]:
    """Return the sermon's canonical theme names, strongest first (see module docstring)."""
    return [
        name
        for name, _ in score_themes(
            words, language, title=title, description=description, keywords=keywords
        )
    ]
