"""Find Bible passage references in sermon text (Portuguese and English, written and spoken).

How a mention is read
---------------------
1. One compiled regex (a trie of every alias, accent-folded, case-insensitive) finds a book name,
   optionally preceded by an ordinal (``1``, ``1ª``, ``II``, ``primeira``, ``Second``, ``segunda
   carta aos``, ``the first letter to the``).
2. Small anchored regexes then read the locator after it: a written chapter-and-verse shape
   (``3:16``, ``11.1``, ``8.28-30``), spoken keywords (``capítulo 3 versículo 16``, ``chapter 8
   verses 28 through 30``, ``do versículo 1 ao 5``, number words), ranges and lists (``12:1-2 e
   5:8``, ``3:16, 18``, ``versículos 8 e 9``) - later list items inherit the book.
3. Every piece is checked against the KJV versification (:mod:`versification`); an impossible
   chapter or verse drops the mention (and ends a list).

When a bare ``Name N`` is a passage
-----------------------------------
Only the *chapter-and-verse shape* (``N:M``, ``N.M``, a spoken ``capítulo``/``versículo``) is
always trusted. A bare ``Name N`` (``Atos 2``, ``Jó 38``, ``Sl 23``, ``Luke 15``) counts only when:

* the alias is a full name or an unambiguous abbreviation - weak ones (``Is``, ``Os``, ``At``,
  ``Am``, ``Jo``, ``Na``, ``Ex``, ``Ez``...) need the written shape, so ``Is 40`` is not Isaiah;
* it is capitalised (``job 2`` and ``atos 2`` are words), except ``salmo``/``psalm``;
* no title or, for names that are also first names, no article precedes it (``irmã Rute 2``,
  ``o Lucas 2``, ``pastor John 3``);
* the number is not a quantity or a time: ``Lucas 2 vezes``, ``Daniel 3 days``, ``2,5``.

Other choices
-------------
* Lists: ``,`` ``;`` ``e`` ``and`` give separate mentions (``Jo 3:16, 18`` -> 16 and 18;
  ``versículos 8 e 9`` -> 8 and 9); ``-``, ``a``, ``até``, ``to``, ``through`` give one range.
* Chapter ranges (``Mateus 5-7``) give one whole-chapter mention per chapter; a cross-chapter
  range (``Mateus 5:1-7:29``) is split per chapter: ``5:1-48``, ``6``, ``7:1-29``. Split pieces
  share the offsets of the text that produced them.
* Single-chapter books (Obadias, Filemom, 2-3 João, Judas): ``Judas 24`` is verse 24 of chapter 1.
* ``segundo João`` right after ``evangelho`` means "according to John", not 2 John.
* ``João 10, 10`` / ``Jo 3,16`` (the Catholic convention, and how Whisper often punctuates
  speech) is chapter 10 verse 10 when that verse exists and no quantity follows; otherwise the
  comma starts a list (``Salmos 23, 91`` -> two psalms).
* The reversed spoken order ``capítulo 13 de Primeira Coríntios`` / ``chapter 3 of John`` counts.
* Not handled: ``versículo 16 do capítulo 3 de João``; number words for a bare chapter other
  than Psalms (``João três``); a later bare ``no versículo 7`` that relies on an earlier book.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from services.analysis.bible.books import (
    ALIAS_NAMES,
    JOB_ACCENTED,
    Alias,
    Language,
    book_name,
    fold_accents,
    lookup,
    normalise_alias,
)
from services.analysis.bible.guards import DECIMAL_RE, QUANTITY_RE, TIME_RE, plausible_bare
from services.analysis.bible.language import detect_language
from services.analysis.bible.spoken import (
    CHAPTER_KEYWORD,
    DIGITS,
    NUMBER,
    ORDINAL_PREFIX,
    VERSE_KEYWORD,
    parse_number,
    parse_ordinal,
)
from services.analysis.bible.versification import chapter_count, is_valid, verse_count

__all__ = ["PassageMention", "find_passages"]


@dataclass(frozen=True, slots=True)
class PassageMention:
    """One Bible passage found in a text.

    Attributes:
        book_id: USFM book code (``GEN`` ... ``REV``, ``1CO``, ``JHN``, ``PSA``, ``SNG``...).
        chapter: chapter number, valid for the book.
        verse_start: first verse, or None for a whole chapter.
        verse_end: last verse (== ``verse_start`` for one verse), or None for a whole chapter.
        reference: normalised reference in the requested/detected language, e.g.
            ``"João 3:16"``, ``"Romanos 8:28-30"``, ``"1 Coríntios 13"``, ``"John 3:16"``.
        start: offset of the first character of the mention in the input text.
        end: offset one past its last character (``text[start:end]`` is what was matched).
    """

    book_id: str
    chapter: int
    verse_start: int | None
    verse_end: int | None
    reference: str
    start: int
    end: int


_Trie = dict[str, "_Trie"]


def _trie_regex(words: frozenset[str]) -> str:
    # A trie keeps the alternation cheap: the engine rejects most positions after one character.
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: _Trie) -> str:
        alternatives = []
        for char in sorted(k for k in node if k):
            piece = r"\s+" if char == " " else re.escape(char)
            alternatives.append(piece + emit(node[char]))
        if not alternatives:
            return ""
        terminal = "" in node
        if len(alternatives) == 1 and not terminal:
            return alternatives[0]
        group = "(?:" + "|".join(alternatives) + ")"
        return group + "?" if terminal else group

    return emit(trie)


_I = re.IGNORECASE
_BOOK_RE: Final = re.compile(
    rf"(?<!\w)(?:(?P<pre>{ORDINAL_PREFIX})(?:(?<=[\dªº°.])\s*|\s+))?"
    rf"(?P<name>{_trie_regex(ALIAS_NAMES)})(?![^\W\d_])\.?",
    _I,
)
_CONNECTOR = r"[\s,;]*(?:(?:e|and)\s+)?(?:(?:depois|tambem|ainda|la|ali|then|also|there)\s+)?"
_CHAPTER_KW_RE: Final = re.compile(
    rf"{_CONNECTOR}(?:(?:n[oa]|o|em|in|at)\s+)?{CHAPTER_KEYWORD}\s*(?P<n>{NUMBER})", _I
)
_VERSE_KW_RE: Final = re.compile(
    rf"{_CONNECTOR}(?:(?:a\s+partir\s+)?(?:d[oa]s?|n[oa]s?|o|the|at|in)\s+"
    rf"|(?:starting|beginning)\s+(?:at|with|from)\s+|from\s+)?"
    rf"{VERSE_KEYWORD}\s*(?P<n>{NUMBER})",
    _I,
)
_COMMA_VERSE_RE: Final = re.compile(rf",\s?(?P<n>{DIGITS})(?![.,:]\d)")
_REVERSED_RE: Final = re.compile(
    rf"(?<!\w){CHAPTER_KEYWORD}\s*(?P<c>{NUMBER})"
    rf"(?:[\s,]*(?:(?:n[oa]|o|the|at|in)\s+)?{VERSE_KEYWORD}\s*(?P<v>{NUMBER})"
    rf"(?:\s*(?:[-\u2013]|(?:a|ao|ate|through|to)(?=\s))\s*(?P<e>{NUMBER}))?)?"
    rf"\s*,?\s+(?:(?:do|no)\s+livro\s+)?(?:de|do|da|of)\s+(?:the\s+)?"
    rf"(?:(?:book|letter|gospel)\s+of\s+|(?:livro|carta|evangelho)\s+de\s+)?$",
    _I,
)
_CHAPTER_DIGITS_RE: Final = re.compile(rf"\s*(?P<n>{DIGITS})")
_CHAPTER_NUMBER_RE: Final = re.compile(rf"\s*(?P<n>{NUMBER})", _I)  # Psalms: "Salmo noventa e um"
_WRITTEN_VERSE_RE: Final = re.compile(rf"(?::\s?|\.)(?P<n>{DIGITS})(?!\.\d)")
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

_EVANGELHO_BEFORE_RE: Final = re.compile(r"(?:\b(?:evangelho|evangelhos)\s+)$", _I)
_COMBINING_RE: Final = re.compile(r"[\u0300-\u036f]")

Piece = tuple[int, int | None, int | None, int, int]  # chapter, verse_start, verse_end, start, end


def find_passages(text: str, language: Literal["pt", "en"] | None = None) -> list[PassageMention]:
    """Find every Bible passage mentioned in ``text``, in text order.

    Args:
        text: any string (a transcript, a title, a description). Never raises on str input.
        language: ``"pt"`` or ``"en"`` selects the alias table preferred for ambiguous
            abbreviations and the language of ``reference``. ``None`` guesses it from the text.

    Returns:
        One :class:`PassageMention` per passage; a list ``Rm 12:1-2 e 5:8`` gives two.
    """
    if not isinstance(text, str) or not text:
        return []
    folded, positions = _fold(text)
    lang: Language = language if language in ("pt", "en") else detect_language(folded[:5_000])
    mentions: list[PassageMention] = []
    pos = 0
    while True:
        match = _BOOK_RE.search(folded, pos)
        if match is None:
            break
        parsed = _parse_mention(folded, text if positions is None else folded, match, lang)
        if parsed is None:
            pos = match.start() + 1
            continue
        book_id, pieces, pos = parsed
        for chapter, verse_start, verse_end, start, end in pieces:
            if positions is not None:
                start, end = positions[start], positions[end]
            mentions.append(
                PassageMention(
                    book_id=book_id,
                    chapter=chapter,
                    verse_start=verse_start,
                    verse_end=verse_end,
                    reference=format_reference(book_id, chapter, verse_start, verse_end, lang),
                    start=start,
                    end=end,
                )
            )
    return mentions


def format_reference(
    book_id: str, chapter: int, verse_start: int | None, verse_end: int | None, language: Language
) -> str:
    """Normalised reference: ``"João 3:16"``, ``"Romanos 8:28-30"``, ``"Psalm 23"``."""
    name = book_name(book_id, language)
    if book_id == "PSA" and language == "en":
        name = "Psalm"  # one psalm is "Psalm 23"; the book is "Psalms"
    if verse_start is None:
        return f"{name} {chapter}"
    if verse_end is None or verse_end == verse_start:
        return f"{name} {chapter}:{verse_start}"
    return f"{name} {chapter}:{verse_start}-{verse_end}"


def _fold(text: str) -> tuple[str, list[int] | None]:
    """Accent-folded copy of ``text`` and, if its length changed, a map back to ``text`` offsets."""
    folded = fold_accents(text)
    if _COMBINING_RE.search(folded) is None:
        return folded, None
    # Decomposed input (NFD): drop the combining marks and remember where each char came from.
    kept = [i for i, char in enumerate(folded) if not _COMBINING_RE.match(char)]
    positions = [*kept, len(text)]
    return "".join(folded[i] for i in kept), positions


def _resolve(folded: str, original: str, match: re.Match[str], lang: Language) -> Alias | None:
    prefix = match.group("pre")
    number = parse_ordinal(prefix) if prefix else None
    if prefix and number is None:
        return None
    if (
        number == 2
        and prefix
        and prefix.lower().startswith("segund")
        and _EVANGELHO_BEFORE_RE.search(folded, max(0, match.start() - 20), match.start())
    ):
        return None  # "o evangelho segundo João 3": according to John
    name = normalise_alias(match.group("name"))
    if number is None and name == "jo":
        start = match.start("name")
        if original[start : start + 2].lower() == JOB_ACCENTED:
            return Alias("JOB", "pt", "F", person=True)
    return lookup(number, name, lang)


def _parse_mention(
    folded: str, original: str, match: re.Match[str], lang: Language
) -> tuple[str, list[Piece], int] | None:
    """Read the locator after a book name; None when this is not a passage."""
    alias = _resolve(folded, original, match, lang)
    if alias is None:
        return None
    book = alias.book_id
    has_prefix = match.group("pre") is not None
    capitalised = folded[match.start("name")].isupper()
    if alias.kind == "W" and not capitalised and not has_prefix:
        return None
    single_chapter = chapter_count(book) == 1
    pos = match.end()
    spoken = False

    keyword = _CHAPTER_KW_RE.match(folded, pos)
    if keyword is not None:
        if alias.kind == "W":
            return None
        chapter = parse_number(keyword.group("n"))
        pos, spoken, bare_digits = keyword.end(), True, False
    elif single_chapter and _VERSE_KW_RE.match(folded, pos):
        chapter, bare_digits = 1, False  # "Terceira João versículo 2"
    else:
        number_re = (
            _CHAPTER_NUMBER_RE if book == "PSA" and alias.kind == "F" else _CHAPTER_DIGITS_RE
        )
        digits = number_re.match(folded, pos)
        if digits is None:
            return _reversed_mention(folded, match, alias, lang)
        chapter = parse_number(digits.group("n"))
        pos, bare_digits = digits.end(), True
    if chapter is None:
        return None
    if bare_digits and not single_chapter:
        comma = _comma_verse(folded, match, alias, chapter, pos, capitalised, lang)
        if comma is not None:
            pieces, pos = comma
            return book, pieces, _read_list(folded, pos, book, lang, pieces, False)

    verse_start: int | None = None
    verse_end: int | None = None
    end_chapter = chapter
    written_shape = False
    if bare_digits and (written := _WRITTEN_VERSE_RE.match(folded, pos)):
        verse_start, pos, written_shape = int(written.group("n")), written.end(), True
    elif verse_kw := _VERSE_KW_RE.match(folded, pos):
        verse_start, pos, spoken = parse_number(verse_kw.group("n")), verse_kw.end(), True
        if verse_start is None:
            return None
    elif bare_digits and single_chapter:
        chapter, verse_start = 1, chapter  # "Judas 24"
    bare = bare_digits and not written_shape and not spoken

    if alias.kind == "W" and not written_shape:
        return None
    if verse_start is not None:
        verse_end, end_chapter, pos = _read_verse_range(folded, pos, verse_start, chapter, spoken)
    else:
        end_chapter, pos = _read_chapter_range(folded, pos, chapter, spoken)

    start = match.start()
    if (bare or written_shape) and not plausible_bare(
        folded, match, alias, book, pos, capitalised, written_shape
    ):
        return None
    first = _expand(book, chapter, verse_start, verse_end, end_chapter, start, pos)
    if first is None:
        return None
    pieces = list(first)
    pos = _read_list(folded, pos, book, lang, pieces, spoken)
    return book, pieces, pos


def _comma_verse(
    folded: str,
    match: re.Match[str],
    alias: Alias,
    chapter: int,
    pos: int,
    capitalised: bool,
    lang: Language,
) -> tuple[list[Piece], int] | None:
    """``João 10, 10`` / ``Jo 3,16``: the comma convention of Catholic Bibles and of Whisper.

    Guarded like a bare chapter; when the comma reading fails (``Atos 2, 3 mil pessoas``,
    ``Salmos 23, 91``) the caller falls back to a chapter and a list.
    """
    comma = _COMMA_VERSE_RE.match(folded, pos)
    if comma is None or _starts_book(folded, comma.start("n"), lang):
        return None
    if alias.kind == "W" and comma.start("n") != pos + 1:
        return None  # weak abbreviations only in the tight written form "Jo 3,16"
    verse_start = int(comma.group("n"))
    verse_end, end_chapter, end = _read_verse_range(
        folded, comma.end(), verse_start, chapter, False
    )
    if not plausible_bare(folded, match, alias, alias.book_id, end, capitalised, False):
        return None
    pieces = _expand(
        alias.book_id, chapter, verse_start, verse_end, end_chapter, match.start(), end
    )
    return None if pieces is None else (pieces, end)


def _reversed_mention(
    folded: str, match: re.Match[str], alias: Alias, lang: Language
) -> tuple[str, list[Piece], int] | None:
    """``capítulo 13 de Primeira Coríntios``, ``chapter 3 of John``: locator before the book."""
    if alias.kind == "W":
        return None
    window = max(0, match.start() - 90)
    found = _REVERSED_RE.search(folded, window, match.start())
    if found is None:
        return None
    chapter = parse_number(found.group("c"))
    verse_start = parse_number(found.group("v")) if found.group("v") else None
    verse_end = parse_number(found.group("e")) if found.group("e") else verse_start
    if (
        chapter is None
        or (found.group("v") and verse_start is None)
        or (found.group("e") and verse_end is None)
    ):
        return None
    pieces = _expand(
        alias.book_id, chapter, verse_start, verse_end, chapter, found.start(), match.end()
    )
    return None if pieces is None else (alias.book_id, pieces, match.end())


def _read_verse_range(
    folded: str, pos: int, verse_start: int, chapter: int, spoken: bool
) -> tuple[int, int, int]:
    """verse_end, end chapter and new position after an optional verse range."""
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


def _read_chapter_range(folded: str, pos: int, chapter: int, spoken: bool) -> tuple[int, int]:
    """End chapter and new position after an optional chapter range (``Mateus 5-7``)."""
    range_match = (_SPOKEN_RANGE_RE if spoken else _WRITTEN_RANGE_RE).match(folded, pos)
    if range_match is None or range_match.groupdict().get("v") is not None:
        return chapter, pos
    value = parse_number(range_match.group("n"))
    if value is None or value <= chapter:
        return chapter, pos
    return value, range_match.end()


def _expand(
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
        item = _CHAPTER_KW_RE.match(folded, pos) or _VERSE_KW_RE.match(folded, pos)
    return item


def _read_list(
    folded: str, pos: int, book: str, lang: Language, pieces: list[Piece], spoken: bool
) -> int:
    """Append list continuations to ``pieces`` (same book); return the position after them."""
    while True:
        chapter, verse_start, _, _, _ = pieces[-1]
        item = _next_item(folded, pos, spoken)
        if item is None:
            return pos
        item_start = item.start("n")
        if item.re is _CHAPTER_KW_RE:
            new_chapter, new_verse = parse_number(item.group("n")), None
            after = item.end()
            verse_kw = _VERSE_KW_RE.match(folded, after)
            if verse_kw is not None:
                new_verse, after = parse_number(verse_kw.group("n")), verse_kw.end()
            if new_chapter is None or (verse_kw is not None and new_verse is None):
                return pos
        else:
            if _starts_book(folded, item_start, lang):
                return pos  # ", 1 Coríntios 13": the next book, not a verse
            value = parse_number(item.group("n"))
            if value is None:
                return pos
            after = item.end()
            v_group = item.groupdict().get("v")
            if v_group is not None:
                new_chapter, new_verse = value, int(v_group)
            elif verse_start is not None or item.re is _VERSE_KW_RE:
                new_chapter, new_verse = chapter, value
            else:
                new_chapter, new_verse = value, None
        item_spoken = spoken or item.re is not _WRITTEN_LIST_RE
        if new_verse is not None:
            verse_end, end_chapter, after = _read_verse_range(
                folded, after, new_verse, new_chapter, item_spoken
            )
        else:
            verse_end = None
            end_chapter, after = _read_chapter_range(folded, after, new_chapter, item_spoken)
        guard = TIME_RE if ":" in folded[item_start:after] else QUANTITY_RE
        if guard.match(folded, after) or DECIMAL_RE.match(folded, after):
            return pos
        new = _expand(book, new_chapter, new_verse, verse_end, end_chapter, item_start, after)
        if new is None:
            return pos
        pieces.extend(new)
        pos = after


def _starts_book(folded: str, pos: int, lang: Language) -> bool:
    match = _BOOK_RE.match(folded, pos)
    return match is not None and _resolve(folded, folded, match, lang) is not None
