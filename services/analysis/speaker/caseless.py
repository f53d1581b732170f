"""The preacher's name in captions without capital letters.

Automatic captions write "a paz do senhor meu nome é pastor ricardo almeida eu sirvo na ...":
names cannot be told from other words by their case, and the host usually speaks first and
names other people (the senior pastor who is away, the worship leader, themself). So every
titled name in a *self-introduction* ("meu nome é pastor X", "i'm pastor X") or in the host's
*welcome* ("recebam a pastora X", "help me welcome pastor X") becomes a candidate, scored:

* a self-introduction with a preaching title (pastor, bispo, reverendo, apóstolo ...): +2;
  with another title (presbítero, elder, diácono): +1;
* being welcomed by the host: +2;
* being handed the pulpit ("hoje quem traz a palavra é o pastor X", "welcome our guest
  speaker, Dr. X"; :mod:`.handover`): +4, more than any self-introduction;
* "eu sirvo na ...", "i serve as lead pastor", "vim pregar" right after the introduction: +1;
  "pra conduzir o culto", "i'll be leading worship" (the host's job): -3.

The best score wins (ties go to the later candidate: the preacher speaks after the host). A
name is the 1-3 words after the title, up to the first stop word or non-name word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from services.analysis.speaker.handover import handovers
from services.analysis.stopwords import EN_STOPWORDS, PT_STOPWORDS
from services.analysis.text import fold, fold_same_length, word_set

MAX_NAME_WORDS: Final = 3
HANDOVER_SCORE: Final = 4
_TITLE: Final = (
    r"(?P<title>pastora|pastor|pra|pr|bispa|bispo|bishop|reverenda|reverendo|reverend|rev"
    r"|apostola|apostolo|apostle|missionaria|missionario|missionary|evangelista|evangelist"
    r"|padre|presbitera|presbitero|diaconisa|diacono|deacon|elder|preacher|pregador[a]?)"
)
_NAME_WORDS: Final = r"(?P<name>[a-z][a-z'\-]*(?:\s+[a-z][a-z'\-]*){0,5})"
_SELF_RE: Final = re.compile(
    r"\b(?:eu\s+sou|meu\s+nome\s+e|me\s+chamo|i\s+am|i'm|my\s+name\s+is|this\s+is)\s+"
    rf"(?:(?:o|a|the)\s+)?{_TITLE}\s+{_NAME_WORDS}"
)
_WELCOME_RE: Final = re.compile(
    r"\b(?:receb\w*|acolh\w*|convid\w*|chamar|chamo|apresent\w*|passo\s+a\s+palavra"
    r"|welcome|introduce|invite)\b[^.!?]{0,60}?"
    rf"\b{_TITLE}\s+{_NAME_WORDS}"
)
_SERVE_RE: Final = re.compile(
    r"\b(?:eu\s+sirvo|sirvo|pastoreio|vim\s+(?:pregar|ministrar)|i\s+serve|i\s+pastor"
    r"|lead\s+pastor|senior\s+pastor|pastor\s+(?:at|of))\b"
)
_HOST_RE: Final = re.compile(
    r"\b(?:conduzir|dirigir|conduzindo|dirigindo|conduct\w*|lead(?:ing)?\s+(?:the\s+|our\s+)?"
    r"(?:service|worship)|one\s+of\s+the\s+elders|mestre\s+de\s+cerimonias?)\b"
)
_AFTER: Final = 160
_PREACHING: Final = word_set(
    """
    pastora pastor pra pr bispa bispo bishop reverenda reverendo reverend rev apostola apostolo
    apostle missionaria missionario missionary evangelista evangelist padre preacher pregador
    pregadora
    """
)
_ABBREVIATED: Final = frozenset({"pr", "pra", "rev", "dr", "dra", "prof"})
_CONNECTORS: Final = frozenset({"de", "da", "do", "dos", "das"})
# Words that end a name: "pastor ricardo almeida veio de campinas", "pastor james is out".
_NOT_NAMES: Final = (
    PT_STOPWORDS
    | EN_STOPWORDS
    | word_set(
        """
    presidente senior titular auxiliar local lider lead associate executive youth culto igreja
    ministerio palavra mensagem church service sermon message worship team equipe veio vem
    chegou esta tava estava aqui la from here there who which that dessa desta nossa nosso
    igreja irmao irma brother sister amen amem gloria aleluia hallelujah paz senhor deus jesus
    lord god bom boa good well thank thanks obrigado obrigada
    """
    )
)


@dataclass(slots=True)
class _Candidate:
    title: str
    name: list[str]
    score: int = 0
    last: int = 0


def _name_words(raw: str) -> list[str]:
    kept: list[str] = []
    for word in raw.split():
        if word in _NOT_NAMES and word not in _CONNECTORS:
            break
        kept.append(word)
        if len(kept) == MAX_NAME_WORDS:
            break
    while kept and kept[-1] in _CONNECTORS:
        kept.pop()
    return kept


def _display(candidate: _Candidate) -> str:
    title = candidate.title.capitalize()
    if fold(candidate.title) in _ABBREVIATED:
        title += "."
    name = [w if w in _CONNECTORS else w.capitalize() for w in candidate.name]
    return " ".join([title, *name])


def _add(
    found: dict[str, _Candidate], original: str, match: re.Match[str], score: int, where: int
) -> _Candidate | None:
    folded_name = _name_words(match.group("name"))
    if not folded_name or folded_name[0] in {"jesus", "cristo", "christ", "paulo", "paul"}:
        return None
    # Shown as spoken, accents included: the folded copy has the same offsets.
    name = [
        w.strip(".,;:!?\"'") for w in original[match.start("name") :].split()[: len(folded_name)]
    ]
    title = original[match.start("title") : match.end("title")].lower()
    candidate = found.setdefault(folded_name[0], _Candidate(title, name))
    if len(name) > len(candidate.name):
        candidate.name, candidate.title = name, title
    candidate.score += score
    candidate.last = max(candidate.last, where)
    return candidate


def handover_speaker(opening: str) -> str | None:
    """The preacher the host hands the pulpit to (the last handover), or None.

    Used on cased text too: a guest named by the host beats the host's own introduction.
    """
    found: dict[str, _Candidate] = {}
    last: _Candidate | None = None
    for match in handovers(opening):
        last = _add(found, opening, match, HANDOVER_SCORE, match.start("title")) or last
    return None if last is None else _display(last)


def caseless_speaker(opening: str) -> str | None:
    """The preacher named in a caseless transcript opening, or None.

    Args:
        opening: The first words of the transcript (any case; it is folded here).

    Returns:
        ``"Pastor Ricardo Almeida"``-style title and name, or None when nobody introduces
        themself or is welcomed with a title.
    """
    folded = fold_same_length(opening)
    found: dict[str, _Candidate] = {}
    for match in _SELF_RE.finditer(folded):
        score = 2 if match.group("title") in _PREACHING else 1
        after = folded[match.end() : match.end() + _AFTER]
        if _SERVE_RE.search(after):
            score += 1
        if _HOST_RE.search(after):
            score -= 3
        _add(found, opening, match, score, match.start())
    for match in _WELCOME_RE.finditer(folded):
        _add(found, opening, match, 2, match.start("title"))
    for match in handovers(opening):
        _add(found, opening, match, HANDOVER_SCORE, match.start("title"))
    best = max(found.values(), key=lambda c: (c.score, c.last), default=None)
    if best is None or best.score <= 0:
        return None
    return _display(best)
