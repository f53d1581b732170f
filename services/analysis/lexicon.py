"""The curated PT/EN theme lexicon (``themes_lexicon.json``) and its matcher.

The JSON file is the documented PT<->EN mapping: every theme has one canonical name per
language plus the folded terms that signal it (``word`` exact, ``stem*`` prefix, ``two words``
phrase). It is loaded and compiled once at import into immutable tables.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Final, cast

from schemas.summary import Language
from services.analysis.text import WORD_RE, fold

_MIN_STEM: Final = 3
LANGUAGES: Final[tuple[Language, ...]] = ("pt", "en")


@dataclass(frozen=True, slots=True)
class ThemeEntry:
    """One theme of the lexicon.

    Attributes:
        id: Stable language-neutral id ("faith").
        names: Canonical display name per language ({"pt": "Fé", "en": "Faith"}).
    """

    id: str
    names: Mapping[Language, str]


@dataclass(frozen=True, slots=True)
class LanguageMatcher:
    """Compiled term tables of one language; values are theme indices."""

    exact: Mapping[str, tuple[int, ...]]
    stems: Mapping[str, tuple[int, ...]]
    max_stem: int
    phrases: Mapping[str, tuple[tuple[tuple[str, ...], int], ...]]

    def word_themes(self, word: str) -> tuple[int, ...]:
        """Themes a single folded word signals (exact terms first, then stems)."""
        found = self.exact.get(word, ())
        for length in range(_MIN_STEM, min(len(word), self.max_stem) + 1):
            hit = self.stems.get(word[:length])
            if hit:
                found = found + hit
        return found

    def count(self, words: Sequence[str], n_themes: int) -> list[int]:
        """Count term hits per theme in the folded word sequence ``words``."""
        counts = [0] * n_themes
        for word, freq in Counter(words).items():
            for theme in set(self.word_themes(word)):
                counts[theme] += freq
        phrases = self.phrases
        last = len(words)
        for index, word in enumerate(words):
            candidates = phrases.get(word)
            if not candidates:
                continue
            for phrase, theme in candidates:
                end = index + len(phrase)
                if end <= last and tuple(words[index:end]) == phrase:
                    counts[theme] += 1
        return counts

    def themes_of(self, words: Sequence[str]) -> set[int]:
        """Themes signalled anywhere in a short word sequence (e.g. one keyword)."""
        found: set[int] = set()
        for word in words:
            found.update(self.word_themes(word))
        joined = tuple(words)
        for index, word in enumerate(joined):
            for phrase, theme in self.phrases.get(word, ()):
                if joined[index : index + len(phrase)] == phrase:
                    found.add(theme)
        return found


def _compile(terms_by_theme: Iterable[tuple[int, Iterable[str]]]) -> LanguageMatcher:
    exact: dict[str, list[int]] = {}
    stems: dict[str, list[int]] = {}
    phrases: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for theme, terms in terms_by_theme:
        for raw in terms:
            term = fold(raw.strip())
            words = tuple(WORD_RE.findall(term))
            if len(words) > 1:
                phrases.setdefault(words[0], []).append((words, theme))
            elif term.endswith("*"):
                stem = term[:-1]
                if len(stem) < _MIN_STEM:
                    raise ValueError(f"theme stem too short: {raw!r}")
                stems.setdefault(stem, []).append(theme)
            elif words:
                exact.setdefault(words[0], []).append(theme)
    return LanguageMatcher(
        exact=MappingProxyType({k: tuple(v) for k, v in exact.items()}),
        stems=MappingProxyType({k: tuple(v) for k, v in stems.items()}),
        max_stem=max((len(s) for s in stems), default=0),
        phrases=MappingProxyType({k: tuple(v) for k, v in phrases.items()}),
    )


def _load() -> tuple[tuple[ThemeEntry, ...], Mapping[Language, LanguageMatcher]]:
    raw = resources.files("services.analysis").joinpath("themes_lexicon.json").read_text("utf-8")
    data = cast(dict[str, list[dict[str, object]]], json.loads(raw))
    entries: list[ThemeEntry] = []
    terms: dict[Language, list[tuple[int, list[str]]]] = {"pt": [], "en": []}
    for index, item in enumerate(data["themes"]):
        names: dict[Language, str] = {"pt": str(item["pt"]), "en": str(item["en"])}
        entries.append(ThemeEntry(str(item["id"]), MappingProxyType(names)))
        for lang in LANGUAGES:
            terms[lang].append((index, [str(t) for t in cast(list[str], item[f"{lang}_terms"])]))
    matchers = {lang: _compile(terms[lang]) for lang in LANGUAGES}
    return tuple(entries), MappingProxyType(matchers)


THEMES, MATCHERS = _load()
