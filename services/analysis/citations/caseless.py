"""Attributed quotations in captions without capitals or punctuation.

:mod:`.finder` finds authors by their capitals or in its table of known authors. Automatic
captions give neither for most people, and they put speech tags anywhere. Two more shapes are
read here, only in caseless text:

* ``e m bounds once said god shapes ...``, ``oswald chambers put it this way prayer ...``: two
  or more name-like words (initials count) right before a speech verb. One lower-case word
  ("o médico disse", "the doctor said") is too often a role, so it needs the known-author table.
* ``filho quem tem deus nunca tá sozinho ela dizia``: a quotation *followed* by "ela
  dizia" / "he used to say" at the end of a caption line. The speaker is the person most
  recently named before it: a known author or an honorific and name ("dona zulmira",
  "sister ruth", "uma holandesa chamada corrie ten boom").

Quotations end where the caption lines say so (:func:`bounded_quote`): unpunctuated text
gives no sentence end, so a quote runs over whole segments until it has enough words.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Final

from services.analysis.stopwords import EN_STOPWORDS, PT_STOPWORDS
from services.analysis.text import fold, fold_same_length, word_set

QUOTE_WORDS: Final = 12
MAX_WORDS: Final = 30
# A story told about someone runs a minute or two before their saying is quoted.
LOOK_BACK: Final = 800
MAX_NAME_WORDS: Final = 4
# A saying shorter than this on its own line began on the line before.
SHORT_LINE: Final = 6
_CONNECTORS: Final = frozenset({"de", "da", "do", "dos", "ten", "van", "von"})
_HONORIFICS: Final = frozenset({"dona", "seu", "irma", "irmao", "sister", "brother"})

# Only the verbs of quoting someone quotable: a plain "disse"/"said" is narrative ("e ele
# disse ao mar", "paul says in ...") far more often than a citation.
_VERB_RE: Final = re.compile(
    r"\b(?:(?:once|certa\s+vez|uma\s+vez)\s+(?:said|disse|dizia|wrote|escreveu|falou)"
    r"|(?:disse|falou|afirmou|dizia)\s+(?:certa|uma)\s+vez"
    r"|puts?\s+it(?:\s+this\s+way|\s+like\s+this)?|used\s+to\s+say|wrote|escreveu"
    r"|costumava\s+dizer|colocou\s+(?:assim|dessa\s+forma)|dizia(?=\s+que))"
    r"(?:\s+(?:que|that))?\s+"
)
# "como escreveu ravi zacharias ...", "like charles finney said ...", "as paul tripp puts it":
# an introduction, then two name words (a title or honorific may come first).
_INTRO_RE: Final = re.compile(
    r"\b(?:como|conforme|like|as)\s+(?:bem\s+|ja\s+|once\s+|certa\s+vez\s+)?"
    r"(?:dizia|disse|escreveu|falou|afirmou|ensinou|said|wrote|put\s+it|says|writes)\s+"
    r"(?:(?:o|a|the)\s+)?(?:(?:grande|saudoso|saudosa|famous|late|great)\s+)?"
    r"(?:(?P<title>pastor|pastora|teologo|teologa|escritor|escritora|autor|pregador|reverendo"
    r"|preacher|theologian|author|writer|reverend|dona|seu|irma|irmao|sister|brother)\s+)?"
    r"(?P<name>[a-z][a-z'\-]+(?:\s+(?:(?:de|da|do|dos|ten|van|von)\s+)?[a-z][a-z'\-]+)?)\s*,?\s+"
)
# "like charles finney said ...": the name first, then the verb.
_LIKE_RE: Final = re.compile(
    r"\b(?:like|as)\s+(?P<name>[a-z][a-z'\-]+\s+[a-z][a-z'\-]+)\s+(?:once\s+)?"
    r"(?:said|wrote|puts\s+it|put\s+it|says|used\s+to\s+say)\s*,?\s+(?:that\s+)?"
)
_ADVERBS: Final = frozenset({"once", "ja", "also", "certa", "vez", "uma"})
_AFTER_TAG_RE: Final = re.compile(
    r"\b(?:ela|ele|she|he)\s+(?:dizia|disse|falava|costumava\s+dizer|sempre\s+dizia"
    r"|said|used\s+to\s+say|would\s+say|always\s+said)\b"
)
_HONORIFIC_RE: Final = re.compile(
    r"\b(?P<title>dona|seu|sister|brother|grandma|grandpa|aunt|uncle)\s+(?P<name>[a-z]+)"
    r"|\b(?:chamad[oa]|named|called)\s+(?P<named>[a-z]+(?:\s+[a-z]+){0,2})"
)
# Lower-case words that are roles or descriptions, not names ("the old man said").
_NOT_NAMES: Final = (
    PT_STOPWORDS
    | EN_STOPWORDS
    | word_set(
        """
    man woman men women guy lady kid boy girl doctor teacher boss coach nurse officer judge king
    friend pastor preacher author writer someone old young little wise great famous late
    homem mulher menino menina medico professor chefe moco moca senhora velho velha sabio
    pastora pregador autor escritor famoso famosa grande saudoso saudosa alguem ninguem
    deus jesus cristo senhor god christ lord bible biblia igreja church mae pai mom dad mother
    father filho filha son daughter irmao irma brother sister amigo amiga avo vovo grandma
    grandpa ele ela he she they eles elas voce you
    """,
        folded=True,
    )
)


def bounded_quote(text: str, start: int, boundaries: Sequence[int]) -> str:
    """The quotation from ``start``: whole caption segments until :data:`QUOTE_WORDS` words."""
    index = bisect_right(boundaries, start)
    end = len(text)
    while index < len(boundaries):
        end = boundaries[index]
        if len(text[start:end].split()) >= QUOTE_WORDS:
            break
        index += 1
        end = len(text)
    return " ".join(text[start:end].split()[:MAX_WORDS])


def _author_before(folded: str, end: int, boundaries: Sequence[int]) -> tuple[str, int] | None:
    """Two or more name-like words (initials count) ending at ``end``: ``(author, start)``.

    The name is looked for in the caption segment of the verb only, so the end of the previous
    line ("... had changed / oswald chambers put it") is never part of it.
    """
    index = bisect_right(boundaries, end) - 1
    offset = max(0, end - 80, boundaries[index] if index >= 0 else 0)
    words = list(re.finditer(r"[a-z][a-z'\-]*", folded[offset:end]))
    kept: list[re.Match[str]] = []
    for word in reversed(words):
        token = word.group()
        if not kept and token in _ADVERBS:
            continue
        if (len(token) > 1 and token in _NOT_NAMES) or len(kept) == MAX_NAME_WORDS:
            break
        kept.insert(0, word)
    while kept and len(kept[0].group()) == 1 and not (len(kept) > 1 and len(kept[1].group()) == 1):
        kept.pop(0)  # "paulo e silas": a lone "e" is a conjunction, not an initial
    if len(kept) < 2 or all(len(w.group()) == 1 for w in kept):
        return None
    return " ".join(w.group() for w in kept), offset + kept[0].start()


def _display(name: str) -> str:
    return " ".join(
        w.upper() + "." if len(w) == 1 else (w if w in _CONNECTORS else w.capitalize())
        for w in name.split()
    )


def named_before_verb(text: str, boundaries: Sequence[int]) -> list[tuple[str, str, int]]:
    """``oswald chambers put it this way ...``: ``(author, quote, start)`` triples."""
    folded = fold_same_length(text)
    found: list[tuple[str, str, int]] = []
    for verb in _VERB_RE.finditer(folded):
        author = _author_before(folded, verb.start(), boundaries)
        if author is None:
            continue
        quote = bounded_quote(text, verb.end(), boundaries)
        if len(quote.split()) >= 3:
            found.append((_display(author[0]), quote, author[1]))
    return found


def introduced(text: str, boundaries: Sequence[int]) -> list[tuple[str, str, int]]:
    """``como escreveu ravi zacharias ...``: ``(author, quote, start)`` for unknown authors.

    The name is two words (the table of known authors covers longer ones); both must be
    name-like, neither a stop word, role or biblical figure, unless an honorific ("dona",
    "sister") makes a single name enough.
    """
    folded = fold_same_length(text)
    found: list[tuple[str, str, int]] = []
    for match in (*_INTRO_RE.finditer(folded), *_LIKE_RE.finditer(folded)):
        words = match.group("name").split()
        title = match.groupdict().get("title")
        honorific = title in _HONORIFICS
        kept: list[str] = []
        for word in words:
            if word in _NOT_NAMES and word not in _CONNECTORS:
                break
            kept.append(word)
        if len(kept) < len(words) and not (honorific and kept):
            continue  # the quote began inside the "name": too unsure to cut
        if len(kept) < 2 and not honorific:
            continue
        shown = text[match.start("name") :].split()[: len(kept)]  # accents as spoken
        author = " ".join([title, *shown]) if honorific and title else " ".join(shown)
        quote = bounded_quote(text, match.end(), boundaries)
        if len(quote.split()) >= 3:
            found.append((_display(author), quote, match.start("name")))
    return found


def _last_named(folded: str, start: int, end: int, known: re.Pattern[str]) -> str | None:
    """The person named last between ``start`` and ``end``: a known author or "dona X"."""
    best: tuple[int, str] | None = None
    for match in known.finditer(folded, start, end):
        best = (match.start(), match.group("author"))
    for match in _HONORIFIC_RE.finditer(folded, start, end):
        if best is not None and match.start() < best[0]:
            continue
        if match.group("named"):
            words = [w for w in match.group("named").split() if fold(w) not in _NOT_NAMES]
            if words:
                best = (match.start(), " ".join(words))
        elif fold(match.group("name")) not in _NOT_NAMES:
            best = (match.start(), f"{match.group('title')} {match.group('name')}")
    return None if best is None else best[1]


def tagged_after(
    text: str, boundaries: Sequence[int], known: re.Pattern[str]
) -> list[tuple[str, str, int]]:
    """``... nunca tá sozinho ela dizia``: ``(author, quote, quote start)`` triples.

    Args:
        text: The caseless transcript.
        boundaries: Sorted offsets where caption segments begin.
        known: A compiled pattern with an ``author`` group for the known-author table.
    """
    folded = fold_same_length(text)
    found: list[tuple[str, str, int]] = []
    for tag in _AFTER_TAG_RE.finditer(folded):
        if not _at_segment_end(folded, tag.end(), boundaries):
            continue
        index = bisect_left(boundaries, tag.start()) - 1
        start = boundaries[index] if index >= 0 else 0
        if len(folded[start : tag.start()].split()) < SHORT_LINE and index >= 1:
            index -= 1
            start = boundaries[index]  # a short last line: the quote began a line earlier
        quote = " ".join(text[start : tag.start()].split())
        author = _last_named(folded, max(0, start - LOOK_BACK), start, known)
        if author is not None and len(quote.split()) >= 3:
            found.append((_display(author), quote, start))
    return found


def _at_segment_end(folded: str, end: int, boundaries: Sequence[int]) -> bool:
    rest = folded[end : end + 3].lstrip()
    if not rest or rest[0] in ".!?,":
        return True
    index = bisect_left(boundaries, end)
    return index < len(boundaries) and not folded[end : boundaries[index]].strip()
