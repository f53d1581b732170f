"""Chapter and verse counts used to reject impossible references.

The table (``versification.tsv`` next to this module) is the King James Version versification of
the standard 66-book Protestant canon: 1,189 chapters and 31,102 verses (23,145 OT + 7,957 NT).
Verse counts are facts about a public-domain text, so the table is free of licensing concerns.

Portuguese Protestant Bibles (ARA, ARC, NAA, NVI) share this versification for practical
purposes: same books, same chapter counts (Joel 3, Malaquias 4) and the same verse counts almost
everywhere. The few places where a common Portuguese edition has one verse more are listed in
``_PT_EXTRA_VERSES`` and accepted too, so a Brazilian preacher's correct citation is never
rejected.
"""

from __future__ import annotations

from importlib import resources
from types import MappingProxyType
from typing import Final


def _load_table() -> MappingProxyType[str, tuple[int, ...]]:
    text = resources.files(__package__).joinpath("versification.tsv").read_text(encoding="utf-8")
    table: dict[str, tuple[int, ...]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        book_id, counts = line.split("\t")
        table[book_id.strip()] = tuple(int(c) for c in counts.split(","))
    return MappingProxyType(table)


VERSES_PER_CHAPTER: Final[MappingProxyType[str, tuple[int, ...]]] = _load_table()

# (book, chapter) -> verse count in ARA/NVI where it exceeds the KJV count.
_PT_EXTRA_VERSES: Final[MappingProxyType[tuple[str, int], int]] = MappingProxyType(
    {
        ("3JN", 1): 15,  # ARA/NVI split KJV 3 John 14 in two
        ("REV", 12): 18,  # NVI numbers "the dragon stood on the sand" as 12:18
    }
)


def chapter_count(book_id: str) -> int:
    """Number of chapters in a book (0 for an unknown book id)."""
    return len(VERSES_PER_CHAPTER.get(book_id, ()))


def verse_count(book_id: str, chapter: int) -> int:
    """Number of verses in a chapter (0 when the book or chapter does not exist)."""
    counts = VERSES_PER_CHAPTER.get(book_id, ())
    if not 1 <= chapter <= len(counts):
        return 0
    return max(counts[chapter - 1], _PT_EXTRA_VERSES.get((book_id, chapter), 0))


def is_valid(book_id: str, chapter: int, verse_start: int | None, verse_end: int | None) -> bool:
    """Whether the reference exists: chapter in range, verses in range and ordered."""
    last = verse_count(book_id, chapter)
    if last == 0:
        return False
    if verse_start is None:
        return verse_end is None
    end = verse_start if verse_end is None else verse_end
    return 1 <= verse_start <= end <= last
