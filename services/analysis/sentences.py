"""Offline sentence splitting for Portuguese and English sermon transcripts.

Rules, in order:

* A sentence ends at ``.``, ``!``, ``?`` or ``…`` (plus closing quotes/brackets) followed by
  whitespace, or at a blank line.
* A period does **not** end a sentence after a known abbreviation (``Pr.``, ``Sr.``, ``Dr.``,
  ``cap.``, ``v.``, ``Rev.``, ``etc.``), after a single capital initial (``C. S. Lewis``),
  when the next word starts in lowercase, or when a short token is followed by a number —
  the shape of a Bible reference (``1 Co. 13``, ``Rm. 8``). ``13.4`` never splits because
  no whitespace follows the period.
* Automatic captions often have no punctuation at all. A "sentence" longer than
  :data:`MAX_WORDS` words is therefore cut into pseudo-sentences at segment boundaries - at
  every caption line that ends a phrase (:data:`CAPTION_WORDS` words or more, not ending on
  an article or preposition, the next line not opening with "mas"/"but"/"que"...), else
  after :data:`TARGET_WORDS` words - at commas or semicolons, or every :data:`HARD_WORDS`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from services.analysis.text import WORD_RE, fold, word_set

MAX_WORDS: Final = 60
TARGET_WORDS: Final = 22
HARD_WORDS: Final = 40
# A caption line usually ends a phrase: cut there once a piece has this many words, unless the
# next line carries on the sentence ("... não impede a tempestade / mas ela mantém ...").
CAPTION_WORDS: Final = 6
CAPTION_MAX: Final = 35
_CONTINUES: Final = word_set("mas porque pois porem que e ou nem and but because that or which")
_OPEN_ENDS: Final = word_set("a o as os de do da dos das em no na um uma the of to a an and e que")

# Titles and forms of address, matched with their case ("Pe." but not "de pé.").
TITLE_ABBREVIATIONS: Final = word_set(
    "Pr Pra Prs Sr Sra Srta Srs Dr Dra Drs Prof Profa Rev Revd Revmo Ev Pe Fr St Mr Mrs Ms Jr "
    "Sto Sta Bp Presb Diac Dc Ap Apóst"
)
# Reference and editorial abbreviations, matched folded ("cap.", "Cap.", "vv.", "cf.").
# Ordinary words that double as abbreviations ("no", "nos", "ver", "mar") are left out on
# purpose: they end Portuguese sentences far more often than they abbreviate anything.
ABBREVIATIONS: Final = word_set(
    "cap caps v vv vs vers cf p pp pg pag ex obs etc e.g i.e ie eg a.c d.c a.d b.c"
)

_BOUNDARY_RE: Final = re.compile(r"(?:[.!?…]+[\"'”\u2019»)\]]*)(?=\s)|\n[ \t]*\n")
_LAST_TOKEN_RE: Final = re.compile(r"([^\s\"'“\u2018«(\[]+)$")
_SOFT_CUT_RE: Final = re.compile(r"[,;:\u2013—]\s")
_LAST_WORD_RE: Final = re.compile(r"[^\W_]+$")


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence (or pseudo-sentence) and where it sits in the analysed text.

    Attributes:
        text: The sentence with whitespace collapsed.
        start: Offset of its first character in the analysed text.
        end: Offset just after its last character.
        words: Its number of words.
    """

    text: str
    start: int
    end: int
    words: int


def _is_false_boundary(text: str, punct_start: int, punct_end: int) -> bool:
    """Decide whether the punctuation at ``text[punct_start:punct_end]`` is not an ending."""
    mark = text[punct_start:punct_end]
    rest = text[punct_end : punct_end + 3].lstrip()
    next_char = rest[:1]
    if next_char and next_char.islower():
        # "etc. e ...", "Deus? sim" — a lowercase continuation is the same sentence.
        return True
    if not mark.startswith(".") or mark.startswith(".."):
        return False
    match = _LAST_TOKEN_RE.search(text, max(0, punct_start - 24), punct_start)
    if match is None:
        return False
    token = match.group(1)
    if token.rstrip(".") in TITLE_ABBREVIATIONS or fold(token).rstrip(".") in ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isupper():
        return True  # an initial: "C. S. Lewis"
    # "1 Co. 13", "Rm. 8": a short alphabetic token followed by a number.
    return bool(next_char.isdigit() and token.isalpha() and len(token) <= 3)


def _raw_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        if match.group(0).startswith("\n"):
            end = match.start()
        else:
            if _is_false_boundary(text, match.start(), match.end()):
                continue
            end = match.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def _phrase_ends(text: str, word_end: int, next_start: int, count: int) -> bool:
    """Whether a caption line that ends at ``word_end`` also ends a phrase worth cutting at."""
    if count < CAPTION_WORDS:
        return False
    if count >= CAPTION_MAX:
        return True
    last = _LAST_WORD_RE.search(text, max(0, word_end - 30), word_end)
    following = WORD_RE.match(text, next_start)
    if last is not None and fold(last.group(0)) in _OPEN_ENDS:
        return False
    return following is None or fold(following.group(0)) not in _CONTINUES


def _cut_long(text: str, start: int, end: int, boundaries: Sequence[int]) -> list[tuple[int, int]]:
    """Cut an over-long span into pseudo-sentences of roughly :data:`TARGET_WORDS` words."""
    words = [(m.start() + start, m.end() + start) for m in WORD_RE.finditer(text[start:end])]
    if not words:
        return [(start, end)]
    soft = {m.end() + start for m in _SOFT_CUT_RE.finditer(text[start:end])}
    lo = bisect_left(boundaries, start)
    hard = {b for b in boundaries[lo:] if b < end}
    pieces: list[tuple[int, int]] = []
    piece_start = words[0][0]
    count = 0
    for index, (_, w_end) in enumerate(words):
        count += 1
        next_start = words[index + 1][0] if index + 1 < len(words) else None
        if next_start is None:
            break
        # A cut point lies between this word's end and the next word's start.
        gap = range(w_end, next_start + 1)
        at_segment = any(g in hard for g in gap)
        at_comma = any(g in soft for g in gap)
        at_phrase_end = at_segment and _phrase_ends(text, w_end, next_start, count)
        if (
            at_phrase_end
            or (count >= TARGET_WORDS and (at_segment or at_comma))
            or (count >= HARD_WORDS and at_segment)
            or count >= MAX_WORDS
        ):
            pieces.append((piece_start, w_end))
            piece_start = next_start
            count = 0
    pieces.append((piece_start, end))
    return pieces


def split_sentences(text: str, boundaries: Sequence[int] = ()) -> list[Sentence]:
    """Split ``text`` into sentences with their character offsets.

    Args:
        text: The analysed text (usually the joined transcript).
        boundaries: Sorted offsets where transcript segments begin; used only to cut
            unpunctuated runs into pseudo-sentences.

    Returns:
        The sentences in order; empty when ``text`` has no words.
    """
    result: list[Sentence] = []
    for start, end in _raw_spans(text):
        spans = [(start, end)]
        n_words = sum(1 for _ in WORD_RE.finditer(text, start, end))
        if n_words > MAX_WORDS:
            spans = _cut_long(text, start, end, boundaries)
        for s, e in spans:
            chunk = text[s:e]
            stripped = chunk.strip()
            if not stripped:
                continue
            lead = len(chunk) - len(chunk.lstrip())
            real_start = s + lead
            real_end = real_start + len(stripped)
            count = sum(1 for _ in WORD_RE.finditer(stripped))
            if count:
                result.append(Sentence(" ".join(stripped.split()), real_start, real_end, count))
    return result
