"""Spoken-form vocabulary: number words, ordinal book prefixes, chapter/verse keywords.

Every pattern here is written for *accent-folded* text (see :func:`books.fold_accents`) and is
compiled case-insensitively by the finder, so ``capítulo``, ``Capitulo`` and ``CAPÍTULO`` are the
same token. Number words cover what preachers actually say for chapters and verses: 1-199 in
Portuguese (``vinte e oito``, ``cento e dezenove``) and English (``twenty-eight``, ``one hundred
and nineteen``).
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

_PT_UNITS = {
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5,
    "seis": 6, "sete": 7, "oito": 8, "nove": 9,
}  # fmt: skip
_PT_TEENS = {
    "dez": 10, "onze": 11, "doze": 12, "treze": 13, "quatorze": 14, "catorze": 14,
    "quinze": 15, "dezesseis": 16, "dezasseis": 16, "dezessete": 17, "dezassete": 17,
    "dezoito": 18, "dezenove": 19, "dezanove": 19,
}  # fmt: skip
# "vinci": how Whisper writes the Brazilian "vinte" (said "vintchi"); after a book name it
# counts only with a verse after it (finder._read_chapter), so "Lucas Vinci" alone is nothing.
_PT_TENS = {
    "vinte": 20, "vinci": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60,
    "setenta": 70, "oitenta": 80, "noventa": 90,
}  # fmt: skip
_EN_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}  # fmt: skip
_EN_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_EN_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip

NUMBER_WORDS: Final[MappingProxyType[str, int]] = MappingProxyType(
    {
        **_PT_UNITS, **_PT_TEENS, **_PT_TENS, "cem": 100, "cento": 100,
        **_EN_UNITS, **_EN_TEENS, **_EN_TENS,
    }
)  # fmt: skip


def _alt(words: dict[str, int]) -> str:
    # Longest first so "dezesseis" is not read as "dez".
    return "|".join(sorted(words, key=len, reverse=True))


_PT_BELOW_100 = (
    rf"(?:(?:{_alt(_PT_TENS)})(?:\s+e\s+(?:{_alt(_PT_UNITS)}))?"
    rf"|{_alt(_PT_TEENS)}|{_alt(_PT_UNITS)})"
)
_EN_BELOW_100 = (
    rf"(?:(?:{_alt(_EN_TENS)})(?:[\s-]+(?:{_alt(_EN_UNITS)}))?"
    rf"|{_alt(_EN_TEENS)}|{_alt(_EN_UNITS)})"
)
PT_NUMBER_WORDS: Final = rf"(?:cento(?:\s+e\s+{_PT_BELOW_100})?|cem|{_PT_BELOW_100})"
EN_NUMBER_WORDS: Final = (
    rf"(?:(?:one|a)\s+hundred(?:\s+(?:and\s+)?{_EN_BELOW_100})?|{_EN_BELOW_100})"
)

# A chapter or verse number: digits, or number words in either language.
NUMBER: Final = rf"(?:\d{{1,3}}(?!\d)|(?:{PT_NUMBER_WORDS}|{EN_NUMBER_WORDS})(?![^\W\d_]))"
DIGITS: Final = r"\d{1,3}(?![\d])"

# "o salmo de número noventa e um", "no capítulo de número oito", "psalm number 23", "nº 5":
# said before a chapter or verse number, between the keyword (or book) and the number.
NUMBERED: Final = r"(?:\s*(?:de\s+|the\s+)?(?:numero|number|n[º°]\.?)(?=[\s\d]))?"

CHAPTER_KEYWORD: Final = r"(?:cap(?:itulos?|s?\.)|chapters?|chap\.|ch\.)"
# "versus" is how Whisper often writes a spoken "verses" ("chapter 2. Versus 8 and 9").
VERSE_KEYWORD: Final = r"(?:versiculos?|versos?|vers\.|verses?|versus|vv?\.|vs\.?)"

# Ordinal prefixes of numbered books: "1", "1ª", "1st", "I", "primeira", "first"... followed
# optionally by "carta aos" / "letter to the" / "livro de" / "carta de Paulo aos".
ORDINAL_PREFIX: Final = (
    # A bare digit never takes "de"/"of": in "versos 1 a 3 de João 14" the 3 is a verse.
    r"(?:[1-3](?:ª|º|°|st|nd|rd|a(?=\s)|o(?=\s)|\.|(?!\s+(?:de|do|da|dos|of|to|aos?)\s))"
    # Roman numerals: capitals, or lower case as captions write them ("ii timóteo"); a lone
    # lower-case "i" is the English pronoun, which names.resolve refuses in English text.
    r"|(?-i:III|II|I|iii|ii|i)\.?"
    r"|primeir[oa]|segund[oa]|terceir[oa]|first|second|third)"
    r"(?:\s+(?:carta|epistola|livro|letter|epistle|book))?"
    # "segunda carta de Paulo aos Coríntios", "primeira epístola do apóstolo Pedro"
    r"(?:\s+d[eo]\s+(?:apostolo\s+)?(?:paulo|paul)(?=\s+(?:aos|a|to)\s))?"
    r"(?:\s+(?:de|do|dos|da|aos|ao|a|of|to))?"
    r"(?:\s+the)?"
)

_ORDINAL_VALUES: Final = MappingProxyType(
    {
        "primeiro": 1, "primeira": 1, "first": 1, "i": 1,
        "segundo": 2, "segunda": 2, "second": 2, "ii": 2,
        "terceiro": 3, "terceira": 3, "third": 3, "iii": 3,
    }
)  # fmt: skip

_WORD_SPLIT = re.compile(r"[\s-]+")
_LEADING_DIGIT = re.compile(r"\s*(\d)")
_LEADING_WORD = re.compile(r"\s*([^\W\d_]+)")


def parse_number(token: str) -> int | None:
    """Value of a NUMBER token (``"16"``, ``"dezesseis"``, ``"twenty-eight"``), else None."""
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    total = 0
    for word in _WORD_SPLIT.split(token):
        if word in ("e", "and", ""):
            continue
        if word == "hundred":
            total = max(total, 1) * 100
        elif word == "a":
            total += 1  # "a hundred"
        elif word in NUMBER_WORDS:
            total += NUMBER_WORDS[word]
        else:
            return None
    return total or None


def parse_ordinal(prefix: str) -> int | None:
    """Book number from an ORDINAL_PREFIX match (``"1ª"``, ``"II"``, ``"segunda carta aos"``)."""
    digit = _LEADING_DIGIT.match(prefix)
    if digit:
        return int(digit.group(1))
    word = _LEADING_WORD.match(prefix)
    if word:
        return _ORDINAL_VALUES.get(word.group(1).lower())
    return None
