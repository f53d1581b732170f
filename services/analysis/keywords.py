"""Statistical keyword extraction in the style of YAKE (Campos et al., 2020).

A small re-implementation instead of the ``yake`` package: it needs no dependency, uses the
analyser's own PT/EN stop-word lists and sentence splitter, and stays well inside the
one-second budget. Per candidate word it combines YAKE's five features — casing, position,
normalised frequency, context relatedness and sentence spread — into a score where **lower
means more important**; one- and two-word candidates are ranked. The keywords feed the theme
ranking only when they map onto a lexicon theme (see :mod:`services.analysis.themes`).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from services.analysis.text import WORD_RE, fold

# Two letters, not three: "fé" folds to "fe"; shorter function words are stop words.
_MIN_LEN: Final = 2


@dataclass(frozen=True, slots=True)
class Keyword:
    """One extracted keyword.

    Attributes:
        words: Its folded words (one or two).
        score: YAKE-style score; lower is more important.
    """

    words: tuple[str, ...]
    score: float


@dataclass(slots=True)
class _Stats:
    tf: int = 0
    upper: int = 0
    capitalised: int = 0
    sentences: list[int] = field(default_factory=list)
    left: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)


def _is_candidate(word: str, stopwords: frozenset[str]) -> bool:
    return len(word) >= _MIN_LEN and not word.isdigit() and word not in stopwords


def extract_keywords(
    sentences: Sequence[str], stopwords: frozenset[str], top: int = 20
) -> list[Keyword]:
    """Rank the one- and two-word keywords of a text given as sentences.

    Args:
        sentences: The text's sentences, in order.
        stopwords: Folded stop words of the text's language.
        top: How many keywords to return at most.

    Returns:
        Keywords, most important first.
    """
    stats: dict[str, _Stats] = {}
    bigrams: Counter[tuple[str, str]] = Counter()
    for index, sentence in enumerate(sentences):
        raw = WORD_RE.findall(sentence)
        words = [fold(w) for w in raw]
        for pos, word in enumerate(words):
            if not _is_candidate(word, stopwords):
                continue
            st = stats.get(word)
            if st is None:
                st = stats[word] = _Stats()
            st.tf += 1
            # Capitalised away from the sentence start: a name or emphasised concept.
            if raw[pos][:1].isupper():
                st.capitalised += 1
                if pos > 0:
                    st.upper += 1
            if not st.sentences or st.sentences[-1] != index:
                st.sentences.append(index)
            if pos > 0:
                st.left[words[pos - 1]] += 1
            if pos + 1 < len(words):
                st.right[words[pos + 1]] += 1
                nxt = words[pos + 1]
                if _is_candidate(nxt, stopwords):
                    bigrams[(word, nxt)] += 1
    if not stats:
        return []
    term_scores = _term_scores(stats, max(1, len(sentences)))
    # Words capitalised mid-sentence most of the time, or everywhere they occur, are proper
    # nouns (people, places, Bible books). YAKE rightly
    # rates them highly, but themes are concepts, so they are scored yet not returned.
    proper = {w for w, st in stats.items() if st.upper * 2 > st.tf or st.capitalised == st.tf}
    ranked: list[Keyword] = [Keyword((w,), s) for w, s in term_scores.items() if w not in proper]
    for (a, b), tf in bigrams.items():
        if tf < 2 or a in proper or b in proper:
            continue  # a one-off pair is noise, not a key phrase
        sa, sb = term_scores[a], term_scores[b]
        ranked.append(Keyword((a, b), sa * sb / (tf * (1.0 + sa + sb))))
    ranked.sort(key=lambda k: (k.score, k.words))
    return ranked[:top]


def _term_scores(stats: dict[str, _Stats], n_sentences: int) -> dict[str, float]:
    tfs = [st.tf for st in stats.values()]
    mean_tf = statistics.fmean(tfs)
    std_tf = statistics.pstdev(tfs) if len(tfs) > 1 else 0.0
    max_tf = max(tfs)
    scores: dict[str, float] = {}
    for word, st in stats.items():
        t_case = st.upper / (1.0 + math.log(st.tf))
        t_pos = math.log(math.log(3.0 + statistics.median(st.sentences)))
        t_freq = st.tf / (mean_tf + std_tf)
        left_total = sum(st.left.values())
        right_total = sum(st.right.values())
        wl = len(st.left) / left_total if left_total else 0.0
        wr = len(st.right) / right_total if right_total else 0.0
        t_rel = 1.0 + (wl + wr) * st.tf / max_tf
        t_sent = len(st.sentences) / n_sentences
        scores[word] = (t_rel * t_pos) / (t_case + t_freq / t_rel + t_sent / t_rel)
    return scores
