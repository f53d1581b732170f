"""Cheap Portuguese/English guess for text whose language the caller did not give.

Counts a handful of very frequent function words that belong to one language only. It is only
used to pick between the two alias tables and the language of ``reference``; ties go to
Portuguese, the product's main language.
"""

from __future__ import annotations

import re
from typing import Final, Literal

_PT_WORDS: Final = re.compile(
    r"\b(?:que|de|do|da|dos|das|em|um|uma|para|com|nao|mas|ele|ela|nos|voce|vamos|esta|foi"
    r"|pelo|pela|seu|sua|isso|quando|porque|tambem|muito|irmaos|deus|senhor|leia|diz)\b",
    re.IGNORECASE,
)
_EN_WORDS: Final = re.compile(
    r"\b(?:the|and|of|to|that|it|for|with|was|this|are|you|he|we|his|they|have|not|but|what"
    r"|will|from|your|our|god|lord|read|says|turn|let's|verse|verses|chapter)\b",
    re.IGNORECASE,
)


def detect_language(folded_text: str) -> Literal["pt", "en"]:
    """Return ``"en"`` when English function words clearly dominate, else ``"pt"``.

    Args:
        folded_text: the text with accents already stripped (``não`` -> ``nao``).
    """
    pt = len(_PT_WORDS.findall(folded_text))
    en = len(_EN_WORDS.findall(folded_text))
    return "en" if en > pt else "pt"
