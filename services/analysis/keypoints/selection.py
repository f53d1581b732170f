"""Extractive key points: TextRank over TF-IDF sentence similarity.

1. Candidate sentences have :data:`MIN_WORDS`-:data:`MAX_WORDS` words and at least three
   content words; greetings, liturgical cues ("podem se sentar", "let's pray"),
   announcements ("inscreva-se no canal", "next Sunday") and prayers addressed to God
   ("Senhor, ...") are skipped (:func:`is_boilerplate`).
2. Each candidate becomes a TF-IDF vector of crude stems (folded content words cut to
   :data:`STEM_LEN` characters, enough to join "salvação"/"salvador"-style variants).
   Cosine similarities are accumulated through an inverted index, so the cost grows with
   shared terms rather than with the square of the sentence count.
3. Weighted PageRank (damping 0.85) ranks the sentence graph: edges above
   :data:`EDGE_THRESHOLD`, each sentence keeping its :data:`MAX_NEIGHBOURS` strongest.
   The rank is multiplied by a length prior that prefers mid-length sentences
   (:data:`IDEAL_MIN`-:data:`IDEAL_MAX` words) and slightly discounts questions.
4. The top sentences are picked greedily, skipping any too similar to one already chosen
   (:data:`REDUNDANCY`), and returned in order of appearance. The count grows with the
   sermon's length, clamped to 3-7 (fewer only when the text has fewer usable sentences).

The preacher's own signposts (:mod:`.cues`) weigh in: liturgy, filler, altar calls
and prayers are skipped in written and caption text alike, and the rank is multiplied up for
the thesis, numbered points, the recap and the application. The thesis, each numbered point
and the application are always kept, completed across caption lines
(:mod:`.roles`); TextRank fills the remaining places.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Final

from services.analysis.keypoints.cues import cue_weights, is_liturgy, is_prayer
from services.analysis.keypoints.roles import essentials
from services.analysis.sentences import Sentence
from services.analysis.text import WORD_RE, fold

MIN_POINTS: Final = 3
MAX_POINTS: Final = 7
MIN_WORDS: Final = 6
MAX_WORDS: Final = 60
IDEAL_MIN: Final = 12
IDEAL_MAX: Final = 35
STEM_LEN: Final = 6
EDGE_THRESHOLD: Final = 0.05
MAX_NEIGHBOURS: Final = 12
REDUNDANCY: Final = 0.45
DAMPING: Final = 0.85
# L1 change between iterations at which the ranking is stable enough to pick from.
PAGERANK_TOLERANCE: Final = 1e-4
SENTENCES_PER_POINT: Final = 20

# Folded patterns. Greetings, liturgy and announcements are never key points.
_SKIP_RE: Final = re.compile(
    r"\b(?:bom dia|boa tarde|boa noite|bem[- ]vind[oa]s?|sejam? bem|ola igreja|"
    r"podem? (?:se )?sentar|fiquem? de pe|abr[ae]m? (?:a |as )?(?:sua |suas )?biblias?|"
    r"vamos orar|oremos|vamos ler|avisos?|inscri(?:cao|coes)|inscrev\w*|nosso canal|"
    r"(?:deix[ae]m?|de) (?:o )?(?:seu )?like|compartilh\w*|proximo (?:domingo|culto|sabado)|"
    r"semana que vem|nesta semana|estacionamento|pix|cantina|microfone|"
    r"good (?:morning|afternoon|evening)|welcome|hello church|be seated|please stand|"
    r"turn (?:with me )?(?:to|in your bibles?)|open your bibles?|let'?s pray|let us pray|"
    r"announcements?|subscribe|sign up|register|next (?:sunday|week)|this week|parking|"
    r"bulletin|thank you (?:so much|for coming))\b"
)
# Exclamations that only disqualify short sentences ("Amém? Amém!", "Glória a Deus!").
_SHORT_SKIP_RE: Final = re.compile(
    r"\b(?:amem|aleluia|gloria a deus|amen|hallelujah|praise the lord|obrigad[oa])\b"
)
_SHORT_LIMIT: Final = 10
# A sentence that opens by addressing God ("Senhor, ...", "Father, ...") is prayer, not teaching.
_PRAYER_RE: Final = re.compile(r"^(?:o\s+)?(?:senhor|pai|deus|lord|father|god|jesus)\s*[,!]")


def is_boilerplate(text: str, words: int) -> bool:
    """True for greetings, liturgical cues, announcements and prayers addressed to God.

    Args:
        text: A sentence.
        words: Its number of words (short exclamations are judged more strictly).
    """
    folded = fold(text)
    if _SKIP_RE.search(folded) or _PRAYER_RE.search(folded):
        return True
    if is_liturgy(folded) or is_prayer(folded):
        return True
    return words < _SHORT_LIMIT and bool(_SHORT_SKIP_RE.search(folded))


def _content_stems(text: str, stopwords: frozenset[str]) -> list[str]:
    return [
        w[:STEM_LEN]
        for w in WORD_RE.findall(fold(text))
        if len(w) >= 3 and not w.isdigit() and w not in stopwords
    ]


def _eligible(sentence: Sentence, stems: list[str]) -> bool:
    if not MIN_WORDS <= sentence.words <= MAX_WORDS or len(stems) < 3:
        return False
    return not is_boilerplate(sentence.text, sentence.words)


MAX_CANDIDATES = 2000
"""Sentences ranked at most: ~4x a long sermon's, so only outsized transcripts are sampled."""


def _length_prior(sentence: Sentence) -> float:
    n = sentence.words
    if n < IDEAL_MIN:
        prior = math.sqrt(n / IDEAL_MIN)
    elif n > IDEAL_MAX:
        prior = math.sqrt(IDEAL_MAX / n)
    else:
        prior = 1.0
    if sentence.text.rstrip("\"'”\u2019»)").endswith("?"):
        prior *= 0.8  # rhetorical questions set up a point; the answer usually states it
    return prior


def _similarity_graph(vectors: list[Counter[str]]) -> list[dict[int, float]]:
    """Cosine similarities between TF-IDF vectors, as a sparse adjacency list."""
    n = len(vectors)
    df: Counter[str] = Counter()
    for vec in vectors:
        df.update(vec.keys())
    idf = {term: math.log((1 + n) / count) for term, count in df.items()}
    weighted: list[dict[str, float]] = []
    norms: list[float] = []
    for vec in vectors:
        w = {term: tf * idf[term] for term, tf in vec.items()}
        weighted.append(w)
        norms.append(math.sqrt(sum(x * x for x in w.values())) or 1.0)
    postings: dict[str, list[int]] = {}
    # A term in one sentence links nothing; a term in most sentences links everything with a
    # near-zero weight and makes the pair loop below quadratic (a transcript repeating itself).
    linking = {term for term, count in df.items() if 1 < count <= max(2, n // 2)}
    for index, w in enumerate(weighted):
        for term in w:
            if term in linking:
                postings.setdefault(term, []).append(index)
    graph: list[dict[int, float]] = [{} for _ in range(n)]
    for index, w in enumerate(weighted):
        dots: dict[int, float] = {}
        for term, weight in w.items():
            for other in postings.get(term, ()):
                if other > index:
                    dots[other] = dots.get(other, 0.0) + weight * weighted[other][term]
        for other, dot in dots.items():
            cosine = dot / (norms[index] * norms[other])
            if cosine > EDGE_THRESHOLD:
                graph[index][other] = cosine
                graph[other][index] = cosine
    # Keep each sentence's strongest links only: weak links barely move the ranking but
    # make PageRank's cost grow with the square of the sermon's length.
    pruned: list[dict[int, float]] = [{} for _ in range(n)]
    for index, edges in enumerate(graph):
        strongest = sorted(edges.items(), key=lambda e: (-e[1], e[0]))[:MAX_NEIGHBOURS]
        for other, weight in strongest:
            pruned[index][other] = weight
            pruned[other][index] = weight
    return pruned


def _pagerank(graph: list[dict[int, float]], iterations: int = 50) -> list[float]:
    """Weighted PageRank over a symmetric sparse graph, by power iteration."""
    n = len(graph)
    out_weight = [sum(edges.values()) for edges in graph]
    # The graph is symmetric, so a node's neighbours are also its in-links; pre-dividing by
    # the sender's out-weight turns each iteration into plain weighted sums.
    inbound = [[(i, weight / out_weight[i]) for i, weight in edges.items()] for edges in graph]
    isolated = [i for i in range(n) if out_weight[i] == 0.0]
    rank = [1.0 / n] * n
    for _ in range(iterations):
        # Isolated sentences spread their rank evenly (the standard dangling-node fix).
        base = (1.0 - DAMPING) / n + DAMPING * sum(rank[i] for i in isolated) / n
        new = [base + DAMPING * sum(rank[i] * c for i, c in links) for links in inbound]
        delta = sum(abs(a - b) for a, b in zip(new, rank, strict=True))
        rank = new
        if delta < PAGERANK_TOLERANCE:
            break
    return rank


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    if not dot:
        return 0.0
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb)


def target_count(candidates: int) -> int:
    """How many key points to return for ``candidates`` usable sentences."""
    wanted = max(MIN_POINTS, min(MAX_POINTS, round(candidates / SENTENCES_PER_POINT)))
    return min(wanted, candidates)


def _candidates(
    sentences: Sequence[Sentence], stopwords: frozenset[str]
) -> tuple[list[Sentence], list[Counter[str]]]:
    """The sentences TextRank may rank, with their stem vectors (at most MAX_CANDIDATES)."""
    candidates: list[Sentence] = []
    vectors: list[Counter[str]] = []
    for sentence in sentences:
        stems = _content_stems(sentence.text, stopwords)
        if _eligible(sentence, stems):
            candidates.append(sentence)
            vectors.append(Counter(stems))
    if len(candidates) > MAX_CANDIDATES:
        # A transcript far longer than any sermon (up to 5 MiB is accepted): rank an even
        # sample, so the graph stays bounded and key points still span the whole text.
        step = len(candidates) / MAX_CANDIDATES
        keep = [int(i * step) for i in range(MAX_CANDIDATES)]
        candidates = [candidates[i] for i in keep]
        vectors = [vectors[i] for i in keep]
    return candidates, vectors


def select_key_points(sentences: Sequence[Sentence], stopwords: frozenset[str]) -> list[Sentence]:
    """Pick the sermon's key sentences.

    Args:
        sentences: All sentences of the transcript, in order.
        stopwords: Folded stop words of the sermon's language.

    Returns:
        3-7 sentences (fewer only if fewer are usable), in order of appearance.
    """
    candidates, vectors = _candidates(sentences, stopwords)
    if not candidates:
        return []
    count = target_count(len(candidates))
    rank = _pagerank(_similarity_graph(vectors)) if len(candidates) > 1 else [1.0]
    weight_of = dict(
        zip(
            (s.start for s in sentences),
            cue_weights([fold(s.text) for s in sentences]),
            strict=True,
        )
    )
    order = sorted(
        range(len(candidates)),
        key=lambda i: (
            -rank[i] * _length_prior(candidates[i]) * weight_of[candidates[i].start],
            i,
        ),
    )
    # The sermon's own structure first: thesis, each point, the application (roles).
    must = essentials(sentences)[:MAX_POINTS]
    count = max(count, len(must))
    must_vectors = [Counter(_content_stems(s.text, stopwords)) for s in must]
    covered = [(s.start, s.end) for s in must]
    chosen: list[int] = []
    for index in order:
        if len(must) + len(chosen) >= count:
            break
        span = (candidates[index].start, candidates[index].end)
        if any(a < span[1] and span[0] < b for a, b in covered):
            continue  # already part of a completed thesis, point or application
        vectors_so_far = [vectors[c] for c in chosen] + must_vectors
        if all(_cosine(vectors[index], v) <= REDUNDANCY for v in vectors_so_far):
            chosen.append(index)
    for index in order:  # the redundancy filter may leave too few; top up in rank order
        if len(must) + len(chosen) >= count:
            break
        span = (candidates[index].start, candidates[index].end)
        if index not in chosen and not any(a < span[1] and span[0] < b for a, b in covered):
            chosen.append(index)
    picked = [*must, *(candidates[i] for i in chosen)]
    return sorted(picked, key=lambda s: s.start)
