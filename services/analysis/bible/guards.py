"""Guards that keep people's names, counts and clock times from being read as passages.

``Lucas 2 vezes`` (a count), ``Jo 10:30 da manhã`` (a time), ``irmã Rute 2`` / ``o Marcos 3``
(people) and ``Lucas 2,5 milhões`` (a decimal) all look like ``Name N`` or ``Name N:M``; these
checks run on the accent-folded text around a candidate mention.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.books import Alias

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
    r"|verses|books|members|churches|points?|goals?|degrees?|thousand|million|billion|more"
    rf"|less|st|nd|rd|th|{TIME_WORDS})\b)",
    _I,
)
TITLE_BEFORE_RE: Final = re.compile(
    r"(?:\b(?:irmaos?|irmas?|diacon[oa]|diaconisa|pastor[a]?|pra?|presbiter[oa]|missionari[oa]"
    r"|bisp[oa]|seu|dona|sra?|tio|tia|vov[oo]|vo|meu|minha|amig[oa]|professor[a]?|prof"
    r"|brother|sister|deacon|elder|mrs?|ms|dr|uncle|aunt|little|my|dear|friend|pastor)\.?\s+)$",
    _I,
)
ARTICLE_BEFORE_RE: Final = re.compile(r"(?:\b(?:o|a|do|da|ao|pelo|pela|com)\s+)$", _I)
DECIMAL_RE: Final = re.compile(r"[.,]\d")
# Books whose name is also an ordinary lower-case word only when they are not passages.
LOWERCASE_OK: Final = frozenset({"PSA"})


def plausible_bare(
    folded: str,
    match: re.Match[str],
    alias: Alias,
    book: str,
    pos: int,
    capitalised: bool,
    written_shape: bool,
) -> bool:
    """Guards for ``Name N`` / ``Name N:M`` against people, counts and clock times."""
    if written_shape:
        # "N:M" can only be mistaken for a clock time; "N.M" also for a decimal quantity.
        colon = ":" in folded[match.end() : pos]
        return not (TIME_RE if colon else QUANTITY_RE).match(folded, pos)
    if QUANTITY_RE.match(folded, pos):
        return False
    if not capitalised and match.group("pre") is None and book not in LOWERCASE_OK:
        return False
    if DECIMAL_RE.match(folded, pos):
        return False
    window_start = max(0, match.start() - 24)
    if TITLE_BEFORE_RE.search(folded, window_start, match.start()):
        return False
    return not (alias.person and ARTICLE_BEFORE_RE.search(folded, window_start, match.start()))
