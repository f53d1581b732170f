"""Book names that are also ordinary words, decided from the evidence around them.

``atos``, ``números``, ``juízes``, ``cantares``, ``acts``, ``numbers``, ``job``, ``mark`` are
books and everyday words. In captions without capitals (or a lower-case word in cased text)
nothing in the name itself tells them apart, so the words around it decide:

Against a reference (any one refuses):

* a determiner, possessive or number right before it: ``os atos``, ``the numbers``, ``my job``,
  ``number one job 24 7``, ``3 reis``;
* a third number right after the locator (``números 4 5 6``, ``mark 4 3 2 1``): a list of
  numbers, a countdown or a phone number, not chapter and verse;
* a quantity, time or date after it (the finder's usual guards) or an ordinary continuation
  (``da rifa``, ``on your calendar``).

For a reference (one is needed when no cue word such as ``em``/``turn to`` comes before):

* two numbers that fit the book as chapter and verse (``números 23 19``, ``acts 2 38``), or a
  verse range (``números 6 do 24 ao 26``): what a caption of a spoken reference looks like;
* a bare chapter followed within a few words by a figure of scripture (``atos 16 paulo e
  silas``, ``juízes 7 gideão``): the chapter's story is being told.

A cue word before the name (:data:`guards.CUE_BEFORE_RE`) counts as evidence by itself, as
before, so ``em atos 2`` is Acts 2 and ``os atos 2`` is not.
"""

from __future__ import annotations

import re
from typing import Final

from services.analysis.bible.spoken import NUMBER

_I = re.IGNORECASE
# Words that make the name after them an ordinary noun ("os atos", "the numbers", "my job")
# or a count ("3 reis", "one job").
_BEFORE_RE: Final = re.compile(
    r"(?:\b(?:o|os|a|as|um|uma|uns|umas|dos|das|nos|nas|pelos|pelas|aos|meus|minhas|teus|tuas"
    r"|seus|suas|nossos|nossas|esses|essas|estes|estas|aqueles|aquelas|alguns|algumas|muitos"
    r"|muitas|quais|cujos|bons|maus|the|an|my|your|his|her|its|our|their|this|that|these"
    r"|those|some|any|every|each|no|new|old|same|good|bad|great|what|which|whose|lucky|winning"
    r"|\d+|one|two|three|four|five|dois|duas|tres|quatro|cinco|dez|cem|mil|numero|number)\s+)$",
    _I,
)
# A third number after chapter and verse: a list, a countdown, a phone number.
# "um"/"one" are articles far more often ("acts 2 38 one of the verses").
_MORE_NUMBERS_RE: Final = re.compile(rf"[\s,]+(?!(?:um|uma|one)\b)(?:{NUMBER})(?![^\W\d_])", _I)
# Continuations that make the numbers something else: a raffle, a form, a calendar.
_ORDINARY_AFTER_RE: Final = re.compile(
    r"\s*(?:d[aoe]\s+(?:rifa|sorteio|lista|chamada|loteria|mega|senha|casa|rua|sala|fila|turma)"
    r"|n[ao]\s+(?:lista|rifa|quadro|placar)|on\s+(?:the|your|my)\s+(?:calendar|form|list|card)"
    r"|in\s+(?:the|your)\s+(?:calendar|register|form)|pontos|points|votos|votes)\b",
    _I,
)
# People and things of scripture whose story a bare chapter may introduce ("atos 16 paulo e
# silas", "juízes 7 gideão", "job 1 satan").
_SCRIPTURE_WORDS: Final = frozenset(
    """
    deus senhor jesus cristo espirito pentecostes apostolos discipulos israel profeta paulo
    silas pedro joao tiago estevao filipe barnabe cornelio saulo ananias safira lidia eunuco
    gideao sansao debora baraque jefte dalila otoniel eude moises arao balaao josue caleb
    miriam davi salomao elias eliseu acabe jezabel naama ezequias josias jo satanas sulamita
    god lord jesus christ spirit pentecost apostles disciples israel prophet paul silas peter
    james stephen philip barnabas cornelius saul ananias sapphira lydia eunuch gideon samson
    deborah barak jephthah delilah ehud moses aaron balaam joshua caleb miriam david solomon
    elijah elisha ahab jezebel naaman hezekiah josiah satan job
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_WORD_RE: Final = re.compile(r"[^\W\d_]+")
SCRIPTURE_LOOKAHEAD: Final = 4


def refused_before(folded: str, window_start: int, name_start: int) -> bool:
    """Whether a determiner, possessive or number right before the name makes it a word."""
    return _BEFORE_RE.search(folded, window_start, name_start) is not None


def refused_after(folded: str, pos: int) -> bool:
    """Whether more numbers or an ordinary continuation follow the locator ending at ``pos``."""
    return bool(_MORE_NUMBERS_RE.match(folded, pos) or _ORDINARY_AFTER_RE.match(folded, pos))


def story_follows(folded: str, pos: int) -> bool:
    """Whether a figure of scripture is named within a few words after ``pos``."""
    for index, word in enumerate(_WORD_RE.finditer(folded, pos, pos + 80)):
        if index == SCRIPTURE_LOOKAHEAD:
            return False
        if word.group().lower() in _SCRIPTURE_WORDS:
            return True
    return False


def ordinary_word_is_reference(
    folded: str, window_start: int, name_start: int, pos: int, two_numbers: bool, cue: bool
) -> bool:
    """Whether a lower-case ordinary-word book name with its locator is a reference.

    Args:
        folded: the accent-folded text.
        window_start: where the look-back window before the name starts.
        name_start: offset of the book name.
        pos: offset right after the locator.
        two_numbers: the locator has a chapter and a verse (or a verse range).
        cue: a cue word (``em``, ``turn to``) comes right before the name.
    """
    if refused_before(folded, window_start, name_start):
        return False
    if two_numbers and refused_after(folded, pos):
        return False
    if cue or two_numbers:
        return True
    return story_follows(folded, pos)
