"""The preacher's name, from the title, then the description, then the transcript opening.

A speaker is a ministerial title (``Pr.``, ``Pastor``, ``Pastora``, ``Bispo``, ``Rev.``,
``Apóstolo``, ``Missionária``, ``Pastor`` in English ...) followed by one to four capitalised
name words (``Pr. João Silva``, ``pastora Ana Souza``, ``Pastor Rick``). Names must be
capitalised, which is what keeps "o pastor disse" from producing a speaker.

In the transcript opening (first :data:`OPENING_WORDS` words) a self-introduction ("eu sou o
pastor João", "my name is Pastor John Smith") wins over any other titled name, and a titled
name right after thanks ("agradeço ao pastor Marcos") is skipped — that is the host, not the
preacher. A host handing over the pulpit ("hoje quem traz a palavra é o Pastor João", "please
welcome our guest speaker, Dr. Okafor"; :mod:`~services.analysis.speaker.handover`) names the
preacher and beats every self-introduction. A biblical apostle ("o apóstolo Paulo") is never a
speaker.

Automatic captions have no capitals, so in a caseless opening (and as a last resort in a cased
one) :func:`~services.analysis.speaker.caseless.caseless_speaker` weighs self-introductions
and the host's welcome instead of reading capitalised words.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.authors import NON_AUTHORS
from services.analysis.bible.asr import is_caseless
from services.analysis.speaker.caseless import caseless_speaker, handover_speaker
from services.analysis.stopwords import EN_STOPWORDS, PT_STOPWORDS
from services.analysis.text import WORD_RE, fold, word_set

OPENING_WORDS: Final = 400

_TITLE: Final = (
    r"(?P<title>(?i:pr|pra|pastor|pastora|bispo|bispa|bishop|rev|revd|reverendo|reverenda|"
    r"reverend|apóstolo|apostolo|apóstola|apostola|apostle|missionário|missionario|"
    r"missionária|missionaria|missionary|presbítero|presbitero|evangelista|evangelist|"
    r"padre|pe|elder))"
)
_NAME_WORD: Final = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'\u2019\-]+"
_NAME: Final = rf"(?P<name>{_NAME_WORD}(?:\s+(?:(?:de|da|do|dos|das)\s+)?{_NAME_WORD}){{0,3}})"
# "Pr." / "Pr" / "Pastor" then the name; abbreviations need a dot or a space after them.
_TITLED_RE: Final = re.compile(rf"\b{_TITLE}(?:\.\s*|\s+){_NAME}")
_INTRO_RE: Final = re.compile(
    r"(?i:\b(?:eu\s+sou|sou|meu\s+nome\s+é|meu\s+nome\s+e|me\s+chamo|i\s+am|i'm|i\u2019m|"
    r"my\s+name\s+is|this\s+is)\s+(?:o\s+|a\s+)?)"
    rf"{_TITLE}(?:\.\s*|\s+){_NAME}"
)
_THANKS_RE: Final = re.compile(
    r"(?i:agrade[çc]\w*|obrigad[oa]|grat[oa]|thank\w*|honra|privil[ée]gio|convite)[^.!?]{0,40}$"
)
_ABBREVIATED: Final = frozenset({"pr", "pra", "rev", "revd", "pe"})
_APOSTLE: Final = frozenset({"apostolo", "apostola", "apostle"})

# Capitalised words that follow a title but are not names ("Pastor Presidente", "Pastor
# Sênior", "Culto ...").
_NOT_NAMES: Final = word_set(
    """
    presidente senior titular auxiliar local auxiliares lider lead associate executive youth
    culto domingo igreja ministerio sermao pregacao mensagem palavra estudo live ao vivo
    church sunday service sermon message worship online part parte appreciation conference
    conferencia day dia team equipe
    """
)
_STOPWORDS: Final = PT_STOPWORDS | EN_STOPWORDS


def _clean(match: re.Match[str]) -> str | None:
    title = match.group("title")
    words = match.group("name").split()
    # Trim trailing connectors and words that are not names ("Pastor João Culto").
    kept: list[str] = []
    for word in words:
        folded = fold(word)
        if folded in _NOT_NAMES or (folded in _STOPWORDS and folded not in {"de", "da", "do"}):
            break
        kept.append(word)
    while kept and fold(kept[-1]) in {"de", "da", "do", "dos", "das"}:
        kept.pop()
    if not kept:
        return None
    folded_title = fold(title)
    if folded_title in _APOSTLE and all(fold(w) in NON_AUTHORS for w in kept):
        return None  # "o apóstolo Paulo" is scripture, not the preacher
    if len(kept) == 1 and fold(kept[0]) in {"jesus", "cristo", "deus", "christ", "god"}:
        return None
    shown = title[0].upper() + title[1:]
    if folded_title in _ABBREVIATED:
        shown = shown.rstrip(".") + "."
    return f"{shown} {' '.join(kept)}"


def _first_titled(text: str, *, skip_thanks: bool) -> str | None:
    for match in _TITLED_RE.finditer(text):
        if skip_thanks and _THANKS_RE.search(text, max(0, match.start() - 60), match.start()):
            continue
        found = _clean(match)
        if found:
            return found
    return None


def _opening(text: str) -> str:
    for index, match in enumerate(WORD_RE.finditer(text)):
        if index == OPENING_WORDS:
            return text[: match.start()]
    return text


def find_speaker(
    text: str, *, title: str | None = None, description: str | None = None
) -> str | None:
    """Find the preacher's name.

    Args:
        text: The transcript text (only its opening is read).
        title: The video title, searched first.
        description: The video description, searched second.

    Returns:
        The title and name as written, e.g. ``"Pr. João Silva"``, or None.
    """
    for field in (title, description):
        if field:
            found = _first_titled(field, skip_thanks=False)
            if found:
                return found
    opening = _opening(text)
    if is_caseless(opening):
        return caseless_speaker(opening)
    guest = handover_speaker(opening)  # "hoje quem traz a palavra é o Pastor ..."
    if guest is not None:
        return guest
    for match in _INTRO_RE.finditer(opening):
        found = _clean(match)
        if found:
            return found
    return _first_titled(opening, skip_thanks=True) or caseless_speaker(opening)
