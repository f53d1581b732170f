"""The sentences a summary must not leave out: the thesis, each main point, the application.

TextRank (:mod:`.selection`) finds central sentences; a pastor reading the summary expects the
sermon's own structure: what it is about (the *thesis*), each numbered *point*, and what to do
with it (the *application*). Preachers announce all three, in writing and in captions alike
("a mensagem de hoje é essa", "o segundo ponto", "point number three", "a terceira atitude",
"quero te desafiar", "here's my challenge for you"); these patterns run on folded text.

Captions cut a spoken sentence wherever a line ends, so a cue sentence is *completed*
(:func:`complete`): the next pieces are joined while they carry the sentence on ("… estar na
vontade de deus / não significa que você não vai enfrentar tempestade", "... the thesis / mas
ela mantém a gente firme"), and an announcement with nothing after it ("agora eu quero aplicar
isso na sua vida", "here's my challenge for you this week") is joined to what it announces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from services.analysis.keypoints.cues import is_liturgy, is_prayer
from services.analysis.sentences import Sentence
from services.analysis.stopwords import EN_STOPWORDS, PT_STOPWORDS
from services.analysis.text import WORD_RE, fold, word_set

MAX_JOINED_WORDS: Final = 45
MIN_ESSENTIAL_WORDS: Final = 6
STATED_WORDS: Final = 3
APPLICATION_WORDS: Final = 6
# Content words after a cue below which the cue only announces what comes next ("agora eu
# quero aplicar isso na sua vida", "here's my challenge for you this week").
ANNOUNCEMENT_WORDS: Final = 2
# Words before a cue in its caption piece from which they are cut off the key point.
LEAD_WORDS: Final = 4
# How many pieces after an announcement may carry its content, and the words of the first
# that make a second unnecessary.
ANNOUNCED_PIECES: Final = 2
ANNOUNCED_ENOUGH: Final = 4


class Role(Enum):
    """What a sentence does in the sermon's structure."""

    NONE = "none"
    THESIS = "thesis"
    POINT = "point"
    APPLICATION = "application"


_ORDINALS: Final = {
    "primeiro": 1, "primeira": 1, "first": 1, "um": 1, "one": 1,
    "segundo": 2, "segunda": 2, "second": 2, "dois": 2, "two": 2,
    "terceiro": 3, "terceira": 3, "third": 3, "tres": 3, "three": 3,
    "quarto": 4, "quarta": 4, "fourth": 4, "quatro": 4, "four": 4,
    "quinto": 5, "quinta": 5, "fifth": 5, "cinco": 5, "five": 5,
    "sexto": 6, "sexta": 6, "sixth": 6, "seis": 6, "six": 6,
}  # fmt: skip
_THINGS = (
    r"(?:ponto|verdade|licao|coisa|atitude|principio|passo|chave|marca|razao|motivo|lei|segredo"
    r"|point|truth|lesson|thing|principle|step|key|mark|reason|secret)"
)
_ORDINAL_WORD = r"(?:primeir[oa]|segund[oa]|terceir[oa]|quart[oa]|quint[oa]|sext[oa]"
_POINT_RE: Final = re.compile(
    rf"\b(?:{_ORDINAL_WORD}|first|second|third|fourth|fifth|sixth)\s+{_THINGS}"
    rf"|(?:(?:{_THINGS})\s+|^)(?:numero|number)\s+(?P<n>um|dois|tres|quatro|cinco|seis|one"
    r"|two|three|four|five|six|\d))\b"
)
_THESIS_RE: Final = re.compile(
    r"\b(?:a (?:mensagem|palavra) de hoje(?: e (?:essa|esta|simples))?|o tema de hoje"
    r"|a ideia central"
    r"|o que eu quero que voce (?:entenda|saiba|leve)|a verdade de hoje"
    r"|(?:here'?s )?what i want you to (?:hear|know|understand|remember|take home|take away)"
    r"|o que eu quero que voce leve (?:pra|para) casa"
    r"|the (?:big idea|main point|message|truth) (?:today|this morning|tonight)(?: is)?"
    r"|(?:my|the) message (?:today|this morning) is)\b"
)
_APPLICATION_RE: Final = re.compile(
    r"\b(?:quero (?:te |lhe |vos )?desafiar|quero aplicar|vamos aplicar|aplicar isso|na pratica"
    r"|o que (?:isso|isto) significa pra (?:voce|nos|mim)|como (?:a gente|voce) vive isso"
    r"|eu quero que voce (?:saia|va|faca)|o meu desafio|meu desafio|o desafio (?:de hoje|e)"
    r"|quero te (?:propor|dar uma tarefa|deixar uma tarefa)|o que a gente faz com isso"
    r"|my challenge (?:for|to) you|here'?s my challenge|i (?:want to )?challenge you"
    r"|apply this|what does this mean for (?:you|us)|so what do we do|here'?s how"
    r"|as you leave (?:today|here)|when you go home)\b"
)
# Stop words, plus the words an announcement is padded with ("de uma maneira bem prática").
_STOPWORDS: Final = (
    PT_STOPWORDS
    | EN_STOPWORDS
    | word_set(
        "maneira jeito forma pratica pratico simples bem vida semana hoje manha noite agora "
        "way practical simple life week today morning tonight now"
    )
)
_RECAP_RE: Final = re.compile(
    r"\b(?:recapitulando|resumindo|em resumo|to sum up|in summary|to recap|let me recap)\b"
)
# Words that carry a cut sentence on into the next caption piece.
_CONTINUES: Final = word_set(
    "mas porque pois que e nao sao so ou nem entao but because and that is isnt not which "
    "who so or nor doesnt"
)
# Fillers a key point need not open with ("então o primeiro ponto...", "so point number one").
_LEADING_FILLER_RE: Final = re.compile(
    r"^(?:(?:ent[aã]o|pois [eé]|agora|e|so|and|now|well|ok|okay|t[aá]|n[eé]|olha)\b[\s,]*)+",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Structured:
    """A sentence of the sermon's structure: its role, the point number, its place."""

    role: Role
    index: int  # into the sentence list
    number: int = 0  # 1, 2, 3 ... for points


def role_of(folded: str) -> tuple[Role, int]:
    """The role of a folded sentence and, for a point, its number (0 when unnumbered)."""
    point = _POINT_RE.search(folded)
    if point is not None:
        words = point.group(0).split()
        number = _ORDINALS.get(point.group("n") or words[0], 0)
        if point.group("n") and point.group("n").isdigit():
            number = int(point.group("n"))
        return Role.POINT, number
    if _THESIS_RE.search(folded):
        return Role.THESIS, 0
    if _APPLICATION_RE.search(folded):
        return Role.APPLICATION, 0
    return Role.NONE, 0


def structure(sentences: Sequence[Sentence]) -> list[Structured]:
    """The thesis, point and application sentences, in order of appearance."""
    found: list[Structured] = []
    for index, sentence in enumerate(sentences):
        role, number = role_of(fold(sentence.text))
        if role is not Role.NONE:
            found.append(Structured(role, index, number))
    return found


def _cue_span(folded: str) -> tuple[int, int] | None:
    """Where the first cue of a folded sentence starts and the last one ends."""
    spans = [
        (match.start(), match.end())
        for pattern in (_POINT_RE, _THESIS_RE, _APPLICATION_RE)
        for match in pattern.finditer(folded)
    ]
    if not spans:
        return None
    return min(start for start, _ in spans), max(end for _, end in spans)


def _content_words(text: str) -> int:
    return sum(1 for word in WORD_RE.findall(fold(text)) if word not in _STOPWORDS)


def _content_after_cue(folded: str) -> int:
    """Content words (not stop words) after the last cue of a folded sentence."""
    span = _cue_span(folded)
    rest = folded[span[1] :] if span is not None else folded
    return sum(1 for word in WORD_RE.findall(rest) if word not in _STOPWORDS)


def complete(sentences: Sequence[Sentence], index: int) -> Sentence:
    """The cue sentence at ``index`` joined with the pieces that carry it on (module doc).

    Words before the cue in the same piece belong to the sentence before it in speech
    ("... on the list and here's what i want you to hear"): the key point starts at the cue.
    """
    first = sentences[index]
    folded = fold(first.text)
    span = _cue_span(folded)
    if span is not None and len(WORD_RE.findall(folded[: span[0]])) >= LEAD_WORDS:
        cut = first.text[span[0] :]
        first = Sentence(cut, first.start + span[0], first.end, len(WORD_RE.findall(cut)))
    joined = [first]
    words = first.words
    announced = _content_after_cue(folded) < ANNOUNCEMENT_WORDS
    for pieces, following in enumerate(sentences[index + 1 : index + 4]):
        opening = WORD_RE.match(fold(following.text))
        carries = opening is not None and opening.group(0) in _CONTINUES
        if not (carries or (announced and pieces < ANNOUNCED_PIECES)):
            break
        if announced and not carries and pieces and joined[-1].words >= ANNOUNCED_ENOUGH:
            break  # the announcement has its sentence ("Number one. Grace can't be earned.")
        if words + following.words > MAX_JOINED_WORDS:
            break
        folded_next = fold(following.text)
        if role_of(folded_next)[0] is not Role.NONE:
            break  # the next point or cue starts
        if is_liturgy(folded_next) or is_prayer(folded_next):
            break
        joined.append(following)
        words += following.words
    text = " ".join(s.text for s in joined)
    return Sentence(text, first.start, joined[-1].end, words)


def essentials(sentences: Sequence[Sentence]) -> list[Sentence]:
    """The thesis, each numbered point (first statement) and the application, completed.

    Args:
        sentences: every sentence of the transcript, in order.

    Returns:
        At most one thesis (the one that says the most after its cue), each point number once,
        and the first application after the thesis, in order of appearance. Liturgy and
        prayers are never among them.
    """
    theses: list[Sentence] = []
    points: dict[int, Sentence] = {}
    applications: list[Sentence] = []
    for item in structure(sentences):
        whole = complete(sentences, item.index)
        folded = fold(whole.text)
        if is_liturgy(folded) or is_prayer(folded) or whole.words < MIN_ESSENTIAL_WORDS:
            continue
        if item.role is Role.THESIS and not _RECAP_RE.search(folded):
            theses.append(whole)
        elif item.role is Role.POINT:
            points.setdefault(item.number or -whole.start - 1, whole)
        elif item.role is Role.APPLICATION:
            applications.append(whole)
    picked: list[Sentence] = []
    if theses:
        # The first thesis that states something; a recap restating it comes later.
        stated = [t for t in theses if _content_after_cue(fold(t.text)) >= STATED_WORDS]
        picked.append((stated or theses)[0])
    picked.extend(points.values())
    after_thesis = [a for a in applications if not picked or a.start > picked[0].start]
    if after_thesis or applications:
        # The first that says what to do; "o que a gente faz com isso?" only asks it.
        pool = after_thesis or applications
        said = [a for a in pool if _content_words(a.text) >= APPLICATION_WORDS]
        picked.append((said or pool)[0])
    unique = {s.start: s for s in picked}
    return [unique[k] for k in sorted(unique)]


def shown(text: str) -> str:
    """A key point without the fillers it was spoken with ("então", "so", "and")."""
    trimmed = _LEADING_FILLER_RE.sub("", text).strip()
    kept = trimmed if len(trimmed.split()) >= 3 else text
    return kept[:1].upper() + kept[1:]
