"""Locators said *before* the book name: the reversed spoken orders.

Preachers often name the chapter or verse first and the book last:

* ``capítulo 13 de Primeira Coríntios``, ``chapter 3 of John`` (chapter, then book);
* ``capítulo 3, versículo 16, de João`` (chapter and verse, then book);
* ``versículo 16 do capítulo 3 de João``, ``verse 16 of chapter 3 of John`` (verse, chapter,
  then book);
* ``o versículo 28 de Romanos 8``, ``verses 1 to 3 of John 14`` (verse, then book and chapter:
  the finder reads ``Romanos 8`` as usual and asks :func:`preceding_verse` for the verse).

Every pattern is anchored at the end (``$``) and searched in a short window that ends where the
book name (with its ordinal prefix) starts, so only text directly before the name can count.
Patterns are written for accent-folded text and compiled case-insensitively.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.spoken import (
    CHAPTER_KEYWORD,
    NUMBER,
    NUMBERED,
    VERSE_KEYWORD,
    parse_number,
)

__all__ = ["ReversedLocator", "preceding_verse", "reversed_locator"]

_I = re.IGNORECASE
# How far back a reversed locator may start: "versiculos cento e dezenove a cento e vinte do
# capitulo cento e dezenove do livro de" is about 90 characters.
WINDOW: Final = 110

_RANGE_TAIL = (
    rf"(?:\s*(?:[-\u2013]|(?:a|ao|ate|through|to)(?=\s))\s*(?:o\s+)?"
    rf"(?:{VERSE_KEYWORD}\s*)?(?P<e>{NUMBER}))?"
)
# "de", "do livro de", "of the book of", "da carta aos", "of the gospel of"...
_OF_BOOK = (
    r"\s*,?\s+(?:(?:do|no)\s+livro\s+)?(?:de|do|da|of|in)\s+(?:the\s+)?"
    r"(?:(?:book|letter|gospel)\s+(?:of|to)\s+(?:the\s+)?"
    r"|(?:livro|carta|evangelho)\s+(?:de|do|da|aos?|as?)\s+)?$"
)
_ARTICLE = r"(?:(?:n[oa]|o|d[oa]|the|at|in)\s+)?"

_CHAPTER_FIRST_RE: Final = re.compile(
    rf"(?<!\w){CHAPTER_KEYWORD}{NUMBERED}\s*(?P<c>{NUMBER})"
    rf"(?:[\s,]*{_ARTICLE}{VERSE_KEYWORD}{NUMBERED}\s*(?P<v>{NUMBER}){_RANGE_TAIL})?"
    rf"{_OF_BOOK}",
    _I,
)
_VERSE_FIRST_RE: Final = re.compile(
    rf"(?<!\w){VERSE_KEYWORD}{NUMBERED}\s*(?P<v>{NUMBER}){_RANGE_TAIL}"
    rf"\s*,?\s+(?:d[oe]|of|in)\s+(?:the\s+)?{CHAPTER_KEYWORD}{NUMBERED}\s*(?P<c>{NUMBER})"
    rf"{_OF_BOOK}",
    _I,
)
# "versiculo 28 de Romanos 8": only the verse comes first; the chapter follows the book.
_VERSE_ONLY_RE: Final = re.compile(
    rf"(?<!\w){VERSE_KEYWORD}{NUMBERED}\s*(?P<v>{NUMBER}){_RANGE_TAIL}"
    r"\s*,?\s+(?:de|do|da|of|in)\s+(?:the\s+)?$",
    _I,
)

# Every reversed locator contains one of these (lower case); most books have none before them,
# so a substring test skips the regex search (the finder calls this for every bare chapter).
_VERSE_HINTS: Final = ("vers", "v.", "vs")
_HINTS: Final = (*_VERSE_HINTS, "cap", "ch")

ReversedLocator = tuple[int, int | None, int | None, int]  # chapter, verse start/end, start


def reversed_locator(folded: str, book_start: int) -> ReversedLocator | None:
    """Chapter (and verses) said before the book that starts at ``book_start``, if any.

    Args:
        folded: the accent-folded text.
        book_start: offset where the book mention (ordinal prefix included) starts.

    Returns:
        ``(chapter, verse_start, verse_end, locator_start)`` with ``verse_*`` None for a whole
        chapter, or None when no reversed locator ends right before the book or a number in it
        does not parse. Validity against the versification is the caller's job.
    """
    window = max(0, book_start - WINDOW)
    if not _has_hint(folded[window:book_start], _HINTS):
        return None
    found = _VERSE_FIRST_RE.search(folded, window, book_start) or _CHAPTER_FIRST_RE.search(
        folded, window, book_start
    )
    if found is None:
        return None
    chapter = parse_number(found.group("c"))
    verses = _verses(found)
    if chapter is None or verses is None:
        return None
    return chapter, verses[0], verses[1], found.start()


def preceding_verse(folded: str, book_start: int) -> tuple[int, int, int] | None:
    """``versículo 28 de`` right before a book: ``(verse_start, verse_end, locator_start)``."""
    window = max(0, book_start - WINDOW)
    if not _has_hint(folded[window:book_start], _VERSE_HINTS):
        return None
    found = _VERSE_ONLY_RE.search(folded, window, book_start)
    if found is None:
        return None
    verses = _verses(found)
    if verses is None or verses[0] is None or verses[1] is None:
        return None
    return verses[0], verses[1], found.start()


def _has_hint(window: str, hints: tuple[str, ...]) -> bool:
    lowered = window.lower()
    return any(hint in lowered for hint in hints)


def _verses(found: re.Match[str]) -> tuple[int | None, int | None] | None:
    """(start, end) verses of a match (both None if it has none); None if one does not parse."""
    if found.group("v") is None:
        return None, None
    start = parse_number(found.group("v"))
    end = parse_number(found.group("e")) if found.group("e") else start
    if start is None or end is None:
        return None
    return start, end
