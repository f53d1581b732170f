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
* it is capitalised (``job 2`` and ``atos 2`` are words), except ``salmo``/``psalm`` - or the
  whole text is *caseless* (automatic captions), where case says nothing: there a name that is
  also an ordinary word needs a cue before it (``em atos 2``, ``turn to mark 4``), see
  :mod:`guards`;
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
* Speech-recognition forms (:mod:`asr`): glued digits (``isaías 4031``, ``2 Corinthians
  129`` when only one split is a verse), ``psalm one thirty nine``, ``salmos 23 de 1 até 6``,
  ``a partir do versículo 31 até o final do capítulo``, ``capítulo 8 28``, ``proverbs three
  five and six``.
* A later bare ``no versículo 20`` after an announced chapter (``abre em lucas 15 ... e no
  versículo 20``) narrows that chapter to the verse (:mod:`context`); after a *verse* mention
  (``Romanos 8:1 ... no versículo 7``) it is left alone.
* A lone ``é`` (is) is masked before folding so it never reads as ``e`` (and) in a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from services.analysis.bible.asr import (
    FROM_VERSE_RE,
    and_verse,
    glued_reference,
    hundred_number,
    is_caseless,
)
from services.analysis.bible.books import Alias, Language, book_name, fold_accents
from services.analysis.bible.context import drop_restated, narrow_chapters
from services.analysis.bible.garbles import (
    joined_verse,
    misheard_chapter,
    misheard_psalms,
    misheard_verse,
    skipped_words_before_range,
)
from services.analysis.bible.guards import QUANTITY_RE, Shape, plausible_bare
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
from services.analysis.bible.ordinals import ordinal_before
from services.analysis.bible.restated import drop_repeats_and_corrections
from services.analysis.bible.reversed_order import preceding_verse, reversed_locator
from services.analysis.bible.spoken import DIGITS, NUMBER, NUMBERED, parse_number
from services.analysis.bible.versification import chapter_count, is_valid

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
# Chapter ranges are cited a few chapters at a time ("Mateus 5-7"); a "range" of five or more
# chapters whose end is also a verse of the first is chapter and verse with a dash, as Whisper
# writes "john one sixteen" ("John 1-16"); "Isaiah 40-55" stays sixteen chapters.
MAX_CHAPTER_SPAN: Final = 4
_CHAPTER_DIGITS_RE: Final = re.compile(rf"{NUMBERED}\s*(?P<n>{DIGITS})", _I)
# Full names take number words too ("Salmo noventa e um", "João três", "Luke fifteen").
_CHAPTER_NUMBER_RE: Final = re.compile(rf"{NUMBERED}\s*(?P<n>{NUMBER})", _I)
# Words that are numbers but far more often an article or pronoun: "Lucas um amigo meu",
# "John one of my friends". They count as a chapter only with a verse after them.
_LONE_ARTICLES: Final = frozenset({"um", "uma", "one"})
_COMBINING_RE: Final = re.compile(r"[\u0300-\u036f]")
# A lone "é" (is) folds to "e" (and), which would join "romanos 8 é um capítulo" into a list
# ("8 e 1"); it is masked before folding (same length, so offsets survive).
_LONE_IS_RE: Final = re.compile(r"(?<!\w)[éÉ](?!\w)")
_IS_MASK: Final = "\u00a7"


@dataclass(slots=True)
class _Reading:
    """The locator read so far after one book name (offsets in the folded text)."""

    chapter: int
    pos: int
    shape: Shape | None  # "bare" for a bare chapter number, None for spoken keywords
    spoken: bool = False  # a keyword was said, so ranges and lists may use number words
    lone_article: bool = False
    verse_start: int | None = None
    verse_end: int | None = None
    end_chapter: int = 0
    paired: bool = False  # the verse is a second number said right after the chapter


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
    caseless = is_caseless(text)
    original = text if positions is None else folded
    found: list[tuple[str, Piece]] = []
    pos = 0
    while True:
        match = BOOK_RE.search(folded, pos)
        if match is None:
            break
        parsed = _parse_mention(folded, original, match, lang, caseless)
        if parsed is None:
            pos = match.start() + 1
            continue
        book_id, pieces, pos = parsed
        found.extend((book_id, piece) for piece in pieces)
    if lang == "pt":  # "no salvo de nome do trinta e quatro" (garbles.py)
        heard = [("PSA", (n, None, None, a, b)) for n, a, b in misheard_psalms(folded)]
        found = sorted([*found, *heard], key=lambda item: item[1][3]) if heard else found
    mentions: list[PassageMention] = []
    kept = drop_restated(narrow_chapters(folded, found, lang))
    for book_id, (chapter, verse_start, verse_end, start, end) in drop_repeats_and_corrections(
        folded, kept
    ):
        if positions is not None:
            start, end = positions[start], positions[end]
        reference = format_reference(book_id, chapter, verse_start, verse_end, lang)
        mentions.append(
            PassageMention(book_id, chapter, verse_start, verse_end, reference, start, end)
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
    folded = fold_accents(_LONE_IS_RE.sub(_IS_MASK, text))
    if _COMBINING_RE.search(folded) is None:
        return folded, None
    # Decomposed input (NFD): drop the combining marks and remember where each char came from.
    kept = [i for i, char in enumerate(folded) if not _COMBINING_RE.match(char)]
    positions = [*kept, len(text)]
    return "".join(folded[i] for i in kept), positions


def _parse_mention(
    folded: str, original: str, match: re.Match[str], lang: Language, caseless: bool
) -> tuple[str, list[Piece], int] | None:
    """Read the locator after a book name; None when this is not a passage."""
    alias = resolve(folded, original, match, lang)
    if alias is None:
        return None
    book = alias.book_id
    capitalised = folded[match.start("name")].isupper()
    if alias.kind == "W" and not capitalised and match.group("pre") is None:
        return None
    reading = _read_chapter(folded, match, alias, lang)
    if reading == "reversed":
        return _reversed_mention(folded, match, alias)
    if reading is None:
        return None
    single_chapter = chapter_count(book) == 1
    if reading.shape == "bare" and reading.verse_start is None and not single_chapter:
        comma = _comma_verse(folded, match, alias, reading, capitalised, lang, caseless)
        if comma is not None:
            pieces, pos = comma
            return book, pieces, read_list(folded, pos, book, lang, pieces, False)
    if not _read_verse(folded, reading, book, lang, single_chapter):
        return None
    if alias.kind == "W" and reading.shape != "written":
        return None
    if not _read_range(folded, reading, book):
        return None
    start = match.start()
    if reading.shape is not None and not plausible_bare(
        folded, match, alias, book, reading.pos, capitalised, reading.shape, caseless
    ):
        return None
    if reading.verse_start is None and reading.end_chapter == reading.chapter:
        # "o versículo 28 de Romanos 8": the verse was said before the book.
        before = preceding_verse(folded, start)
        if before is not None:
            reading.verse_start, reading.verse_end, start = before
    return _pieces(folded, reading, book, lang, start)


def _read_chapter(
    folded: str, match: re.Match[str], alias: Alias, lang: Language
) -> _Reading | Literal["reversed"] | None:
    """The chapter after the name; ``"reversed"`` when no number follows it at all."""
    book, pos = alias.book_id, match.end()
    keyword = CHAPTER_KW_RE.match(folded, pos)
    if keyword is not None:
        if alias.kind == "W":
            return None
        chapter = parse_number(keyword.group("n"))
        return None if chapter is None else _Reading(chapter, keyword.end(), None, spoken=True)
    if chapter_count(book) == 1 and VERSE_KW_RE.match(folded, pos):
        return _Reading(1, pos, None)  # "Terceira João versículo 2"
    # Whisper glues digits in cased output too ("2 Corinthians 129", "Lamentations 322").
    glued = glued_reference(folded, pos, book, alias.person)
    if glued is not None:  # "isaías 4031"
        return _Reading(glued[0], glued[2], "pair", verse_start=glued[1], paired=True)
    if book == "PSA" and alias.kind == "F" and (hundred := hundred_number(folded, pos)):
        return _Reading(hundred[0], hundred[1], "bare")  # "psalm one thirty nine"
    number_re = _CHAPTER_NUMBER_RE if alias.kind == "F" else _CHAPTER_DIGITS_RE
    digits = number_re.match(folded, pos)
    if digits is None:
        # "lamentations, three twenty two", "lamentations free twenty two" (garbles.py): like
        # a lone article, it needs a verse after it.
        heard = misheard_chapter(folded, pos, lang == "en") if alias.kind == "F" else None
        if heard is None:
            return "reversed"
        return _Reading(heard[0], heard[1], "bare", lone_article=True)
    chapter = parse_number(digits.group("n"))
    if chapter is None:
        return None
    said = digits.group("n").lower()
    lone = (book != "PSA" and said in _LONE_ARTICLES) or said.startswith("vinci")
    return _Reading(chapter, digits.end(), "bare", lone_article=lone)


def _read_verse(
    folded: str, reading: _Reading, book: str, lang: Language, single_chapter: bool
) -> bool:
    """Read the verse after the chapter into ``reading``; False when this is not a passage."""
    pos, bare = reading.pos, reading.shape == "bare"
    if reading.verse_start is not None:
        return True  # already read with the chapter ("isaías 4031")
    if bare and (written := WRITTEN_VERSE_RE.match(folded, pos)):
        reading.verse_start, reading.pos = int(written.group("n")), written.end()
        reading.shape = "written"
    elif verse_kw := VERSE_KW_RE.match(folded, pos):
        reading.verse_start, reading.pos = parse_number(verse_kw.group("n")), verse_kw.end()
        reading.spoken, reading.shape = True, None
        return reading.verse_start is not None
    elif reading.spoken and (heard := misheard_verse(folded, pos, book, reading.chapter)):
        reading.verse_start, reading.pos = heard  # "capítulo 6, ver se cura 34" (garbles.py)
        reading.shape = None
    elif _from_range(folded, reading, book):
        pass  # "salmos 23 de 1 até 6", "joão capítulo 15 do 1 ao 8"
    elif (bare or reading.spoken) and (
        pair := pair_verse(folded, pos, book, reading.chapter, lang)
    ):
        said = folded[pos : pair[1]].strip().lower()
        if not bare and (said in _LONE_ARTICLES or QUANTITY_RE.match(folded, pair[1])):
            return True  # "capítulo 3 um homem", "capítulo 8 2 vezes": not a verse
        reading.verse_start, reading.pos, reading.paired = pair[0], pair[1], True
        if bare:
            reading.shape = "pair"
    elif bare and (joined := joined_verse(folded, pos, book, reading.chapter)):
        reading.verse_start, reading.pos, reading.paired = joined[0], joined[1], True
        reading.shape = "pair"  # "primeira pedro 5 e 7": 7 is no chapter of First Peter
    elif bare and single_chapter:
        reading.chapter, reading.verse_start = 1, reading.chapter  # "Judas 24"
    return True


def _from_range(folded: str, reading: _Reading, book: str) -> bool:
    """``de 1 até 6`` / ``do 24 ao 26`` after the chapter: a rising verse range, read in."""
    found = FROM_VERSE_RE.match(folded, reading.pos) or skipped_words_before_range(
        folded, reading.pos
    )  # "do meu ciclo 35 ao 41": "versículo" misheard
    if found is None or (first := parse_number(found.group("n"))) is None:
        return False
    last, _, _ = read_verse_range(folded, found.end(), first, reading.chapter, True, book)
    if last <= first:
        return False
    reading.verse_start, reading.pos, reading.spoken = first, found.end(), True
    if reading.shape == "bare":
        reading.shape = "pair"  # two numbers and a range: as strong as "João 3 16"
    return True


def _read_range(folded: str, reading: _Reading, book: str) -> bool:
    """Read a verse or chapter range into ``reading``; False when this is not a passage."""
    reading.end_chapter = reading.chapter
    if reading.verse_start is not None:
        reading.verse_end, reading.end_chapter, reading.pos = read_verse_range(
            folded,
            reading.pos,
            reading.verse_start,
            reading.chapter,
            reading.spoken or reading.shape == "pair",
            book,
        )
        return True
    if reading.lone_article or (
        reading.shape == "bare" and is_score(folded, reading.pos, reading.chapter)
    ):
        return False
    reading.end_chapter, reading.pos = read_chapter_range(
        folded, reading.pos, reading.chapter, reading.spoken
    )
    last = reading.end_chapter
    if last - reading.chapter >= MAX_CHAPTER_SPAN and is_valid(book, reading.chapter, last, last):
        # "John 1-16": Whisper's dash for a colon ("john one sixteen"), not sixteen chapters.
        reading.verse_start = reading.verse_end = last
        reading.end_chapter = reading.chapter
    return True


def _pieces(
    folded: str, reading: _Reading, book: str, lang: Language, start: int
) -> tuple[str, list[Piece], int] | None:
    """Validated pieces of the reading plus the list items after it."""
    first = expand(
        book,
        reading.chapter,
        reading.verse_start,
        reading.verse_end,
        reading.end_chapter,
        start,
        reading.pos,
    )
    if first is None:
        return None
    pieces = list(first)
    pos = reading.pos
    last = pieces[-1][2]
    if reading.paired and last is not None and reading.end_chapter == reading.chapter:
        # "proverbs three five and six": the spoken pair's list, rising verses only.
        more = and_verse(folded, pos, book, reading.chapter, last)
        if more is not None and not QUANTITY_RE.match(folded, more[1]):
            pieces.append((reading.chapter, more[0], more[0], pos, more[1]))
            pos = more[1]
    return book, pieces, read_list(folded, pos, book, lang, pieces, reading.spoken)


def _comma_verse(
    folded: str,
    match: re.Match[str],
    alias: Alias,
    reading: _Reading,
    capitalised: bool,
    lang: Language,
    caseless: bool,
) -> tuple[list[Piece], int] | None:
    """``João 10, 10`` / ``Jo 3,16``: the comma convention of Catholic Bibles and of Whisper.

    Guarded like a bare chapter; when the comma reading fails (``Atos 2, 3 mil pessoas``,
    ``Salmos 23, 91``) the caller falls back to a chapter and a list.
    """
    chapter, pos = reading.chapter, reading.pos
    comma = COMMA_VERSE_RE.match(folded, pos)
    if comma is None or starts_book(folded, comma.start("n"), lang):
        return None
    if is_chapter_run(folded, pos, chapter):
        return None  # "Mateus 5, 6 e 7": the caller reads a list of chapters
    if alias.kind == "W" and comma.start("n") != pos + 1:
        return None  # weak abbreviations only in the tight written form "Jo 3,16"
    verse_start = int(comma.group("n"))
    verse_end, end_chapter, end = read_verse_range(
        folded, comma.end(), verse_start, chapter, False, alias.book_id
    )
    if not plausible_bare(folded, match, alias, alias.book_id, end, capitalised, "bare", caseless):
        return None
    pieces = expand(alias.book_id, chapter, verse_start, verse_end, end_chapter, match.start(), end)
    return None if pieces is None else (pieces, end)


def _reversed_mention(
    folded: str, match: re.Match[str], alias: Alias
) -> tuple[str, list[Piece], int] | None:
    """``capítulo 13 de Primeira Coríntios``, ``versículo 16 do capítulo 3 de João``."""
    if alias.kind == "W":
        return None
    end = match.end()
    found = reversed_locator(folded, match.start())
    if found is None:
        # "the eighth chapter of romans verse twenty eight", "the twenty third psalm"
        ordinal = ordinal_before(folded, match.start(), alias.book_id == "PSA")
        if ordinal is None:
            return None
        verses = _verse_after(folded, end, alias.book_id, ordinal[0])
        verse_start, verse_end = (verses[0], verses[1]) if verses else (None, None)
        end = verses[2] if verses else end
        found = (ordinal[0], verse_start, verse_end, ordinal[1])
    chapter, verse_start, verse_end, start = found
    pieces = expand(alias.book_id, chapter, verse_start, verse_end, chapter, start, end)
    return None if pieces is None else (alias.book_id, pieces, end)


def _verse_after(folded: str, pos: int, book: str, chapter: int) -> tuple[int, int, int] | None:
    """``verse twenty eight``, ``verses 2 through 4``, ``verse one oh five`` after a book
    named with an ordinal chapter: ``(verse_start, verse_end, end)``."""
    keyword = VERSE_KW_RE.match(folded, pos)
    if keyword is None:
        return None
    hundred = hundred_number(folded, keyword.start("n") - 1)
    if hundred is not None:
        return hundred[0], hundred[0], hundred[1]
    first = parse_number(keyword.group("n"))
    if first is None:
        return None
    last, _, end = read_verse_range(folded, keyword.end(), first, chapter, True, book)
    return first, last, end
