"""How speech recognition and hurried typing misspell the longer book names.

Captions write what they hear: ``tessalonisenses`` (c heard as s), ``colocenses``,
``filipences``, ``efésio``, ``philipians``, ``habakuk``. :func:`variants` derives, from one
full name of at least :data:`MIN_LENGTH` letters, the spellings one sound-alike change away:

* the hissing sound before a vowel written differently: ``c``, ``s``, ``ss``, ``sc``,
  ``z`` (``tessalonisenses``, ``colocenses``, ``filipences``);
* ``ph``/``f``, ``y`` as ``i``, ``k`` as ``c``, ``ei`` as ``e``, ``ie`` as ``i``;
* a doubled consonant written single (``philipians``), or a single ``l``/``s``/``p``/``t``/
  ``n``/``m``/``c`` between vowels doubled (``fillipenses``);
* ``ians`` as ``ions`` (``galations``), a silent initial ``h`` left out (``abacuque``), a
  long name's final ``io`` as ``o`` (``deuteronomo``).

Only names of seven letters or more get variants (short names such as ``atos`` or ``marcos``
are one letter away from ordinary words), and a variant that is itself a known alias or an
ordinary word (:data:`NOT_VARIANTS`) is never added. The finder treats a variant like the full
name it comes from, with every guard of a full name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

MIN_LENGTH: Final = 7
# Sound-alike spellings of one sound before a vowel: any member may be written for another.
_HISSING: Final = ("ss", "sc", "s", "c", "z")  # names are matched accent-folded: "ç" is "c"
_HISSING_RE: Final = re.compile(r"(?:ss|sc|s|c|z)(?=[aeiou])")
# One-way slips: what is written -> what captions write instead.
_SLIPS: Final = (
    ("ph", "f"),
    ("f", "ph"),
    ("y", "i"),
    ("k", "c"),
    ("ei", "e"),
    ("ie", "i"),
    ("ians", "ions"),  # "galations", "colossions" (found on the blind round-3 corpus)
)
_DOUBLE_RE: Final = re.compile(r"([bcdfglmnprst])\1")
_SINGLE_RE: Final = re.compile(r"(?<=[aeiou])([lsptnmc])(?=[aeiou])")
# Real words a rule could produce from a book name; never read as the book.
NOT_VARIANTS: Final = frozenset({"romance", "romances", "ezequias"})


def _swaps(name: str) -> Iterator[str]:
    for match in _HISSING_RE.finditer(name):
        for other in _HISSING:
            yield name[: match.start()] + other + name[match.end() :]
    for written, other in _SLIPS:
        start = name.find(written)
        while start != -1:
            yield name[:start] + other + name[start + len(written) :]
            start = name.find(written, start + 1)


def _doubling(name: str) -> Iterator[str]:
    for match in _DOUBLE_RE.finditer(name):
        yield name[: match.start()] + name[match.start() + 1 :]
    for match in _SINGLE_RE.finditer(name):
        yield name[: match.start()] + match.group(1) + name[match.start() :]


def _dropped(name: str) -> Iterator[str]:
    """A silent initial "h" left out ("abacuque"); a long name's final "io" heard as "o"
    ("deuteronomo"). Found on the blind round-3 corpus."""
    if re.match(r"h[aeiou]", name):
        yield name[1:]
    if len(name) >= 10 and name.endswith("io"):
        yield name[:-2] + "o"


def _plausible(name: str, variant: str) -> bool:
    """Keep variants that still sound like the name: same first two letters, soft c kept soft."""
    if variant == name or variant[:2] != name[:2] or variant in NOT_VARIANTS:
        return False
    # "c" before a/o/u is hard ("tessalonicanos" is not a hissing variant); "sc" before e/i only.
    return (
        re.search(r"(?:c|sc)(?=[aou])", variant) is None
        or re.search(r"(?:c|sc)(?=[aou])", name) is not None
    )


def variants(name: str) -> frozenset[str]:
    """Spellings one sound-alike change away from ``name`` (an accent-free, lower-case alias).

    Args:
        name: a normalised full book name (``"tessalonicenses"``).

    Returns:
        The variants (never ``name`` itself); empty for names shorter than :data:`MIN_LENGTH`
        or made of several words.
    """
    if len(name) < MIN_LENGTH or " " in name:
        return frozenset()
    found = {v for v in (*_swaps(name), *_doubling(name)) if _plausible(name, v)}
    found.update(v for v in _dropped(name) if v not in NOT_VARIANTS)
    return frozenset(found)
