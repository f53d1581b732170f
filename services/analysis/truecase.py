"""Readable display of caption text: capitals and a full stop restored by rules.

Automatic captions have no capitals and no punctuation. Key points and quotations shown to a
reader get, by simple offline rules (no model, nothing downloaded):

* a capital on the first letter and a closing ``.`` - or ``?`` when the sentence opens with an
  unambiguous question ("qual", "por que", "será que", "why", "do you" ...);
* ``I``/``I'm``/``I've`` in English;
* capitals on names that are always capitalised: God and Jesus in both languages, the Bible,
  the Holy Spirit, weekdays and months in English, and Bible book names that the passage
  finder reads as a reference ("romanos 8 28" -> "Romanos 8 28").

Only caseless text is touched (see :func:`bible.asr.is_caseless`); written text keeps its own
capitals and punctuation.
"""

from __future__ import annotations

import re
from typing import Final

from schemas.summary import Language
from services.analysis.bible import find_passages
from services.analysis.text import WORD_RE, fold, word_set

_ALWAYS: Final = word_set(
    """
    deus jesus cristo god christ biblia bible
    monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december
    """
)
_CONNECTORS: Final = word_set("de do da dos das aos ao a o of the to")
# Words where a book's name ends and its locator begins.
_NUMBER_STOP: Final = word_set("capitulo capitulos versiculo versiculos chapter verse verses")
_PRONOUN_I_RE: Final = re.compile(r"(?<![\w'])i(?='(?:m|ve|ll|d)\b|\b)")
_PHRASES_RE: Final = re.compile(r"\b(esp[ií]rito santo|holy spirit)\b")
# Only openers that are questions whatever follows: "what comes into our minds ...", "quem
# não perdoa ..." and "quando jesus fala ..." are statements as often as not.
_QUESTION_RE: Final = re.compile(
    r"^(?:qual|quais|por que|sera que|voce ja|voces ja"
    r"|who|why|do you|did you|are you|is it|can you|have you|has anyone)\b"
)
_END_RE: Final = re.compile(r"[.!?…\"'”»)]$")


def _capitalise_at(text: str, index: int) -> str:
    return text[:index] + text[index].upper() + text[index + 1 :]


def restore(text: str, language: Language) -> str:
    """``"a fé olha para jesus"`` -> ``"A fé olha para Jesus."`` (see the module docstring)."""
    text = " ".join(text.split())
    if not text:
        return text
    chars = list(text)
    for word in WORD_RE.finditer(text):
        if fold(word.group()) in _ALWAYS:
            chars[word.start()] = chars[word.start()].upper()
    for phrase in _PHRASES_RE.finditer(text):
        for word in WORD_RE.finditer(phrase.group()):
            chars[phrase.start() + word.start()] = chars[phrase.start() + word.start()].upper()
    for mention in find_passages(text, language):
        # Every word of the book's name: "primeira coríntios 13" -> "Primeira Coríntios 13".
        for word in WORD_RE.finditer(text, mention.start, mention.end):
            if word.group()[0].isdigit() or fold(word.group()) in _NUMBER_STOP:
                break
            if fold(word.group()) not in _CONNECTORS:
                chars[word.start()] = chars[word.start()].upper()
    text = "".join(chars)
    if language == "en":
        text = _PRONOUN_I_RE.sub("I", text)
    first_letter = next((i for i, ch in enumerate(text) if ch.isalpha()), None)
    if first_letter is not None:
        text = _capitalise_at(text, first_letter)
    if not _END_RE.search(text):
        text += "?" if _QUESTION_RE.search(fold(text)) else "."
    return text
