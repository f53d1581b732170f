"""Book-name matching: one regex for every alias (with ordinal prefixes) and its resolution.

:data:`BOOK_RE` is a trie of every alias in :mod:`books`, accent-folded and case-insensitive,
optionally preceded by an ordinal (``1``, ``1ª``, ``II``, ``primeira``, ``Second``, ``segunda
carta aos``). :func:`resolve` turns a match into an :class:`~books.Alias` for the text's language.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.books import (
    ALIAS_NAMES,
    JOB_ACCENTED,
    Alias,
    Language,
    lookup,
    normalise_alias,
)
from services.analysis.bible.spoken import ORDINAL_PREFIX, parse_ordinal

__all__ = ["BOOK_RE", "resolve", "starts_book"]

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
BOOK_RE: Final = re.compile(
    rf"(?<!\w)(?:(?P<pre>{ORDINAL_PREFIX})(?:(?<=[\dªº°.])\s*|\s+))?"
    rf"(?P<name>{_trie_regex(ALIAS_NAMES)})(?![^\W\d_])\.?",
    _I,
)

_EVANGELHO_BEFORE_RE: Final = re.compile(r"(?:\b(?:evangelho|evangelhos)\s+)$", _I)


def resolve(folded: str, original: str, match: re.Match[str], lang: Language) -> Alias | None:
    """The alias a :data:`BOOK_RE` match names, or None (unknown ordinal, ``segundo João``)."""
    prefix = match.group("pre")
    number = parse_ordinal(prefix) if prefix else None
    if prefix and number is None:
        return None
    if lang == "en" and prefix and prefix.rstrip(".") == "i":
        return None  # "so i john ...": the pronoun, not First John
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


def starts_book(folded: str, pos: int, lang: Language) -> bool:
    """Whether a book name starts exactly at ``pos``."""
    match = BOOK_RE.match(folded, pos)
    return match is not None and resolve(folded, folded, match, lang) is not None
