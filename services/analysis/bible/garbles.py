"""What speech recognition does to a spoken reference, read back only where a verse confirms it.

Seen in Whisper transcripts of whole services spoken aloud (``benchmarks/eval_audio.py``):

* a comma between the book and its chapter: ``at one in lamentations, three twenty two``;
* an English chapter number heard as its homophone: ``lamentations free twenty two``
  (three), ``john for sixteen`` (four);
* a chapter and its verse joined by a heard "e"/"and": ``primeira pedro 5 e 7`` (First Peter
  has five chapters, so 7 is the verse);
* the word "versículo" misheard between "do" and a range: ``marcos quatro, do meu ciclo 35 ao
  quarenta e um``; and ``a partir do 25 até o 34`` with the word dropped;
* "versículo" heard as words after a spoken chapter (espeak-ng's Brazilian voice through the
  base model): ``mateus capítulo 6, ver se cura 34``, ``capítulo 5, vei da sícula 7``;
* "salmo de número" heard as ``salvo de nome do``: ``no salvo de nome do trinta e quatro``.

Each reading needs the evidence the plain forms need and more: a second number that is a verse
of that chapter (the comma and the homophone), a number that cannot be a chapter but is a verse
(the "e"), a rising range of verses that exist (the misheard word), a spoken chapter before
and a verse of it after (the misheard "versículo"), the article, "de número" and a psalm's
number around the misheard "salmo". Patterns are written for
accent-folded text.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.spoken import NUMBER, parse_number
from services.analysis.bible.versification import chapter_count, is_valid

__all__ = [
    "HOMOPHONES",
    "joined_verse",
    "misheard_chapter",
    "misheard_psalms",
    "misheard_verse",
    "skipped_words_before_range",
]

_I = re.IGNORECASE
HOMOPHONES: Final = {"free": 3, "tree": 3, "for": 4, "fore": 4, "ate": 8}
"""English chapter numbers as Whisper mishears them (never ``to``/``too``: "turn to John")."""

# ", three" / ", 3" or " free" right after the name; the verse must follow (checked by caller).
_COMMA_CHAPTER_RE: Final = re.compile(rf",[ \t]+(?P<n>{NUMBER})(?=[ \t,]+\w)", _I)
_HOMOPHONE_RE: Final = re.compile(
    r",?[ \t]+(?P<n>" + "|".join(HOMOPHONES) + r")(?=,?[ \t]+(?:\d|[^\W\d_]))", _I
)
_JOINED_RE: Final = re.compile(rf"[ \t]+(?:e|and)[ \t]+(?P<n>{NUMBER})(?![^\W\d_])(?![.,:]\d)", _I)
# "do meu ciclo 35 ao 41": at most two short words, none a number, between "do" and a range.
_LOOSE_FROM_RE: Final = re.compile(
    rf"[\s,]*(?:a\s+partir\s+)?(?:d[eo]|from)\s+(?P<skip>(?:[^\W\d_]{{2,10}}\s+){{1,2}})"
    rf"(?P<n>{NUMBER})(?=\s*(?:[-\u2013]|(?:a|ao|ate|to|through|till|until)\s))",
    _I,
)
# "ver se cura 34", "vé da sículo 6", "vei da sícula 7", "vé da cículo 7" (accents folded).
_MISHEARD_VERSE_RE: Final = re.compile(
    rf"[\s,]*(?:ver\s+se\s+cura|vei?\s+da\s+[sc]icul[oa])\s+(?P<n>{NUMBER})(?![^\W\d_])", _I
)
# "no salvo de nome do trinta e quatro": "no Salmo de número trinta e quatro".
_MISHEARD_PSALM_RE: Final = re.compile(
    rf"\b(?:n?o)\s+salvo\s+de\s+(?:numero|nome\s+do)\s+(?P<n>{NUMBER})(?![^\W\d_])"
    rf"(?:\s+e\s+(?P<units>\d{{1,2}})(?!\d))?",
    _I,
)
_NOT_SKIPPED: Final = frozenset({"e", "and", "a", "ao", "ate", "to", "capitulo", "chapter"})


def misheard_chapter(folded: str, pos: int, english: bool) -> tuple[int, int] | None:
    """``(chapter, end)`` for ``, three`` or (English) ``free`` right after a full book name.

    The caller reads it like a lone article: it counts only when a verse of that chapter
    follows (``lamentations, three twenty two``; ``in romans, eight people`` is nothing).
    """
    comma = _COMMA_CHAPTER_RE.match(folded, pos)
    if comma is not None:
        chapter = parse_number(comma.group("n"))
        return None if chapter is None else (chapter, comma.end())
    if not english:
        return None
    heard = _HOMOPHONE_RE.match(folded, pos)
    if heard is None:
        return None
    return HOMOPHONES[heard.group("n").lower()], heard.end()


def joined_verse(folded: str, pos: int, book: str, chapter: int) -> tuple[int, int] | None:
    """``primeira pedro 5 e 7`` -> ``(7, end)``: after a bare chapter, "e"/"and" and a number
    that is no chapter of the book but a verse of this chapter (``salmos 23 e 91`` stays two
    psalms)."""
    found = _JOINED_RE.match(folded, pos)
    if found is None:
        return None
    verse = parse_number(found.group("n"))
    if verse is None or verse <= chapter_count(book) or not is_valid(book, chapter, verse, verse):
        return None
    return verse, found.end()


def skipped_words_before_range(folded: str, pos: int) -> re.Match[str] | None:
    """``do meu ciclo 35 ao``: the loose start of a verse range after a chapter, its first
    verse in group ``n``; the caller still requires a rising range of verses that exist."""
    found = _LOOSE_FROM_RE.match(folded, pos)
    if found is None:
        return None
    for word in found.group("skip").lower().split():
        if word in _NOT_SKIPPED or parse_number(word) is not None:
            return None
    return found


def misheard_verse(folded: str, pos: int, book: str, chapter: int) -> tuple[int, int] | None:
    """``, ver se cura 34`` after ``mateus capítulo 6`` -> ``(34, end)``: the caller asks for
    it only after a spoken chapter keyword, and the verse must exist in that chapter."""
    found = _MISHEARD_VERSE_RE.match(folded, pos)
    if found is None:
        return None
    verse = parse_number(found.group("n"))
    if verse is None or not is_valid(book, chapter, verse, verse):
        return None
    return verse, found.end()


def misheard_psalms(folded: str) -> list[tuple[int, int, int]]:
    """``(psalm, start, end)`` of every ``no salvo de nome do trinta e quatro`` (Portuguese):
    "salvo" (saved) never takes "de número" and a number, a psalm that exists, after it."""
    out: list[tuple[int, int, int]] = []
    for found in _MISHEARD_PSALM_RE.finditer(folded):
        psalm = parse_number(found.group("n"))
        if psalm is None:
            continue
        end = found.end("n")
        if found.group("units") is not None:
            # "100 e 3", "30 e 4": Whisper writes "cento e três" as digits around the "e".
            units = int(found.group("units"))
            if units < (10 if psalm % 100 else 100) and psalm % 10 == 0:
                psalm, end = psalm + units, found.end()
        if is_valid("PSA", psalm, None, None):
            out.append((psalm, found.start(), end))
    return out
