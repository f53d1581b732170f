"""Guards that keep people's names, counts and clock times from being read as passages.

``Lucas 2 vezes`` (a count), ``Jo 10:30 da manhã`` (a time), ``irmã Rute 2`` / ``o Marcos 3``
(people) and ``Lucas 2,5 milhões`` (a decimal) all look like ``Name N`` or ``Name N:M``; these
checks run on the accent-folded text around a candidate mention.

A candidate comes in one of three *shapes* (:data:`Shape`), from weakest to strongest:

* ``bare``: ``Name N`` (``Atos 2``, ``João três``) - every guard applies;
* ``pair``: ``Name N M`` with the colon lost (``João 3 16``, ``filipenses quatro treze``, how
  Whisper transcribes a spoken reference) - a lower-case name is accepted unless it is also an
  ordinary word (``números``, ``atos``, ``job``), because transcripts are often all lower case;
* ``written``: ``Name N:M`` / ``Name N.M`` - only a clock time or a decimal can be mistaken for
  it (``Lucas 19:30`` after ``o`` or ``com`` is a person and a time).

*Caseless* text (automatic captions, where nothing is capitalised) carries no signal in the
case of a name, so there the lower-case rules give way to another: a book name that is also an
ordinary word counts only after a cue word (``em atos 2``, ``turn to mark 4``, ``e atos 1 8``),
never after a determiner or at the very start (``os atos 2``, ``the numbers 4 and 5``, ``acts 2
38 ...``). Person, title, quantity, time and score guards apply as always.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from services.analysis.bible.books import ALIAS_INDEX, Alias, normalise_alias
from services.analysis.bible.ordinary import ordinary_word_is_reference

_I = re.IGNORECASE
# After a number, these make it a clock time ("Jo 10:30 da manhã" is not John 10:30).
TIME_WORDS = (
    r"h|hs|hrs?|horas?|min|minutos?|e\s+meia|da\s+(?:manha|tarde|noite|madrugada)"
    r"|am|pm|a\.m\.?|p\.m\.?|o'?clock|in\s+the\s+(?:morning|afternoon|evening)"
)
TIME_RE: Final = re.compile(rf"\s*(?:{TIME_WORDS})\b", _I)
# After a bare number, these make it a quantity ("Lucas 2 vezes", "Daniel 3 days").
QUANTITY_RE: Final = re.compile(
    r"\s*(?:[%ºª°]|x\b|(?:vez|vezes|vezinhas?|anos?|dias?|mes|meses|semanas?|segundos?"
    r"|filh[oa]s?|net[oa]s?|pessoas?|irmaos?|irmas?|reais|real|mil|milh(?:ao|oes)|bilh(?:ao|oes)"
    r"|km|quilometros?|metros?|quilos?|kg|litros?|por\s+cento|criancas?|homens|mulheres"
    r"|jovens|membros|igrejas|livros|cartas|capitulos|versiculos|pontos|gols?|moedas|andar"
    r"|lugar|times?|years?|days?|months?|weeks?|hours?|minutes?|seconds?|kids?|child(?:ren)?"
    r"|sons?|daughters?|people|persons?|men|women|dollars?|bucks|percent|miles?|chapters"
    r"|seculos?|centur(?:y|ies)|graus|vagas|lugares|paginas?|pages?|euros?|pounds?"
    r"|verses|books|members|churches|points?|goals?|degrees?|thousand|million|billion|more"
    rf"|less|st|nd|rd|th|{TIME_WORDS})\b"
    # A date: "João 3 de junho" is someone's birthday, not John 3.
    r"|\s+de\s+(?:janeiro|fevereiro|marco|abril|maio|junho|julho|agosto|setembro|outubro"
    r"|novembro|dezembro)\b)",
    _I,
)
TITLE_BEFORE_RE: Final = re.compile(
    r"(?:\b(?:irmaos?|irmas?|diacon[oa]|diaconisa|pastor[a]?|pra?|presbiter[oa]|missionari[oa]"
    r"|bisp[oa]|seu|dona|sra?|tio|tia|vov[oo]|vo|meu|minha|amig[oa]|professor[a]?|prof"
    # Saints name streets, churches and schools: "rua são marcos 145", "St Luke 3".
    r"|sao|santo|santa|saint|st"
    r"|brother|sister|deacon|elder|mrs?|ms|dr|uncle|aunt|little|my|dear|friend|pastor"
    # Street names honour people and books alike: "Rua Daniel 12" is an address.
    r"|rua|avenida|av|travessa|alameda|praca|rodovia|street|avenue|ave|road|rd|lane|drive)"
    r"\.?\s+)$",
    _I,
)
# "pro" is "para o": "liga pro marcos 9 9 8 7" is a phone call, not Mark 9:9.
ARTICLE_BEFORE_RE: Final = re.compile(r"(?:\b(?:o|a|do|da|ao|pelo|pela|com|pro|pros)\s+)$", _I)
# "2,5 milhões", "24/7": a number glued to another by a comma, point or slash is a quantity.
DECIMAL_RE: Final = re.compile(r"[.,/]\d")
# Books whose name is also an ordinary lower-case word only when they are not passages.
LOWERCASE_OK: Final = frozenset({"PSA"})
# Book names that are also ordinary words, so a lower-case "números 4 5" stays a word even in
# the two-number shape that otherwise accepts lower-case transcripts.
COMMON_WORDS: Final = frozenset(
    {"atos", "numeros", "juizes", "reis", "canticos", "cantares", "acts", "numbers", "judges"}
    | {"kings", "job", "mark"}
)
# Names that are words too, but rarely right before a number: in caseless text they fail only
# after a determiner ("o império romano", "a new revelation 2"), not for want of a cue.
RARE_WORDS: Final = frozenset(
    {"song of songs", "revelation", "revelations", "lamentations", "romano", "hebreu"}
    | {"proverbio", "lamentacao", "cronica", "roman", "hebrew"}
)
# Words that make the name after them an ordinary word: "os atos", "the numbers", and the
# nouns "romano" and "hebreu" qualify most ("o povo hebreu", "o império romano").
DETERMINER_BEFORE_RE: Final = re.compile(
    r"(?:\b(?:o|os|a|as|um|uma|dos|das|nos|nas|pelos|pelas|aos|meus|minhas|teus|tuas|seus|suas"
    r"|nossos|nossas|esses|essas|estes|estas|aqueles|aquelas|alguns|algumas|muitos|muitas"
    r"|povo|imperio|the|a|an|my|your|his|her|its|our|their|this|that|these|those|some|any"
    r"|every|each|no|new|old|same)\s+)$",
    _I,
)
# In caseless text a book name that is also an ordinary word ("atos", "números", "acts", "job",
# "mark") needs positive evidence that a reference follows: a preposition or a verb of reading
# right before it ("em atos 2", "livro de atos 2", "turn to mark 4", "john 14 6 and acts 4 12").
# A determiner ("os atos 2", "the numbers 4 5", "my job 2") or nothing at all is not enough.
CUE_BEFORE_RE: Final = re.compile(
    r"(?:\b(?:em|no|na|de|do|da|para|pra|e|ate|tambem|entao|ler|leia|leiam|lemos|lendo|abre"
    r"|abram|abra|abrir|veja|vejam|olha|diz|fala|texto|livro|in|to|of|from|and|at|then|also"
    r"|read|reading|open|turn|see|says|text|book)\s+)$",
    _I,
)
# "João 3, Pedro 1": a tally of names and numbers (a score, a roll call), not a chapter list.
_TALLY_RE: Final = re.compile(r"\s*,\s*(?P<word>[A-Z][^\W\d_]+)\s+\d")
# "19:30" with a valid hour and two-digit minutes could be a clock time.
_CLOCK_RE: Final = re.compile(r"\s*(?:[01]?\d|2[0-3]):[0-5]\d(?!\d)")

Shape = Literal["bare", "pair", "written"]


def plausible_bare(
    folded: str,
    match: re.Match[str],
    alias: Alias,
    book: str,
    pos: int,
    capitalised: bool,
    shape: Shape,
    caseless: bool = False,
) -> bool:
    """Guards for ``Name N`` / ``Name N M`` / ``Name N:M`` against people, counts and times.

    Args:
        folded: the accent-folded text.
        match: the book-name match (groups ``pre`` and ``name``).
        alias: the resolved alias.
        book: its USFM id.
        pos: offset right after the locator.
        capitalised: whether the name starts with a capital letter.
        shape: how the locator was written (see the module docstring).
        caseless: the whole text is lower case, so capitals say nothing (module docstring).
    """
    window_start = max(0, match.start() - 24)
    person_before = bool(
        TITLE_BEFORE_RE.search(folded, window_start, match.start())
        or (alias.person and ARTICLE_BEFORE_RE.search(folded, window_start, match.start()))
    )
    if shape == "written":
        return _plausible_written(folded, folded[match.end() : pos], pos, person_before)
    if QUANTITY_RE.match(folded, pos) or DECIMAL_RE.match(folded, pos):
        return False
    lower_case = not capitalised and match.group("pre") is None
    if not _plausible_case(folded, match, book, pos, window_start, lower_case, shape, caseless):
        return False
    tally = _TALLY_RE.match(folded, pos) if shape == "bare" else None
    if tally is not None and (None, normalise_alias(tally.group("word"))) not in ALIAS_INDEX:
        return False  # "Lucas 15, Mateus 18" is still two chapters
    return not person_before


def _plausible_written(folded: str, locator: str, pos: int, person_before: bool) -> bool:
    """``Name N:M`` / ``Name N.M``: can only be mistaken for a clock time or a decimal quantity."""
    if ":" in locator:
        if person_before and _CLOCK_RE.match(locator):
            return False  # "com o Lucas 19:30": meeting Lucas at half past seven
        return not TIME_RE.match(folded, pos)
    return not QUANTITY_RE.match(folded, pos)


def _plausible_case(
    folded: str,
    match: re.Match[str],
    book: str,
    pos: int,
    window_start: int,
    lower_case: bool,
    shape: Shape,
    caseless: bool,
) -> bool:
    """A book name written in lower case (or in a caseless text) that is still read as one.

    *lower_case*: the name has no capital and no ``pre`` group (see :func:`plausible_bare`).
    """
    name = normalise_alias(match.group("name"))
    before = (folded, window_start, match.start())
    if lower_case and name in COMMON_WORDS:
        # "atos 4 12" at the start of a caption line: decided by the evidence around it.
        cue = CUE_BEFORE_RE.search(*before) is not None
        return ordinary_word_is_reference(
            folded, window_start, match.start(), pos, shape != "bare", cue
        )
    if caseless and match.group("pre") is None:
        return not (name in RARE_WORDS and DETERMINER_BEFORE_RE.search(*before))
    return not (
        not caseless
        and lower_case
        and book not in LOWERCASE_OK
        and (shape == "bare" or name in RARE_WORDS)
        # Whisper lower-cases a name now and then in cased text ("is lamentations free 22 and
        # 23"): with a chapter and a verse that exist it is read as in captions.
        and not (
            shape == "pair" and name in RARE_WORDS and not DETERMINER_BEFORE_RE.search(*before)
        )
    )
