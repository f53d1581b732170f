"""Low-level text helpers shared by the analysis modules: folding, tokens, word counts.

All lexical matching in the analyser happens on *folded* text (lowercase, accents removed),
because transcripts are inconsistent about accents ("oração"/"oracao", "fé"/"fe") —
automatic captions in particular often drop them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from types import MappingProxyType
from typing import Final

# A word is a run of letters/digits, optionally joined by a hyphen or apostrophe
# ("bem-aventurados", "don't", "d'água"). Underscore is excluded on purpose.
WORD_RE: Final = re.compile(r"[^\W_]+(?:[-'\u2019][^\W_]+)*")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _build_fold_table() -> dict[int, str]:
    # Latin-1 Supplement and Latin Extended-A cover Portuguese and English; one table
    # lookup per character is far cheaper than NFKD on a 60,000-character transcript.
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        ch = chr(code).lower()
        if len(ch) != 1:
            continue
        stripped = _strip_marks(ch)
        if len(stripped) == 1 and stripped != ch:
            table[ord(ch)] = stripped
    table[ord("\u2019")] = "'"
    return table


_FOLD_TABLE: Final = MappingProxyType(_build_fold_table())


def fold_same_length(text: str) -> str:
    """Lowercase ``text`` and strip diacritics, keeping every character at its offset.

    Offsets computed on the result are valid in the original string, which matters for
    mapping matches back to transcript segments. Characters outside the Latin ranges keep
    their (lowercased) form.

    Args:
        text: Any Unicode string.

    Returns:
        A string of the same length as ``text``.
    """
    lowered = text.lower()
    if len(lowered) != len(text):
        # Rare characters (e.g. "İ") lowercase to two code points; go one by one.
        lowered = "".join(ch.lower()[:1] for ch in text)
    if lowered.isascii():
        return lowered
    return lowered.translate(_FOLD_TABLE)


def fold(text: str) -> str:
    """Lowercase ``text`` and strip diacritics ("Oração" -> "oracao").

    Args:
        text: Any Unicode string.

    Returns:
        The folded string.
    """
    folded = fold_same_length(text)
    if folded.isascii():
        return folded
    return _strip_marks(folded)


def iter_words(text: str) -> Iterator[re.Match[str]]:
    """Yield a regex match for every word of ``text`` (see :data:`WORD_RE`)."""
    return WORD_RE.finditer(text)


def tokens(text: str) -> list[str]:
    """Return the folded words of ``text`` in order."""
    return WORD_RE.findall(fold(text))


def word_count(text: str) -> int:
    """Count the words of ``text`` the way the summary reports them.

    Hyphenated and apostrophe-joined words count once; numbers count as words because a
    speaker says them ("capítulo 3").
    """
    return sum(1 for _ in WORD_RE.finditer(text))


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace to single spaces and strip the ends."""
    return " ".join(text.split())


def word_set(raw: str, *, folded: bool = False) -> frozenset[str]:
    """Build a word table from whitespace-separated ``raw`` (folded when asked).

    Lets long vocabularies be written as compact text blocks instead of one-per-line lists.
    """
    return frozenset(fold(w) if folded else w for w in raw.split())


def phrase_list(raw: str) -> tuple[str, ...]:
    """Build an ordered phrase table from ``raw`` with one phrase per line."""
    return tuple(line.strip() for line in raw.splitlines() if line.strip())
