"""A quotation tagged by a pronoun: "Dietrich Bonhoeffer … warned us about cheap grace. He
wrote that cheap grace is grace without discipleship."

Preachers introduce a person, say something about them, and quote them in the next sentence
with "he wrote" / "ela dizia que". The quoted person is the known author (:mod:`authors`)
named last within :data:`LOOK_BACK` characters before the tag; nobody else is guessed, so a
pronoun after a story about a neighbour quotes no one.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.text import fold_same_length

LOOK_BACK: Final = 300
MAX_QUOTE_CHARS: Final = 300
_TAG_RE: Final = re.compile(
    r"(?:^|(?<=[.!?]\s))(?:he|she|ele|ela)\s+(?:once\s+|certa\s+vez\s+|also\s+|tambem\s+)?"
    r"(?:wrote|said|says|writes|disse|escreveu|dizia|afirmou|costumava\s+dizer)"
    r"(?:\s+(?:that|que)\b|\s*[,:])\s*"
)
_SENTENCE_END_RE: Final = re.compile(r"[.!?](?=\s|$)")


def pronoun_tagged(text: str, known: re.Pattern[str]) -> list[tuple[str, str, int]]:
    """``(author as matched, quote, quote start)`` for each pronoun-tagged quotation.

    Args:
        text: The analysed text (cased or not).
        known: The known-author pattern (group ``author``), matched on folded text.
    """
    folded = fold_same_length(text)
    found: list[tuple[str, str, int]] = []
    for tag in _TAG_RE.finditer(folded):
        author = None
        for match in known.finditer(folded, max(0, tag.start() - LOOK_BACK), tag.start()):
            author = text[match.start("author") : match.end("author")]
        if author is None:
            continue
        end = _SENTENCE_END_RE.search(text, tag.end(), tag.end() + MAX_QUOTE_CHARS)
        quote = text[tag.end() : end.start() if end else tag.end() + MAX_QUOTE_CHARS]
        if len(quote.split()) >= 3:
            found.append((author, quote, tag.end()))
    return found
