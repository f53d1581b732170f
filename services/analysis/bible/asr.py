"""Locator forms that speech recognition produces and people rarely write.

Automatic captions (YouTube) and Whisper hear a reference and write it down in ways the
written-form readers in :mod:`locators` do not expect:

* no capital letters at all (:func:`is_caseless`), so a lower-case name is no evidence of an
  ordinary word;
* the verse glued to the chapter: ``isaías 4031``, ``joão 316``, ``psalm 119105``,
  ``2 Corinthians 129`` (:func:`glued_reference`; Whisper does it in cased text too), read
  only when exactly one split is a real verse;
* English hundreds said digit by digit: ``psalm one thirty nine``, ``one oh five``
  (:func:`hundred_number`);
* a verse range without the word "versículo": ``salmos 23 de 1 até 6``, ``joão 15 do 1 ao 8``
  (:data:`FROM_VERSE_RE`);
* a range to the end of the chapter: ``a partir do versículo 31 até o final do capítulo``,
  ``from verse 28 to the end of the chapter`` (:func:`end_of_chapter`);
* a spoken pair after a colon-less reference: ``proverbs three five and six``
  (:func:`and_verse`).

Patterns are written for accent-folded text (see :func:`books.fold_accents`).
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.spoken import NUMBER, VERSE_KEYWORD, parse_number
from services.analysis.bible.versification import chapter_count, is_valid, verse_count

__all__ = [
    "FROM_VERSE_RE",
    "and_verse",
    "end_of_chapter",
    "glued_reference",
    "hundred_number",
    "is_caseless",
]

_I = re.IGNORECASE
_UPPER_RE: Final = re.compile(r"[A-ZÀ-ÖØ-Þ]")
_LETTER_RE: Final = re.compile(r"[^\W\d_]")
# Cased prose has a capital every sentence or two (about 2-4 % of characters); captions have
# none or a stray "I". Below this share of capitals a text counts as caseless.
_CASELESS_SHARE: Final = 0.003

# A run of 3-6 digits right after the book name, not part of a decimal, time or phone number.
_RUN_RE: Final = re.compile(r"[ \t]*(?P<n>[1-9]\d{2,5})(?!\d)(?![.,:/]\d)")
_YEAR_RE: Final = re.compile(r"(?:19|20)\d\d")

_EN_UNIT = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_EN_TEEN = r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
_EN_TEN = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
# "one thirty nine" = 139, "one oh three" = 103, "one nineteen" = 119 (never "one five").
_HUNDRED_RE: Final = re.compile(
    rf"[ \t]+(?P<n>one[\s-]+(?:oh[\s-]+{_EN_UNIT}|{_EN_TEEN}|{_EN_TEN}(?:[\s-]+{_EN_UNIT})?))"
    r"(?![^\W\d_])",
    _I,
)

# "de 1 até 6", "do 24 ao 26", "a partir do 25 até o 34", "from 13 to 35": the first verse
# of a range said without the word "versículo"; the caller reads the rest with
# locators.read_verse_range.
FROM_VERSE_RE: Final = re.compile(
    rf"[\s,]*(?:a\s+partir\s+)?(?:d[eo]|from)\s+(?P<n>{NUMBER})"
    r"(?=\s*(?:[-\u2013]|(?:a|ao|ate|to|through|thru|till|until)\s))",
    _I,
)
_END_OF_CHAPTER_RE: Final = re.compile(
    r"[\s,]*(?:ate|to|till|until|through)\s+(?:o\s+|the\s+)?(?:final|fim|end)\s+"
    r"(?:d[oa]|of(?:\s+the|\s+this)?)\s+(?:capitulo|chapter|salmo|psalm|texto|text)"
    rf"(?P<tail>[\s,]+(?:(?:ate|to)\s+)?(?:o\s+|the\s+)?(?:{VERSE_KEYWORD}\s*)?(?P<n>{NUMBER}))?",
    _I,
)
_AND_VERSE_RE: Final = re.compile(rf",?\s+(?:e|and)\s+(?P<n>{NUMBER})(?![^\W\d_])", _I)


def is_caseless(text: str) -> bool:
    """Whether ``text`` is (almost) all lower case, as automatic captions are."""
    if _LETTER_RE.search(text) is None:
        return False
    # Measured against all characters (about 80 % are letters): counting letters too would
    # cost a pass over a 60,000-character transcript for nothing.
    return len(_UPPER_RE.findall(text)) <= len(text) * _CASELESS_SHARE


def glued_reference(folded: str, pos: int, book: str, person: bool) -> tuple[int, int, int] | None:
    """``isaías 4031`` -> ``(40, 31, end)``: a digit run that only one split makes a verse.

    The run is read as chapter and verse only when it is not itself a chapter of the book
    (``Salmo 119`` stays Psalm 119) and exactly one way of cutting it names a verse that
    exists (``joão 146`` could be 1:46 or 14:6, so it is nothing). After a book that is also a
    first name, a year (``lucas 2019``) is not split.
    """
    run = _RUN_RE.match(folded, pos)
    if run is None:
        return None
    digits = run.group("n")
    if int(digits) <= chapter_count(book):
        return None
    if person and _YEAR_RE.fullmatch(digits):
        return None
    if book == "PSA" and digits == "151":
        return None  # the apocryphal Psalm 151 is named, not glued to anything
    splits = [
        (int(digits[:cut]), int(digits[cut:]))
        for cut in range(1, len(digits))
        if digits[cut] != "0"
    ]
    valid = [(chapter, verse) for chapter, verse in splits if is_valid(book, chapter, verse, verse)]
    if len(valid) != 1:
        return None
    return valid[0][0], valid[0][1], run.end()


def hundred_number(folded: str, pos: int) -> tuple[int, int] | None:
    """``one thirty nine`` -> ``(139, end)``: English hundreds said as digits, if at ``pos``."""
    found = _HUNDRED_RE.match(folded, pos)
    if found is None:
        return None
    words = found.group("n").lower().replace("-", " ").split()[1:]
    rest = parse_number(" ".join(w for w in words if w != "oh"))
    return (100 + rest, found.end()) if rest is not None else None


def end_of_chapter(folded: str, pos: int, book: str, chapter: int) -> tuple[int, int] | None:
    """``até o final do capítulo`` -> ``(last verse, end)``; a spoken last verse after it
    (``..., até o 39``) is consumed when it agrees with the versification."""
    found = _END_OF_CHAPTER_RE.match(folded, pos)
    if found is None or not is_valid(book, chapter, 1, 1):
        return None
    last = verse_count(book, chapter)
    end = found.end()
    if found.group("n") is not None and parse_number(found.group("n")) != last:
        end = found.start("tail")
    return last, end


def and_verse(folded: str, pos: int, book: str, chapter: int, verse: int) -> tuple[int, int] | None:
    """``proverbs three five and six``: a later verse of the same chapter after "and"/"e".

    Only a *following* verse counts, so ``joão 3 16 e um dia`` does not add verse 1.
    """
    found = _AND_VERSE_RE.match(folded, pos)
    if found is None:
        return None
    value = parse_number(found.group("n"))
    if value is None or value <= verse or not is_valid(book, chapter, value, value):
        return None
    return value, found.end()
