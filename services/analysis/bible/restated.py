"""A reference said twice, or corrected, is one citation.

Found on the blind round-3 corpus (issue 24), after the chapter-then-verse restatement of
:func:`context.drop_restated`:

* **repeats**: ``deuteronômio 31 versículo 6 versículo 6``, ``salmos 139 salmos 139``,
  ``romanos 8 versículo 1 romanos 8 1`` - the same passage again within
  :data:`context.RESTATE_WINDOW` characters, with no other passage in between, is dropped;
* **corrections**: ``mateus cinco não não perdão mateus seis``, ``john fifteen sorry john
  fourteen`` - a passage followed right away by a correction word and another passage of the
  same book is dropped (only the corrected reference was meant). The correction must sit in
  the few characters between the two, so "perdão" (forgiveness) later in a sermon on
  forgiveness changes nothing.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.context import RESTATE_WINDOW, Found

CORRECTION_GAP: Final = 40
_CORRECTION_RE: Final = re.compile(
    r"^[\s,.;:!-]*(?:(?:nao|no|nope|e|uh|eh|ah|oh)[\s,.;:!-]+)*"
    r"(?:perdao|desculpa|desculpe|digo|quer\s+dizer|ou\s+melhor|alias|errei|sorry|i\s+mean"
    r"|no\s+wait|wait|oops|my\s+bad|correction|rather|actually)\b",
    re.IGNORECASE,
)


def drop_repeats_and_corrections(folded: str, found: list[Found]) -> list[Found]:
    """``found`` without passages repeated at once or corrected by the next one (module doc)."""
    kept: list[Found] = []
    for index, (book, piece) in enumerate(found):
        if kept:
            last_book, last = kept[-1]
            same = (last_book, last[:3]) == (book, piece[:3])
            if same and piece[3] - last[4] <= RESTATE_WINDOW and piece[3] != last[3]:
                continue  # said again
        if index + 1 < len(found):
            next_book, following = found[index + 1]
            gap = folded[piece[4] : following[3]]
            if (
                next_book == book
                and following[3] != piece[3]
                and len(gap) <= CORRECTION_GAP
                and _CORRECTION_RE.match(gap)
            ):
                continue  # corrected by the next reference
        kept.append((book, piece))
    return kept
