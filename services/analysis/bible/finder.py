"""Find Bible passage references in sermon text (Portuguese and English, written and spoken).

How a mention is read
---------------------
1. One compiled regex (:mod:`names`: a trie of every alias, accent-folded, case-insensitive)
   finds a book name, optionally preceded by an ordinal (``1``, ``1ª``, ``II``, ``primeira``,
   ``Second``, ``segunda carta aos``, ``the first letter to the``).
2. Small anchored regexes (:mod:`locators`) then read the locator after it: a written
   chapter-and-verse shape (``3:16``, ``11.1``, ``8.28-30``), spoken keywords (``capítulo 3
   versículo 16``, ``chapter 8 verses 28 through 30``, ``do versículo 1 ao 5``, number words),
   ranges and lists (``12:1-2 e 5:8``, ``3:16, 18``, ``versículos 8 e 9``) - later list items
   inherit the book.
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
* The colon Whisper drops: ``João 3 16``, ``Acts 1 8``, ``filipenses quatro treze``, ``segunda
  timóteo três dezesseis`` - a second number right after a bare chapter is its verse when that
  verse exists. This *pair* shape is trusted more than a bare chapter: a lower-case name counts
  (transcripts are often all lower case) unless it is also an ordinary word (``números 4 5``).
* Full names take number words for a bare chapter too (``João três``, ``Luke fifteen``), but
  ``um``/``uma``/``one`` alone are articles (``Lucas um amigo``) unless a verse follows.
* ``Mateus 5, 6 e 7`` is three whole chapters, like ``Mateus 5-7``: after the chapter, a comma
  list of consecutive numbers closed by ``e``/``and`` names chapters. Other commas keep the
  rule above (``Provérbios 3, 5 e 6`` is 3:5 and 3:6).
* A falling or level "range" after a bare name is a score: ``deu Lucas 3 a 1``.
* Locators said before the book (:mod:`reversed_order`): ``capítulo 13 de Primeira Coríntios``,
  ``chapter 3 of John``, ``versículo 16 do capítulo 3 de João``, ``o versículo 28 de Romanos 8``.
* Not handled (out of scope): a later bare ``no versículo 7`` that relies on an earlier book -
  the finder reads each mention on its own, and ``versículo 7`` alone names no passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from services.analysis.bible.books import Alias, Language, book_name, fold_accents
from services.analysis.bible.guards import Shape, plausible_bare
from services.analysis.bible.language import detect_language
from services.analysis.bible.locators import (
    CHAPTER_KW_RE,
    COMMA_VERSE_RE,
    VERSE_KW_RE,
    WRITTEN_VERSE_RE,
    Piece,
    expand,
    is_chapter_run,
    is_score,
    pair_verse,
    read_chapter_range,
    read_list,
    read_verse_range,
)
from services.analysis.bible.names import BOOK_RE, resolve, starts_book
from services.analysis.bible.reversed_order import preceding_verse, reversed_locator
from services.analysis.bible.spoken import DIGITS, NUMBER, parse_number
from services.analysis.bible.versification import chapter_count

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


_I = re.IGNORECASE
_CHAPTER_DIGITS_RE: Final = re.compile(rf"\s*(?P<n>{DIGITS})")
# Full names take number words too ("Salmo noventa e um", "João três", "Luke fifteen").
_CHAPTER_NUMBER_RE: Final = re.compile(rf"\s*(?P<n>{NUMBER})", _I)
# Words that are numbers but far more often an article or pronoun: "Lucas um amigo meu",
# "John one of my friends". They count as a chapter only with a verse after them.
_LONE_ARTICLES: Final = frozenset({"um", "uma", "one"})
_COMBINING_RE: Final = re.compile(r"[\u0300-\u036f]")


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
        match = BOOK_RE.search(folded, pos)
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


def _parse_mention(
    folded: str, original: str, match: re.Match[str], lang: Language
) -> tuple[str, list[Piece], int] | None:
    """Read the locator after a book name; None when this is not a passage."""
    alias = resolve(folded, original, match, lang)
    if alias is None:
        return None
    book = alias.book_id
    has_prefix = match.group("pre") is not None
    capitalised = folded[match.start("name")].isupper()
    if alias.kind == "W" and not capitalised and not has_prefix:
        return None
    single_chapter = chapter_count(book) == 1
    pos = match.end()
    spoken = lone_article = False

    keyword = CHAPTER_KW_RE.match(folded, pos)
    if keyword is not None:
        if alias.kind == "W":
            return None
        chapter = parse_number(keyword.group("n"))
        pos, spoken, bare_digits = keyword.end(), True, False
    elif single_chapter and VERSE_KW_RE.match(folded, pos):
        chapter, bare_digits = 1, False  # "Terceira João versículo 2"
    else:
        number_re = _CHAPTER_NUMBER_RE if alias.kind == "F" else _CHAPTER_DIGITS_RE
        digits = number_re.match(folded, pos)
        if digits is None:
            return _reversed_mention(folded, match, alias)
        chapter = parse_number(digits.group("n"))
        pos, bare_digits = digits.end(), True
        lone_article = book != "PSA" and digits.group("n").lower() in _LONE_ARTICLES
    if chapter is None:
        return None
    if bare_digits and not single_chapter:
        comma = _comma_verse(folded, match, alias, chapter, pos, capitalised, lang)
        if comma is not None:
            pieces, pos = comma
            return book, pieces, read_list(folded, pos, book, lang, pieces, False)

    verse_start: int | None = None
    verse_end: int | None = None
    end_chapter = chapter
    shape: Shape | None = "bare" if bare_digits else None
    pair = None
    if bare_digits and (written := WRITTEN_VERSE_RE.match(folded, pos)):
        verse_start, pos, shape = int(written.group("n")), written.end(), "written"
    elif verse_kw := VERSE_KW_RE.match(folded, pos):
        verse_start, pos, spoken = parse_number(verse_kw.group("n")), verse_kw.end(), True
        shape = None
        if verse_start is None:
            return None
    elif bare_digits and (pair := pair_verse(folded, pos, book, chapter, lang)) is not None:
        verse_start, pos, shape = pair
    elif bare_digits and single_chapter:
        chapter, verse_start = 1, chapter  # "Judas 24"
    if alias.kind == "W" and shape != "written":
        return None
    if verse_start is not None:
        verse_end, end_chapter, pos = read_verse_range(
            folded, pos, verse_start, chapter, spoken or shape == "pair"
        )
    elif lone_article or (shape == "bare" and is_score(folded, pos, chapter)):
        return None
    else:
        end_chapter, pos = read_chapter_range(folded, pos, chapter, spoken)

    start = match.start()
    if shape is not None and not plausible_bare(
        folded, match, alias, book, pos, capitalised, shape
    ):
        return None
    if verse_start is None and end_chapter == chapter:
        # "o versículo 28 de Romanos 8": the verse was said before the book.
        before = preceding_verse(folded, start)
        if before is not None:
            verse_start, verse_end, start = before
    first = expand(book, chapter, verse_start, verse_end, end_chapter, start, pos)
    if first is None:
        return None
    pieces = list(first)
    pos = read_list(folded, pos, book, lang, pieces, spoken)
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
    comma = COMMA_VERSE_RE.match(folded, pos)
    if comma is None or starts_book(folded, comma.start("n"), lang):
        return None
    if is_chapter_run(folded, pos, chapter):
        return None  # "Mateus 5, 6 e 7": the caller reads a list of chapters
    if alias.kind == "W" and comma.start("n") != pos + 1:
        return None  # weak abbreviations only in the tight written form "Jo 3,16"
    verse_start = int(comma.group("n"))
    verse_end, end_chapter, end = read_verse_range(folded, comma.end(), verse_start, chapter, False)
    if not plausible_bare(folded, match, alias, alias.book_id, end, capitalised, "bare"):
        return None
    pieces = expand(alias.book_id, chapter, verse_start, verse_end, end_chapter, match.start(), end)
    return None if pieces is None else (pieces, end)


def _reversed_mention(
    folded: str, match: re.Match[str], alias: Alias
) -> tuple[str, list[Piece], int] | None:
    """``capítulo 13 de Primeira Coríntios``, ``versículo 16 do capítulo 3 de João``."""
    if alias.kind == "W":
        return None
    found = reversed_locator(folded, match.start())
    if found is None:
        return None
    chapter, verse_start, verse_end, start = found
    pieces = expand(alias.book_id, chapter, verse_start, verse_end, chapter, start, match.end())
    return None if pieces is None else (alias.book_id, pieces, match.end())
