"""What a sermon's own words say about a sentence: liturgy to skip, thesis and recap to favour.

TextRank (:mod:`.selection`) finds *central* sentences, and in a service transcript liturgy is
central too ("levanta a mão e diz amém" comes back a dozen times). Preachers also announce
what matters: "a mensagem de hoje é essa", "o segundo ponto", "point number three",
"recapitulando", "so to sum up", "here's my challenge for you". These patterns run on folded
text (lower case, no accents), so they work on automatic captions as well as written text.

* :data:`LITURGY_RE`: filler, calls to the congregation, offerings, hymns, welcomes, the
  preacher's self-introduction, altar calls and closings - never key points;
* :func:`is_prayer`: a sentence addressed to God ("senhor jesus nós te agradecemos", "father
  we thank you") - never a key point;
* :func:`cue_weights`: a multiplier per sentence - thesis and numbered points
  (:data:`THESIS_WEIGHT`), the sentences right after a recap cue (:data:`RECAP_WEIGHT`) and
  application (:data:`APPLICATION_WEIGHT`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

THESIS_WEIGHT: Final = 3.0
RECAP_WEIGHT: Final = 2.5
APPLICATION_WEIGHT: Final = 1.5
# How many sentences after "recapitulando" / "to sum up" count as the recap.
RECAP_SPAN: Final = 6

LITURGY_RE: Final = re.compile(
    r"\b(?:levant\w* (?:a |as )?(?:sua |suas )?maos?|(?:diz|diga|dizendo) amem|quem cre diz"
    r"|pode aplaudir|salva de palmas|repet\w* comigo|can i get an amen|give (?:the lord|god|him)"
    r" (?:a hand|some praise)|praise god somebody|somebody give|raise your hands?"
    r"|bow your heads?|close your eyes|olhos fechados|cabeca baixa|in jesus'? name"
    r"|em nome de jesus|ofertas?|dizimos?|tithes?|offerings?|hino \w+|hymns?|hymnals?"
    r"|a paz do senhor|meu nome e|my name is|i'm pastor|eu sirvo|i serve|quero agradecer"
    r"|thank you (?:elder|pastor|brother|sister)|obrigad[oa] (?:pastor|pastora|irma|irmao"
    r"|presbitero)|devolvo|come (?:on )?back up|pra frente|down front|aqui na frente"
    r"|worship team|equipe de louvor|banda|retiro|breakfast|volunteers?|food pantry"
    r"|fellowship hall|preletor|guest speaker|receb\w+ (?:com|a|o)|help me welcome"
    r"|nos despedir|closing song|god bless you|deus abencoe|obreir[oa]s|prayer team"
    r"|glory to god|gloria a deus|aleluia|hallelujah|que palavra|what a word)\b"
)
_PRAYER_RE: Final = re.compile(
    r"^(?:o\s+)?(?:senhor|pai|father|lord|deus|god)\b.*\b(?:te|ti|tu|teu|tua|you|your)\b"
    r"|\b(?:te (?:peco|pedimos|agradecemos|agradeco|louvamos)|we (?:thank|praise|ask) you"
    r"|forgive us for|nos oramos|we pray)\b"
)
_THESIS_RE: Final = re.compile(
    r"\b(?:a mensagem de hoje|o tema de hoje|o que eu quero que voce (?:entenda|saiba)"
    r"|here'?s what i want you to (?:hear|know|understand)|the (?:big idea|main point|message)"
    r" (?:today|this morning)|(?:primeiro|segundo|terceiro|quarto|quinto|ultimo) ponto"
    r"|point number (?:one|two|three|four|five)|(?:first|second|third|fourth|final) point)\b"
)
_RECAP_RE: Final = re.compile(
    r"\b(?:recapitulando|resumindo|em resumo|to sum up|in summary|to recap|let me recap"
    r"|so to summarize)\b"
)
_APPLICATION_RE: Final = re.compile(
    r"\b(?:quero (?:te )?desafiar|quero aplicar|my challenge (?:for|to) you|here'?s my challenge"
    r"|apply this|aplicar isso)\b"
)


def is_liturgy(folded: str) -> bool:
    """Whether a folded sentence is liturgy, filler, an announcement or an introduction."""
    return LITURGY_RE.search(folded) is not None


def is_prayer(folded: str) -> bool:
    """Whether a folded sentence is addressed to God."""
    return _PRAYER_RE.search(folded) is not None


def cue_weights(folded: Sequence[str]) -> list[float]:
    """A ranking multiplier for each folded sentence of a sermon, in order."""
    weights = [1.0] * len(folded)
    recap_left = 0
    for index, sentence in enumerate(folded):
        if _RECAP_RE.search(sentence):
            recap_left = RECAP_SPAN
            continue  # the transition itself ("então recapitulando") says nothing
        thesis = _THESIS_RE.search(sentence)
        if thesis is not None:
            weights[index] = THESIS_WEIGHT
            if len(sentence[thesis.end() :].split()) <= 3 and index + 1 < len(folded):
                # "here's what i want you to hear this morning" - the thesis comes next.
                weights[index + 1] = max(weights[index + 1], THESIS_WEIGHT)
        elif recap_left > 0:
            weights[index] = RECAP_WEIGHT
        elif _APPLICATION_RE.search(sentence):
            weights[index] = APPLICATION_WEIGHT
        if _APPLICATION_RE.search(sentence):
            recap_left = 0
        recap_left = max(0, recap_left - 1)
    return weights
