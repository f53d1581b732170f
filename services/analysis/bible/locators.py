"""Reading the locator after a book name: verses, ranges, lists and their validation.

Every pattern is written for accent-folded text (see :func:`books.fold_accents`). A locator
becomes :data:`Piece` tuples ``(chapter, verse_start, verse_end, start, end)``; :func:`expand`
checks each against the versification and splits chapter and cross-chapter ranges.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.asr import end_of_chapter, hundred_number
from services.analysis.bible.books import Language
from services.analysis.bible.guards import DECIMAL_RE, QUANTITY_RE, TIME_RE, Shape
from services.analysis.bible.names import starts_book
from services.analysis.bible.spoken import (
    CHAPTER_KEYWORD,
    DIGITS,
    NUMBER,
    NUMBERED,
    VERSE_KEYWORD,
    parse_number,
)
from services.analysis.bible.versification import chapter_count, is_valid, verse_count

__all__ = [
    "CHAPTER_KW_RE",
    "COMMA_VERSE_RE",
    "VERSE_KW_RE",
    "WRITTEN_VERSE_RE",
    "Piece",
    "expand",
    "is_chapter_run",
    "is_score",
    "pair_verse",
    "read_chapter_range",
    "read_list",
    "read_verse_range",
]

_I = re.IGNORECASE
_CONNECTOR = r"[\s,;]*(?:(?:e|and)\s+)?(?:(?:depois|tambem|ainda|la|ali|then|also|there)\s+)?"
CHAPTER_KW_RE: Final = re.compile(
    rf"{_CONNECTOR}(?:(?:n[oa]|o|em|in|at)\s+)?(?:(?:seu|sua|its)\s+)?{CHAPTER_KEYWORD}{NUMBERED}"
    rf"\s*(?P<n>{NUMBER})",
    _I,
)
VERSE_KW_RE: Final = re.compile(
    rf"{_CONNECTOR}(?:(?:a\s+partir\s+)?(?:d[oa]s?|n[oa]s?|o|the|at|in)\s+"
    rf"|(?:starting|beginning)\s+(?:at|with|from)\s+|from\s+)?"
    rf"{VERSE_KEYWORD}{NUMBERED}\s*(?P<n>{NUMBER})",
    _I,
)
COMMA_VERSE_RE: Final = re.compile(rf",\s?(?P<n>{DIGITS})(?![.,:]\d)")
# The colon Whisper drops: "João 3 16", "Acts 1 8", "filipenses quatro treze".
# A comma may separate spoken numbers ("Isaiah forty, thirty one"), not digits (those are
# read by COMMA_VERSE_RE, which knows "Salmos 23, 91" is a list).
_PAIR_VERSE_RE: Final = re.compile(rf"(?:,(?=[ \t]+[^\W\d_]))?[ \t]+(?P<n>{NUMBER})(?![.,:]\d)", _I)
_SCORE_RE: Final = re.compile(rf"\s*(?:[-\u2013x]|a|to)\s*(?P<n>{DIGITS})(?![.:]\d)", _I)
# "Mateus 5, 6 e 7": consecutive numbers after the chapter, closed by "e"/"and", are chapters.
_CHAPTER_RUN_RE: Final = re.compile(
    rf"(?:\s*,\s*{DIGITS})+\s*,?\s+(?:e|and)\s+{DIGITS}(?![.:]\d)", _I
)
_DIGIT_RUN_RE: Final = re.compile(r"\d+")
WRITTEN_VERSE_RE: Final = re.compile(rf"(?::\s?|\.)(?P<n>{DIGITS})(?!\.\d)")
_WRITTEN_RANGE_RE: Final = re.compile(
    rf"\s?[-\u2013]\s?(?P<n>{DIGITS})(?:(?::\s?|\.)(?P<v>{DIGITS}))?(?!\.\d)"
)
_SPOKEN_RANGE_RE: Final = re.compile(
    rf"\s*(?:[-\u2013]|(?:a|ao|ate|through|thru|to|until|till)(?=\s))\s*(?:o\s+)?"
    rf"(?:{VERSE_KEYWORD}\s*)?(?P<n>{NUMBER})",
    _I,
)
_LIST_SEPARATOR = r"\s*(?:[,;]\s*(?:(?:e|and|&)\s+)?|\s(?:e|and|&)\s+)"
_WRITTEN_LIST_RE: Final = re.compile(
    rf"{_LIST_SEPARATOR}(?P<n>{DIGITS})(?:(?::\s?|\.)(?P<v>{DIGITS}))?(?!\.\d)",
    _I,
)
_SPOKEN_LIST_RE: Final = re.compile(rf"{_LIST_SEPARATOR}(?P<n>{NUMBER})", _I)

Piece = tuple[int, int | None, int | None, int, int]  # chapter, verse_start, verse_end, start, end


def pair_verse(
    folded: str, pos: int, book: str, chapter: int, lang: Language
) -> tuple[int, int, Shape] | None:
    """``João 3 16``: a second number right after a bare chapter is its verse.

    Returns ``(verse, new position, "pair")`` or None when there is no second number, it
    starts the next book (``Salmos 23 1 Coríntios 13``) or the verse does not exist (which
    also leaves ``Judas 24`` to the single-chapter reading while ``Judas 1 24`` is verse 24).
    """
    hundred = hundred_number(folded, pos) if verse_count(book, chapter) >= 100 else None
    if hundred is not None and is_valid(book, chapter, hundred[0], hundred[0]):
        return hundred[0], hundred[1], "pair"  # "psalm one nineteen one oh five"
    pair = _PAIR_VERSE_RE.match(folded, pos)
    if pair is None or starts_book(folded, pair.start("n"), lang):
        return None
    verse = parse_number(pair.group("n"))
    if verse is None or not is_valid(book, chapter, verse, verse):
        return None
    if pair.group(0).startswith(",") and verse == chapter + 1:
        return None  # "Romans eight, nine and ten": consecutive chapters, not 8:9
    return verse, pair.end(), "pair"


def is_score(folded: str, pos: int, chapter: int) -> bool:
    """``deu Lucas 3 a 1``: a falling or level "range" after a bare name is a score."""
    score = _SCORE_RE.match(folded, pos)
    return score is not None and int(score.group("n")) <= chapter


def is_chapter_run(folded: str, pos: int, chapter: int) -> bool:
    """Whether ``, N+1, N+2 e N+3`` (consecutive chapters) follows the chapter at ``pos``."""
    run = _CHAPTER_RUN_RE.match(folded, pos)
    if run is None:
        return False
    numbers = [int(n) for n in _DIGIT_RUN_RE.findall(run.group())]
    return numbers == list(range(chapter + 1, chapter + 1 + len(numbers)))


def read_verse_range(
    folded: str, pos: int, verse_start: int, chapter: int, spoken: bool, book: str | None = None
) -> tuple[int, int, int]:
    """verse_end, end chapter and new position after an optional verse range.

    With ``book`` known, ``até o final do capítulo`` / ``to the end of the chapter`` ends the
    range at the chapter's last verse.
    """
    if book is not None and (last := end_of_chapter(folded, pos, book, chapter)) is not None:
        return last[0], chapter, last[1]
    written = _WRITTEN_RANGE_RE.match(folded, pos)
    if written is not None:
        if written.group("v") is not None:
            return int(written.group("v")), int(written.group("n")), written.end()
        return int(written.group("n")), chapter, written.end()
    spoken_range = _SPOKEN_RANGE_RE.match(folded, pos)
    if spoken_range is not None:
        value = parse_number(spoken_range.group("n"))
        if value is not None and (spoken or spoken_range.group("n").isdigit()):
            return value, chapter, spoken_range.end()
    return verse_start, chapter, pos


def read_chapter_range(folded: str, pos: int, chapter: int, spoken: bool) -> tuple[int, int]:
    """End chapter and new position after an optional chapter range (``Mateus 5-7``)."""
    range_match = (_SPOKEN_RANGE_RE if spoken else _WRITTEN_RANGE_RE).match(folded, pos)
    if range_match is None or range_match.groupdict().get("v") is not None:
        return chapter, pos
    value = parse_number(range_match.group("n"))
    if value is None or value <= chapter:
        return chapter, pos
    return value, range_match.end()


def expand(
    book: str,
    chapter: int,
    verse_start: int | None,
    verse_end: int | None,
    end_chapter: int,
    start: int,
    end: int,
) -> list[Piece] | None:
    """Validated pieces for one locator, splitting chapter and cross-chapter ranges."""
    if end_chapter < chapter or end_chapter > chapter_count(book):
        return None
    if end_chapter == chapter:
        if not is_valid(book, chapter, verse_start, verse_end):
            return None
        return [(chapter, verse_start, verse_end, start, end)]
    pieces: list[Piece] = []
    for current in range(chapter, end_chapter + 1):
        if verse_start is None:
            pieces.append((current, None, None, start, end))
        elif current == chapter:
            last = verse_count(book, current)
            if not is_valid(book, current, verse_start, last):
                return None
            pieces.append((current, verse_start, last, start, end))
        elif current == end_chapter:
            if verse_end is None or not is_valid(book, current, 1, verse_end):
                return None
            pieces.append((current, 1, verse_end, start, end))
        else:
            pieces.append((current, None, None, start, end))
    return pieces


def _next_item(folded: str, pos: int, spoken: bool) -> re.Match[str] | None:
    """The list item right after ``pos`` (``, 18``, ``e 5:8``, ``e o versículo 36``), if any."""
    item = _WRITTEN_LIST_RE.match(folded, pos)
    if item is None and spoken:
        item = _SPOKEN_LIST_RE.match(folded, pos)
    if item is None:
        item = CHAPTER_KW_RE.match(folded, pos) or VERSE_KW_RE.match(folded, pos)
    return item


def read_list(
    folded: str, pos: int, book: str, lang: Language, pieces: list[Piece], spoken: bool
) -> int:
    """Append list continuations to ``pieces`` (same book); return the position after them."""
    while True:
        chapter, verse_start, _, _, _ = pieces[-1]
        item = _next_item(folded, pos, spoken)
        if item is None:
            return pos
        item_start = item.start("n")
        if item.re is CHAPTER_KW_RE:
            new_chapter, new_verse = parse_number(item.group("n")), None
            after = item.end()
            verse_kw = VERSE_KW_RE.match(folded, after)
            if verse_kw is not None:
                new_verse, after = parse_number(verse_kw.group("n")), verse_kw.end()
            if new_chapter is None or (verse_kw is not None and new_verse is None):
                return pos
        else:
            if starts_book(folded, item_start, lang):
                return pos  # ", 1 Coríntios 13": the next book, not a verse
            value = parse_number(item.group("n"))
            if value is None:
                return pos
            after = item.end()
            v_group = item.groupdict().get("v")
            if v_group is not None:
                new_chapter, new_verse = value, int(v_group)
            elif verse_start is not None or item.re is VERSE_KW_RE:
                new_chapter, new_verse = chapter, value
            else:
                new_chapter, new_verse = value, None
        item_spoken = spoken or item.re is not _WRITTEN_LIST_RE
        if new_verse is not None:
            verse_end, end_chapter, after = read_verse_range(
                folded, after, new_verse, new_chapter, item_spoken, book
            )
        else:
            verse_end = None
            end_chapter, after = read_chapter_range(folded, after, new_chapter, item_spoken)
        guard = TIME_RE if ":" in folded[item_start:after] else QUANTITY_RE
        if guard.match(folded, after) or DECIMAL_RE.match(folded, after):
            return pos
        new = expand(book, new_chapter, new_verse, verse_end, end_chapter, item_start, after)
        if new is None:
            return pos
        pieces.extend(new)
        pos = after
