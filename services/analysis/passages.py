"""Aggregate Bible-passage mentions into ``BiblePassageDTO``s with counts and timestamps.

The passage finder (:mod:`services.analysis.bible`) reports every mention with its character
offsets in the analysed text. Mentions of the same ``(book, chapter, verse range)`` become one
passage: ``mentions`` counts them, ``timestamps`` lists the start second of each segment that
cites it (distinct values, in order of mention), and ``reference`` is the finder's normalised
reference of the first mention. Passages keep the order of their first mention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from schemas.summary import BiblePassageDTO
from services.analysis.timeline import Timeline


class MentionLike(Protocol):
    """The fields of a finder mention this module reads (``PassageMention``)."""

    @property
    def book_id(self) -> str: ...
    @property
    def chapter(self) -> int: ...
    @property
    def verse_start(self) -> int | None: ...
    @property
    def verse_end(self) -> int | None: ...
    @property
    def reference(self) -> str: ...
    @property
    def start(self) -> int: ...


PassageKey = tuple[str, int, int | None, int | None]


@dataclass(slots=True)
class _Group:
    reference: str
    mentions: int = 0
    timestamps: list[float] = field(default_factory=list)


def aggregate_passages(
    mentions: Iterable[MentionLike], timeline: Timeline | None = None
) -> list[BiblePassageDTO]:
    """Group finder mentions into passages.

    Args:
        mentions: Mentions in any order; they are processed by character offset.
        timeline: Maps offsets to segment start seconds; without it timestamps stay empty.

    Returns:
        One ``BiblePassageDTO`` per distinct passage, in order of first mention.
    """
    groups: dict[PassageKey, _Group] = {}
    for mention in sorted(mentions, key=lambda m: m.start):
        key: PassageKey = (mention.book_id, mention.chapter, mention.verse_start, mention.verse_end)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(mention.reference)
        group.mentions += 1
        when = timeline.time_at(mention.start) if timeline is not None else None
        if when is not None and when not in group.timestamps:
            group.timestamps.append(when)
    passages: list[BiblePassageDTO] = []
    for (book_id, chapter, verse_start, verse_end), group in groups.items():
        try:
            passages.append(
                BiblePassageDTO(
                    reference=group.reference,
                    book_id=book_id,
                    chapter=chapter,
                    verse_start=verse_start,
                    verse_end=verse_end,
                    mentions=group.mentions,
                    timestamps=group.timestamps,
                )
            )
        except ValidationError:
            # The finder validates against its versification table; a mention the DTO
            # still refuses is dropped rather than failing the whole analysis.
            continue
    return passages
