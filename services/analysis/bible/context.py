"""Verses named after their chapter: ``abre em romanos 8 ... e aqui no versículo 28``.

A preacher announces a chapter, talks for a while, then says only "versículo N" / "verse N".
The verse belongs to the chapter last announced, and the chapter was only the way to it, so
the chapter-only mention is *replaced* by the verses (the labelling rule of the ASR corpus:
"only the verse is expected, not the whole chapter as well").

A verse is attached to a chapter only when nothing in between points elsewhere: no other
mention, no other book's name, no ``capítulo N`` of its own, and at most :data:`WINDOW`
characters (a minute or so of speech). Verses must exist in that chapter. A verse after a
*verse* mention (``Romanos 8:1 ... no versículo 7``) is left alone: the chapter was never
announced as the text.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Final

from services.analysis.bible.books import Language
from services.analysis.bible.guards import DECIMAL_RE, QUANTITY_RE
from services.analysis.bible.locators import Piece, expand, read_list, read_verse_range
from services.analysis.bible.names import BOOK_RE, resolve
from services.analysis.bible.spoken import CHAPTER_KEYWORD, NUMBER, NUMBERED, parse_number

__all__ = ["RESTATE_WINDOW", "WINDOW", "drop_restated", "narrow_chapters"]

WINDOW: Final = 600
# A chapter named and then restated with its verse while the congregation finds the page
# ("naum um naum capítulo um versículo sete") is one citation of the verse. Farther apart than
# this (a paragraph or so of speech) the chapter was announced on its own.
RESTATE_WINDOW: Final = 300
_I = re.IGNORECASE
# Whole words only: "vs"/"v." are too ambiguous without a book right before them.
_VERSE_RE: Final = re.compile(
    rf"(?<!\w)(?:(?:a\s+partir\s+)?d[oa]s?\s+)?(?:versiculos?|versos?|verses?|versus){NUMBERED}\s*(?P<n>{NUMBER})",
    _I,
)
_CHAPTER_RE: Final = re.compile(rf"(?<!\w){CHAPTER_KEYWORD}{NUMBERED}\s*{NUMBER}", _I)

Found = tuple[str, Piece]  # book id, piece


def narrow_chapters(folded: str, found: list[Found], lang: Language) -> list[Found]:
    """Replace each announced chapter by the verses later named in its context.

    Args:
        folded: the accent-folded text the pieces' offsets refer to.
        found: ``(book, piece)`` in text order.
        lang: the text's language (for book-name resolution).

    Returns:
        The pieces with narrowed chapters replaced, still in text order.
    """
    result: list[Found] = []
    # Pieces of one locator ("Mateus 5-7", "Salmos 23, 91") share its start offset.
    starts = Counter(piece[3] for _, piece in found)
    # Verses named after a restatement ("filipenses 4 … filipenses 4 6 … e o versículo 7"):
    # the announced chapter is still the text, so they follow the restated verse.
    after_restated: dict[int, list[Piece]] = {}
    for index, (book, piece) in enumerate(found):
        chapter, verse_start, _, start, end = piece
        if verse_start is not None or starts[start] > 1:
            result.append((book, piece))
            result.extend((book, extra) for extra in after_restated.get(index, ()))
            continue
        limit = min(len(folded), end + WINDOW)
        if index + 1 < len(found):
            limit = min(limit, found[index + 1][1][3])
            if _restates(found, index):
                restated_end = found[index + 1][1][4]
                later = found[index + 2][1][3] if index + 2 < len(found) else len(folded)
                after_restated[index + 1] = _verses_after(
                    folded, restated_end, min(later, restated_end + WINDOW), book, chapter, lang
                )
        verses = _verses_after(folded, end, limit, book, chapter, lang)
        if verses:
            result.extend((book, verse) for verse in verses)
        else:
            result.append((book, piece))
    return result


def drop_restated(found: list[Found]) -> list[Found]:
    """Drop a whole-chapter piece that the next mention restates with a verse of that chapter.

    ``joel dois joel capítulo dois versículo vinte e oito`` is Joel 2:28 said twice while the
    congregation finds the page, not Joel 2 *and* Joel 2:28. Only the very next piece counts
    (another passage in between means the chapter stood on its own), it must be the same book
    and chapter with a verse, and start within :data:`RESTATE_WINDOW` characters. Pieces of a
    chapter list or range (``Mateus 5-7``, ``Salmos 23, 91``) share their start and are kept.
    """
    starts = Counter(piece[3] for _, piece in found)
    return [
        item
        for index, item in enumerate(found)
        if not (item[1][1] is None and starts[item[1][3]] == 1 and _restates(found, index))
    ]


def _restates(found: list[Found], index: int) -> bool:
    """Whether the piece after ``found[index]`` (a whole chapter) restates it with a verse."""
    if index + 1 >= len(found):
        return False
    book, (chapter, _, _, _, end) = found[index]
    next_book, following = found[index + 1]
    return (
        next_book == book
        and following[0] == chapter
        and following[1] is not None
        and following[3] - end <= RESTATE_WINDOW
    )


def _verses_after(
    folded: str, pos: int, limit: int, book: str, chapter: int, lang: Language
) -> list[Piece]:
    """Verses of ``book`` ``chapter`` named between ``pos`` and ``limit``."""
    pieces: list[Piece] = []
    for verse in _VERSE_RE.finditer(folded, pos, limit):
        if pieces and verse.start() < pieces[-1][4]:
            continue  # already read as part of the previous verse's list
        gap_start = pieces[-1][4] if pieces else pos
        if _points_elsewhere(folded, gap_start, verse.start(), book, lang):
            break
        value = parse_number(verse.group("n"))
        if value is None:
            continue
        verse_end, _, after = read_verse_range(folded, verse.end(), value, chapter, True, book)
        if QUANTITY_RE.match(folded, after) or DECIMAL_RE.match(folded, after):
            continue
        new = expand(book, chapter, value, verse_end, chapter, verse.start(), after)
        if new is None:
            continue
        read_list(folded, after, book, lang, new, True)
        pieces.extend(piece for piece in new if piece[0] == chapter)
    return pieces


def _points_elsewhere(folded: str, start: int, end: int, book: str, lang: Language) -> bool:
    """Whether another chapter or another book's name is said between ``start`` and ``end``."""
    if _CHAPTER_RE.search(folded, start, end):
        return True
    for name in BOOK_RE.finditer(folded, start, end):
        alias = resolve(folded, folded, name, lang)
        if alias is not None and alias.kind != "W" and alias.book_id != book:
            return True
    return False
