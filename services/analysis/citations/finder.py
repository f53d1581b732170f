"""Attributed quotations: who said what ("como disse Agostinho, ...", "as C. S. Lewis wrote").

Recognised shapes (PT and EN):

* ``como (já) disse/dizia/escreveu/afirmou ... AUTOR, "texto"`` / ``conforme ...``
* ``AUTOR (certa vez) disse/escreveu que texto`` and ``AUTOR disse: texto``
* ``nas palavras de AUTOR, texto`` / ``segundo AUTOR, texto``
* ``as AUTHOR (once) said/wrote/put it, text`` and ``AUTHOR (once) said (that) text``
* ``in the words of AUTHOR, text`` / ``according to AUTHOR, text``

An author is a run of capitalised words, optionally with initials (``C. S. Lewis``), or a
name from :data:`KNOWN_AUTHORS`, matched in any case because automatic captions are often
all lowercase. The bare ``NAME disse ...`` shape without ``como``/``as`` is accepted only
for known authors, full names or quoted text — "Maria disse que vinha" is not a citation.
Unpunctuated captions ("como disse agostinho a fé é ...") are accepted for known authors
only, and their quotation is cut at :data:`MAX_UNPUNCTUATED_WORDS` words since no sentence
end marks it. Known authors are reported in the table's spelling ("cs lewis" -> "C. S. Lewis").

Decision: **scripture is not a citation.** Biblical speakers and book names (Jesus, Deus,
Paulo, João, Davi, the psalmist ...) are rejected as authors, as are pronouns and forms of
address ("Ele", "Você", "Irmão", "Igreja"): what Jesus or Paul said is already reported as a
Bible passage, and the preacher talking to the congregation is not a quotation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from services.analysis.authors import KNOWN_AUTHORS, NON_AUTHORS, misheard_known
from services.analysis.bible.asr import is_caseless
from services.analysis.citations.caseless import (
    bounded_quote,
    introduced,
    named_before_verb,
    tagged_after,
)
from services.analysis.citations.tagged import pronoun_tagged
from services.analysis.stopwords import EN_STOPWORDS, PT_STOPWORDS
from services.analysis.text import fold, normalize_space

MIN_QUOTE_WORDS: Final = 3
MAX_QUOTE_CHARS: Final = 300
MAX_UNPUNCTUATED_WORDS: Final = 30
DEDUPE_WORDS: Final = 6

_NAME: Final = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'\u2019\-]+"
_INITIALS: Final = r"(?:[A-Z]\.\s?){1,3}\s*"
_CONNECTOR: Final = r"(?:de|da|do|dos|das|von|van|der|ten|of)\s+"
_CAPS_AUTHOR: Final = rf"(?:{_INITIALS})?{_NAME}(?:\s+(?:{_CONNECTOR})?{_NAME}){{0,3}}"


def _trie_pattern(names: tuple[str, ...]) -> str:
    """One regex for many names, shaped as a trie.

    A flat 50-way alternation is retried at every offset of a 60,000-character transcript;
    a trie fails on the first character at almost every offset. Each name is added as
    written (lowercase) and accent-folded, since captions often drop accents; spaces and
    dots inside names are matched loosely ("C.S. Lewis", "c s lewis").
    """
    trie: dict[str, Any] = {}
    for name in names:
        for written in {name.lower(), fold(name)}:
            form = " ".join(written.replace(".", " ").split())
            node = trie
            for ch in form:
                node = node.setdefault(ch, {})
            node[""] = {}

    def render(node: dict[str, Any]) -> str:
        branches = [
            (r"[\s.]*" if ch in " ." else re.escape(ch)) + render(child)
            for ch, child in sorted(node.items())
            if ch
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return render(trie)


_KNOWN: Final = _trie_pattern(KNOWN_AUTHORS)
_KNOWN_RE: Final = re.compile(rf"(?<!\w)(?P<author>{_KNOWN})(?!\w)")
_AUTHOR: Final = rf"(?P<author>(?i:{_KNOWN})(?![\w])|{_CAPS_AUTHOR})"

_DESC_PT: Final = (
    r"(?:(?i:o|a)\s+)?(?:(?i:grande|famoso|famosa|saudoso|saudosa)\s+)?"
    r"(?:(?i:pastor|pastora|pregador|teólogo|teóloga|reformador|escritor|escritora|filósofo|"
    r"poeta|missionário|missionária|evangelista|bispo|reverendo|irmão|irmã)\s+)?"
)
_DESC_EN: Final = (
    r"(?:(?i:the)\s+(?:(?i:great|famous|late)\s+)?"
    r"(?i:preacher|theologian|reformer|pastor|writer|author|missionary|evangelist|"
    r"philosopher|poet|bishop|reverend)\s+)?"
)
_VERB_PT: Final = (
    r"(?i:disse|dizia|diz|afirmou|afirmava|escreveu|escrevia|ensinou|ensinava|declarou|"
    r"falou|falava|observou|costumava\s+dizer|colocou)"
)
_VERB_EN: Final = (
    r"(?i:said|says|wrote|writes|puts?\s+it|observed|noted|remarked|declared|taught|"
    r"used\s+to\s+say|reminds\s+us)"
)
_ADV_PT: Final = r"(?:(?i:já|bem|certa\s+vez|uma\s+vez|sabiamente|também)\s+)?"
_ADV_EN: Final = r"(?:(?i:once|famously|rightly|so\s+well|also)\s+)?"
# After a name and a phrase about them: the speech verb, a short adverbial, then the quote.
_APPOSITIVE_VERB: Final = (
    r"(?i:said|says|wrote|writes|warned|disse|dizia|escreveu|afirmou|costumava\s+dizer"
    r"|tem\s+uma\s+frase(?:\s+que\s+eu\s+amo)?|has\s+a\s+(?:line|saying|quote))"
    # Whisper ends the sentence where the speaker paused: "said near the end of his life. My"
    r"(?:\s[^.!?,:;]{0,40}?)?\s*(?:[,:]\s*|\.\s+(?=[A-Z])|\s(?i:que|that)\s+)"
)
# After "como disse AUTOR": a comma or colon, or — in unpunctuated captions — just a space,
# in which case only a known author is accepted (see find_citations).
_SEP: Final = r"(?:\s*(?P<sep>[,:])\s*|\s+)"
_QUOTE_OPEN: Final = "\"“«'\u2018"

_PATTERNS: Final = (
    # como disse Agostinho, "..." / conforme escreveu C. S. Lewis: ...
    ("intro", rf"\b(?i:como|conforme)\s+{_ADV_PT}{_VERB_PT}\s+{_DESC_PT}{_AUTHOR}{_SEP}"),
    # nas palavras de Spurgeon, ... / segundo Calvino, ...
    (
        "intro",
        rf"\b(?i:nas\s+palavras\s+de|segundo|de\s+acordo\s+com)\s+{_DESC_PT}{_AUTHOR}{_SEP}",
    ),
    # as C. S. Lewis wrote, ... / as Spurgeon once put it: ...
    ("intro", rf"\b(?i:as)\s+{_DESC_EN}{_AUTHOR}\s+{_ADV_EN}{_VERB_EN}\s*[,:]?\s*(?i:that\s+)?"),
    # in the words of Augustine, ... / according to Calvin, ...
    ("intro", rf"\b(?i:in\s+the\s+words\s+of|according\s+to)\s+{_DESC_EN}{_AUTHOR}{_SEP}"),
    # Spurgeon disse que ... / Spurgeon certa vez escreveu: "..."
    (
        "bare",
        rf"\b{_AUTHOR}\s+{_ADV_PT}{_VERB_PT}(?:\s+(?i:certa|uma)\s+vez)?\s*(?:(?i:que)\s+|[,:]\s*)",
    ),
    # Martin Luther once said that ... / Spurgeon wrote: ...
    ("bare", rf"\b{_AUTHOR}\s+{_ADV_EN}{_VERB_EN}\s*(?:(?i:that)\s+|[,:]\s*|(?=[\"“]))"),
    # Corrie ten Boom, aquela senhora holandesa, dizia que ... / John Newton, the old slave
    # trader, said near the end of his life, ... / Lewis Smedes, um escritor, tem uma frase: ...
    ("bare", rf"\b{_AUTHOR},\s[^.!?]{{3,120}}?,\s*{_APPOSITIVE_VERB}"),
    # Martin Luther once said the Christian life ... (known authors only, see _author_ok)
    ("loose", rf"\b{_AUTHOR}\s+{_ADV_EN}(?i:said|wrote)\s+"),
)
_COMPILED: Final = tuple((kind, re.compile(pattern)) for kind, pattern in _PATTERNS)


def _name_key(name: str) -> str:
    """Compare names ignoring case, accents, dots and spacing ("c s lewis" = "C.S. Lewis")."""
    return "".join(fold(name).replace(".", " ").split())


# Display form of each known author: "agostinho" and "C.S. Lewis" are shown as written in
# the table (the first spelling listed for a key wins).
_KNOWN_DISPLAY: Final = MappingProxyType(
    {key: name for name in reversed(KNOWN_AUTHORS) if (key := _name_key(name))}
)


def _by_first_word(names: tuple[str, ...]) -> MappingProxyType[str, tuple[str, ...]]:
    """Folded first word -> folded full names, to recognise a misheard surname."""
    table: dict[str, list[str]] = {}
    for name in names:
        folded = " ".join(fold(name).replace(".", " ").split())
        table.setdefault(folded.split()[0], []).append(folded)
    return MappingProxyType({first: tuple(full) for first, full in table.items()})


_KNOWN_BY_FIRST: Final = _by_first_word(KNOWN_AUTHORS)
_SENTENCE_END: Final = re.compile(r"(?<!\b[A-Z])[.!?…](?=\s|$)")
_CLOSE_QUOTE: Final = MappingProxyType({'"': '"', "“": "”", "«": "»", "'": "'", "\u2018": "\u2019"})
_STOPWORDS: Final = PT_STOPWORDS | EN_STOPWORDS


@dataclass(frozen=True, slots=True)
class Citation:
    """An attributed quotation found at ``start`` in the analysed text."""

    author: str
    text: str
    start: int


def _trim_author(author: str) -> str:
    """Drop capitalised sentence-openers the name pattern swallowed ("Então Spurgeon")."""
    if _name_key(author) in _KNOWN_DISPLAY:
        return author  # "a w tozer": the "a" is an initial, not the article
    words = author.split()
    while len(words) > 1 and fold(words[0]) in _STOPWORDS:
        words.pop(0)
    return " ".join(words)


def _author_ok(author: str, *, kind: str, quoted: bool) -> bool:
    words = [fold(w).strip(".") for w in author.split()]
    words = [w for w in words if w]
    known = _name_key(author) in _KNOWN_DISPLAY
    if not words or (words[0] in _STOPWORDS and not known):
        return False  # ("E. M. Bounds" starts with the Portuguese "e")
    if all(w in NON_AUTHORS or len(w) == 1 for w in words):
        return False
    if words[0] in NON_AUTHORS and len(words) == 1:
        return False
    if kind == "loose":
        return known
    if kind == "bare" and not known:
        # Without "como"/"as" a lone first name is too often someone in the room.
        return quoted or len(words) >= 2
    return True


def _quote_text(text: str, start: int, boundaries: Sequence[int] = ()) -> tuple[str, bool]:
    """Read the quotation that begins at ``start``; return it and whether it was quoted."""
    head = text[start : start + 1]
    if head and head in _QUOTE_OPEN:
        closer = _CLOSE_QUOTE[head]
        end = text.find(closer, start + 1, start + 1 + MAX_QUOTE_CHARS * 2)
        if end != -1:
            return text[start + 1 : end], True
    window = text[start : start + MAX_QUOTE_CHARS]
    match = _SENTENCE_END.search(window)
    if match:
        return window[: match.start()], False
    # No sentence end in reach (unpunctuated captions): the caption lines bound the quote.
    if boundaries:
        return bounded_quote(text, start, boundaries), False
    return " ".join(window.split()[:MAX_UNPUNCTUATED_WORDS]), False


def _clean_author(author: str) -> str:
    known = _KNOWN_DISPLAY.get(_name_key(author))
    if known:
        return known
    misheard = misheard_known(fold(author).replace(".", " ").split(), _KNOWN_BY_FIRST)
    if misheard is not None:
        return _KNOWN_DISPLAY[_name_key(misheard)]  # "Philip Yansey" is Philip Yancey
    cleaned = normalize_space(author)
    # Names typed in lowercase by automatic captions read better capitalised.
    if cleaned.islower():
        cleaned = " ".join(
            w if w in {"de", "da", "do", "of"} else w.capitalize() for w in cleaned.split()
        )
    return cleaned


def find_citations(text: str, boundaries: Sequence[int] = ()) -> list[Citation]:
    """Find attributed quotations in ``text``.

    Args:
        text: The analysed transcript text.
        boundaries: Sorted offsets where caption segments begin; they bound quotations in
            unpunctuated captions.

    Returns:
        Citations in order of appearance, de-duplicated by (author, text).
    """
    found: dict[int, Citation] = {}
    seen: set[tuple[str, str]] = set()
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(text):
            author = _trim_author(match.group("author"))
            if kind == "intro" and "sep" in pattern.groupindex and not match.group("sep"):
                kind_here = "loose"
            else:
                kind_here = kind
            body, quoted = _quote_text(text, match.end(), boundaries)
            body = normalize_space(body).strip(" ,;:-\u2013—\"“”'\u2018\u2019«»")
            if len(body.split()) < MIN_QUOTE_WORDS:
                continue
            if not _author_ok(author, kind=kind_here, quoted=quoted):
                continue
            author_start = match.start("author")
            if any(abs(author_start - other) < 40 for other in found):
                continue  # an earlier pattern already took this quotation
            key = _dedupe_key(_clean_author(author), body)
            if key in seen:
                continue
            seen.add(key)
            found[author_start] = Citation(_clean_author(author), body, author_start)
    _add_extra(pronoun_tagged(text, _KNOWN_RE), found, seen)
    if is_caseless(text):
        _add_caseless(text, boundaries, found, seen)
    return [found[k] for k in sorted(found)]


def _dedupe_key(author: str, body: str) -> tuple[str, str]:
    """The same saying quoted twice: its author and first words (captions cut it differently)."""
    return fold(author), " ".join(fold(body).split()[:DEDUPE_WORDS])


def _add_caseless(
    text: str, boundaries: Sequence[int], found: dict[int, Citation], seen: set[tuple[str, str]]
) -> None:
    """Add the caption-only shapes of :mod:`.caseless` not already found."""
    extra = (
        named_before_verb(text, boundaries)
        + introduced(text, boundaries)
        + tagged_after(text, boundaries, _KNOWN_RE)
    )
    _add_extra(extra, found, seen)


def _add_extra(
    extra: list[tuple[str, str, int]], found: dict[int, Citation], seen: set[tuple[str, str]]
) -> None:
    """Add ``(author, quote, start)`` triples that no earlier shape already found."""
    for author, body, start in extra:
        body = normalize_space(body).strip(" ,;:-\u2013\u2014")
        shown = _clean_author(author)
        if not _author_ok(shown, kind="intro", quoted=False):
            continue
        if any(abs(start - other) < 40 for other in found):
            continue
        key = _dedupe_key(shown, body)
        if key not in seen:
            seen.add(key)
            found[start] = Citation(shown, body, start)
