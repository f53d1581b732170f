"""Chapters named by ordinal: "o terceiro capítulo do evangelho de joão", "the eighth chapter
of romans verse twenty eight", "the twenty third psalm", "the hundred and nineteenth psalm".

Found on the blind round-3 corpus (issue 24). :data:`ORDINAL` matches an ordinal number said
in words (Portuguese 1st-199th, masculine or feminine; English 1st-199th), :func:`ordinal_value`
reads it; :func:`ordinal_before` finds one ending right before a book name, in the two shapes
above. Patterns are written for accent-folded text.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

from services.analysis.bible.spoken import CHAPTER_KEYWORD

_EN_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9,
}  # fmt: skip
_EN_REST = {
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60,
    "seventieth": 70, "eightieth": 80, "ninetieth": 90, "hundredth": 100,
}  # fmt: skip
_EN_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_PT_STEMS = {
    "primeir": 1, "segund": 2, "terceir": 3, "quart": 4, "quint": 5, "sext": 6, "setim": 7,
    "oitav": 8, "non": 9, "decim": 10, "vigesim": 20, "trigesim": 30, "quadragesim": 40,
    "quinquagesim": 50, "sexagesim": 60, "septuagesim": 70, "setuagesim": 70,
    "octogesim": 80, "nonagesim": 90, "centesim": 100,
}  # fmt: skip
VALUES: Final = MappingProxyType(
    {
        **_EN_UNITS,
        **_EN_REST,
        **_EN_TENS,
        **{f"{stem}{end}": value for stem, value in _PT_STEMS.items() for end in "oa"},
    }
)


def _alt(words: list[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_PT_WORD = rf"(?:{_alt(list(_PT_STEMS))})[oa]"
_EN_LAST = _alt([*_EN_UNITS, *_EN_REST])
ORDINAL: Final = (
    rf"(?:(?:{_PT_WORD}\s+){{0,2}}{_PT_WORD}"
    rf"|(?:(?:(?:one|a)\s+)?hundred\s+(?:and\s+)?)?(?:(?:{_alt(list(_EN_TENS))})[\s-]+)?"
    rf"(?:{_EN_LAST}))"
)
# "o terceiro capítulo do evangelho de", "the eighth chapter of", "the first chapter of james"
_CHAPTER_RE: Final = re.compile(
    rf"(?<!\w)(?:(?:o|a|the)\s+)?(?P<o>{ORDINAL})\s+{CHAPTER_KEYWORD}\s+"
    r"(?:de|do|da|of|in)\s+(?:the\s+)?"
    r"(?:(?:book|letter|gospel|epistle)\s+(?:of|to)\s+(?:the\s+)?"
    r"|(?:livro|carta|evangelho|epistola)\s+(?:de|do|da|aos?|as?)\s+)?$",
    re.IGNORECASE,
)
# "the twenty third psalm", "o vigésimo terceiro salmo" (psalms only)
_PSALM_RE: Final = re.compile(rf"(?<!\w)(?:(?:o|a|the)\s+)?(?P<o>{ORDINAL})\s+$", re.IGNORECASE)
WINDOW: Final = 90


def ordinal_value(words: str) -> int | None:
    """``"twenty third"`` -> 23, ``"hundred and nineteenth"`` -> 119, ``"centésimo décimo
    nono"`` (folded) -> 119; None when a word is not part of an ordinal."""
    total = 0
    for word in re.split(r"[\s-]+", words.lower()):
        if word in ("and", "one", "a", ""):
            continue
        if word == "hundred":
            total += 100
        elif word in VALUES:
            total += VALUES[word]
        else:
            return None
    return total or None


def ordinal_before(folded: str, book_start: int, psalm: bool) -> tuple[int, int] | None:
    """``(chapter, locator start)`` when an ordinal chapter ends right before the book name
    at ``book_start`` ("the eighth chapter of " / for a psalm also "the twenty third ")."""
    window = max(0, book_start - WINDOW)
    found = _CHAPTER_RE.search(folded, window, book_start)
    if found is None and psalm:
        found = _PSALM_RE.search(folded, window, book_start)
    if found is None:
        return None
    value = ordinal_value(found.group("o"))
    return None if value is None else (value, found.start())
