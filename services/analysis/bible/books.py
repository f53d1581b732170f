"""The 66 books: USFM ids, Portuguese/English display names and the aliases people write or say.

Each alias has a *kind* that decides how much context it needs before it counts as a book:

* ``F`` full name (``Romanos``, ``Atos``, ``Lucas``): counts with a chapter number alone, subject
  to the person/count guards in :mod:`finder`;
* ``A`` unambiguous abbreviation (``Rm``, ``Sl``, ``Gn``, ``Phil``): same as a full name (a bare
  ``Sl 23`` must be capitalised, ``rm 8:28`` need not);
* ``W`` weak abbreviation that is also a common word or name (``Is``, ``Os``, ``At``, ``Am``,
  ``Jo``, ``Na``, ``Ex``, ``Ez``): only counts capitalised and in a written chapter-and-verse shape
  (``Is 40:31``, ``Jo 3,16``).

A trailing ``*`` marks aliases that are also people's first names (``Lucas``, ``Mark``, ``Rute``);
a bare ``Lucas 2`` after an article or a title (``o Lucas``, ``irmã Rute``) is then a person.

Numbered books (``1CO``, ``2TI``...) are declared once with ``#`` standing for the number; the
finder looks them up as ``(number, alias)``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from services.analysis.bible.misspellings import variants
from services.analysis.bible.versification import VERSES_PER_CHAPTER

Language = Literal["pt", "en"]
AliasKind = Literal["F", "A", "W"]

# usfm | Portuguese display name | English display name (canonical order).
_DISPLAY = """
GEN|Gênesis|Genesis
EXO|Êxodo|Exodus
LEV|Levítico|Leviticus
NUM|Números|Numbers
DEU|Deuteronômio|Deuteronomy
JOS|Josué|Joshua
JDG|Juízes|Judges
RUT|Rute|Ruth
1SA|1 Samuel|1 Samuel
2SA|2 Samuel|2 Samuel
1KI|1 Reis|1 Kings
2KI|2 Reis|2 Kings
1CH|1 Crônicas|1 Chronicles
2CH|2 Crônicas|2 Chronicles
EZR|Esdras|Ezra
NEH|Neemias|Nehemiah
EST|Ester|Esther
JOB|Jó|Job
PSA|Salmos|Psalms
PRO|Provérbios|Proverbs
ECC|Eclesiastes|Ecclesiastes
SNG|Cânticos|Song of Songs
ISA|Isaías|Isaiah
JER|Jeremias|Jeremiah
LAM|Lamentações|Lamentations
EZK|Ezequiel|Ezekiel
DAN|Daniel|Daniel
HOS|Oseias|Hosea
JOL|Joel|Joel
AMO|Amós|Amos
OBA|Obadias|Obadiah
JON|Jonas|Jonah
MIC|Miqueias|Micah
NAM|Naum|Nahum
HAB|Habacuque|Habakkuk
ZEP|Sofonias|Zephaniah
HAG|Ageu|Haggai
ZEC|Zacarias|Zechariah
MAL|Malaquias|Malachi
MAT|Mateus|Matthew
MRK|Marcos|Mark
LUK|Lucas|Luke
JHN|João|John
ACT|Atos|Acts
ROM|Romanos|Romans
1CO|1 Coríntios|1 Corinthians
2CO|2 Coríntios|2 Corinthians
GAL|Gálatas|Galatians
EPH|Efésios|Ephesians
PHP|Filipenses|Philippians
COL|Colossenses|Colossians
1TH|1 Tessalonicenses|1 Thessalonians
2TH|2 Tessalonicenses|2 Thessalonians
1TI|1 Timóteo|1 Timothy
2TI|2 Timóteo|2 Timothy
TIT|Tito|Titus
PHM|Filemom|Philemon
HEB|Hebreus|Hebrews
JAS|Tiago|James
1PE|1 Pedro|1 Peter
2PE|2 Pedro|2 Peter
1JN|1 João|1 John
2JN|2 João|2 John
3JN|3 João|3 John
JUD|Judas|Jude
REV|Apocalipse|Revelation
"""

# usfm | language | kind | comma-separated aliases (accents optional when matching).
# Singular forms ("romano", "gálata", "corinthian") are how speech recognition often hears the
# plural; the ones that are also ordinary words are listed in guards.COMMON_WORDS.
_ALIASES = """
GEN|pt|F|gênesis
GEN|*|A|gn,gên,gen
GEN|en|F|genesis
EXO|pt|F|êxodo
EXO|en|F|exodus
EXO|en|A|exod
EXO|*|W|ex,êx
LEV|pt|F|levítico
LEV|en|F|leviticus
LEV|*|A|lv,lev
NUM|pt|F|números
NUM|en|F|numbers
NUM|*|A|nm
NUM|*|W|num
DEU|pt|F|deuteronômio,deuteronómio
DEU|en|F|deuteronomy
DEU|*|A|dt,deut
JOS|pt|F|josué*
JOS|pt|W|js
JOS|en|F|joshua*
JOS|en|W|josh
JDG|pt|F|juízes
JDG|pt|A|jz
JDG|en|F|judges
JDG|en|A|judg,jdg
RUT|pt|F|rute*
RUT|pt|W|rt
RUT|en|F|ruth*
#SA|pt|F|samuel*
#SA|pt|A|sm
#SA|*|A|sam
#SA|en|F|samuel*
#KI|pt|F|reis
#KI|pt|A|rs
#KI|en|F|kings
#KI|en|A|kgs
#CH|pt|F|crônicas,crônica
#CH|pt|A|cr,crôn
#CH|en|F|chronicles
#CH|en|A|chron,chr
EZR|pt|F|esdras*
EZR|pt|A|esd
EZR|pt|W|ed
EZR|en|F|ezra*
EZR|en|A|ezr
NEH|pt|F|neemias*
NEH|pt|W|ne
NEH|en|F|nehemiah*
NEH|en|A|neh
EST|pt|F|ester*
EST|*|W|et,est
EST|en|F|esther*
EST|en|A|esth
JOB|en|F|job*
PSA|pt|F|salmos,salmo
PSA|pt|A|sl
PSA|pt|W|sal
PSA|en|F|psalms,psalm
PSA|en|A|ps,psa,pss
PRO|pt|F|provérbios,provérbio
PRO|*|A|pv,prov
PRO|en|F|proverbs
PRO|en|A|prv
ECC|pt|F|eclesiastes,eclesiaste
ECC|*|A|ec,ecl
ECC|en|F|ecclesiastes,ecclesiastics
ECC|en|A|eccl,eccles
SNG|pt|F|cânticos,cântico dos cânticos,cânticos dos cânticos,cantares,cantares de salomão
SNG|pt|W|ct
SNG|en|F|song of songs,song of solomon,canticles
ISA|pt|F|isaías*
ISA|pt|W|is
ISA|en|F|isaiah*
ISA|en|A|isa
JER|pt|F|jeremias*
JER|pt|A|jr
JER|*|A|jer
JER|en|F|jeremiah*
LAM|pt|F|lamentações,lamentações de jeremias,lamentação
LAM|pt|A|lm
LAM|*|A|lam
LAM|en|F|lamentations
EZK|pt|F|ezequiel*
EZK|pt|A|ezeq
EZK|pt|W|ez
EZK|en|F|ezekiel*
EZK|en|A|ezek,ezk
DAN|*|F|daniel*
DAN|*|A|dn
DAN|en|W|dan
HOS|pt|F|oséias*,oseias*
HOS|pt|W|os
HOS|en|F|hosea*
HOS|en|A|hos
JOL|*|F|joel*
JOL|pt|A|jl
AMO|pt|F|amós*
AMO|en|F|amos*
AMO|*|W|am
OBA|pt|F|obadias*
OBA|en|F|obadiah*
OBA|en|A|obad
OBA|*|W|ob
JON|pt|F|jonas*
JON|pt|W|jn
JON|en|F|jonah*
JON|en|W|jon
MIC|pt|F|miquéias*,miqueias*
MIC|pt|A|mq
MIC|en|F|micah*
MIC|en|A|mic
NAM|pt|F|naum*
NAM|*|W|na
NAM|en|F|nahum*
NAM|en|A|nah
HAB|pt|F|habacuque*,habacuc*
HAB|pt|A|hc
HAB|en|F|habakkuk*
HAB|*|A|hab
ZEP|pt|F|sofonias*
ZEP|pt|A|sf
ZEP|en|F|zephaniah*
ZEP|en|A|zeph
HAG|pt|F|ageu*
HAG|pt|W|ag
HAG|en|F|haggai*
HAG|en|A|hag
ZEC|pt|F|zacarias*
ZEC|pt|A|zc
ZEC|en|F|zechariah*
ZEC|en|A|zech
MAL|pt|F|malaquias*
MAL|pt|W|ml
MAL|en|F|malachi*
MAL|en|W|mal
MAT|pt|F|mateus*
MAT|*|A|mt
MAT|en|F|matthew*
MAT|en|A|matt
MRK|pt|F|marcos*
MRK|pt|A|mc
MRK|en|F|mark*
MRK|en|A|mk,mrk
LUK|pt|F|lucas*
LUK|pt|A|lc
LUK|en|F|luke*
LUK|en|A|lk
JHN|pt|F|joão*
JHN|pt|W|jo
JHN|en|F|john*
JHN|en|A|jn,jhn
ACT|pt|F|atos,atos dos apóstolos
ACT|pt|W|at
ACT|en|F|acts
ROM|pt|F|romanos,romano
ROM|*|A|rm,rom
ROM|en|F|romans,roman
#CO|pt|F|coríntios,coríntio
#CO|pt|A|co
#CO|*|A|cor
#CO|en|F|corinthians,corinthian
GAL|pt|F|gálatas,gálata
GAL|pt|A|gl
GAL|*|A|gal
GAL|en|F|galatians,galatian
EPH|pt|F|efésios,efésio
EPH|pt|A|ef
EPH|en|F|ephesians,ephesian
EPH|en|A|eph
PHP|pt|F|filipenses,filipense
PHP|pt|A|fp,fil
PHP|en|F|philippians,philippian,phillipians,philippines
PHP|en|A|phil,php
COL|pt|F|colossenses,colossense
COL|pt|A|cl
COL|*|A|col
COL|en|F|colossians,colossian
#TH|pt|F|tessalonicenses,tessalonicense
#TH|pt|A|ts,tes
#TH|en|F|thessalonians,thessalonian
#TH|en|A|thess,thes
#TI|pt|F|timóteo*
#TI|pt|A|tm
#TI|en|F|timothy*
#TI|*|A|tim
TIT|pt|F|tito*
TIT|pt|W|tt
TIT|en|F|titus*
TIT|en|W|tit
PHM|pt|F|filemom,filemon,filêmon
PHM|pt|A|fm
PHM|en|F|philemon
PHM|en|A|philem,phlm,phm
HEB|pt|F|hebreus,hebreu
HEB|pt|A|hb
HEB|en|F|hebrews,hebrew
HEB|en|A|heb
JAS|pt|F|tiago*
JAS|pt|A|tg
JAS|en|F|james*
JAS|en|A|jas
#PE|pt|F|pedro*
#PE|pt|A|pe,pd
#PE|en|F|peter*
#PE|en|A|pet,pt
#JN|pt|F|joão*
#JN|pt|A|jo
#JN|en|F|john*,jon*
#JN|en|A|jn,jhn
JUD|pt|F|judas*
JUD|pt|A|jd
JUD|en|F|jude*
JUD|en|W|jud
REV|pt|F|apocalipse
REV|pt|A|apoc
REV|pt|W|ap
REV|en|F|revelation,revelations
REV|en|A|rev
"""

# "Jó" (Job) folds to "jo", which is also the weak abbreviation of João; the finder tells them
# apart by the accent in the original text.
JOB_ACCENTED: Final = "jó"

_FOLD_TABLE: Final[dict[int, int]] = {}
for _cp in range(0xC0, 0x250):
    _decomposed = unicodedata.normalize("NFD", chr(_cp))
    if len(_decomposed) > 1 and _decomposed[0].isascii() and _decomposed[0].isalpha():
        _FOLD_TABLE[_cp] = ord(_decomposed[0])


def fold_accents(text: str) -> str:
    """Strip accents from precomposed Latin letters, keeping length (so offsets survive)."""
    return text.translate(_FOLD_TABLE)


def normalise_alias(alias: str) -> str:
    """The key an alias is stored and looked up under: accent-free, lower case, single spaces."""
    return " ".join(fold_accents(alias).lower().split())


@dataclass(frozen=True, slots=True)
class Alias:
    """One way of naming a book, with how much context it needs to count."""

    book_id: str
    language: Language | None  # None: used in both languages
    kind: AliasKind
    person: bool


def _parse_display() -> MappingProxyType[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for line in _DISPLAY.strip().splitlines():
        usfm, pt, en = line.split("|")
        names[usfm] = (pt, en)
    return MappingProxyType(names)


DISPLAY_NAMES: Final = _parse_display()
BOOK_IDS: Final[tuple[str, ...]] = tuple(DISPLAY_NAMES)

AliasKey = tuple[int | None, str]


def _parse_aliases() -> tuple[MappingProxyType[AliasKey, tuple[Alias, ...]], frozenset[str]]:
    index: dict[AliasKey, list[Alias]] = {}
    for line in _ALIASES.strip().splitlines():
        usfm, lang, kind, names = line.split("|")
        language: Language | None = None if lang == "*" else ("pt" if lang == "pt" else "en")
        alias_kind: AliasKind = "F" if kind == "F" else ("A" if kind == "A" else "W")
        targets: list[tuple[int | None, str]]
        if usfm.startswith("#"):
            targets = [
                (n, f"{n}{usfm[1:]}") for n in (1, 2, 3) if f"{n}{usfm[1:]}" in DISPLAY_NAMES
            ]
        else:
            targets = [(None, usfm)]
        for raw in names.split(","):
            person = raw.endswith("*")
            key_name = normalise_alias(raw.rstrip("*"))
            for number, book_id in targets:
                alias = Alias(book_id, language, alias_kind, person)
                index.setdefault((number, key_name), []).append(alias)
    _add_misspellings(index)
    frozen = {key: tuple(aliases) for key, aliases in index.items()}
    return MappingProxyType(frozen), frozenset(name for _, name in frozen)


def _add_misspellings(index: dict[AliasKey, list[Alias]]) -> None:
    """Index each long full name's sound-alike misspellings (:mod:`misspellings`) as that name."""
    taken = {name for _, name in index}
    added: dict[AliasKey, list[Alias]] = {}
    for (number, name), aliases in index.items():
        full = [alias for alias in aliases if alias.kind == "F"]
        for variant in variants(name) if full else ():
            if variant not in taken:
                added.setdefault((number, variant), []).extend(full)
    index.update(added)


ALIAS_INDEX, ALIAS_NAMES = _parse_aliases()


def lookup(number: int | None, name: str, language: Language) -> Alias | None:
    """Resolve an alias (already normalised) for the given language.

    Aliases of the requested language win over shared ones, which win over the other language's;
    the other language's weak abbreviations are never used (``At`` is not Acts in English text).
    """
    candidates = ALIAS_INDEX.get((number, name))
    if not candidates:
        return None
    best: Alias | None = None
    best_rank = 99
    for alias in candidates:
        if alias.language == language:
            rank = 0
        elif alias.language is None:
            rank = 1
        elif alias.kind != "W":
            rank = 2
        else:
            continue
        if rank < best_rank:
            best, best_rank = alias, rank
    return best


def book_name(book_id: str, language: Language) -> str:
    """Display name of a book in Portuguese (ARA style) or English.

    Args:
        book_id: USFM code such as ``"JHN"`` or ``"1CO"``.
        language: ``"pt"`` or ``"en"``.

    Returns:
        ``"João"`` / ``"John"``, ``"1 Coríntios"`` / ``"1 Corinthians"``...

    Raises:
        KeyError: ``book_id`` is not one of the 66 USFM codes.
    """
    pt, en = DISPLAY_NAMES[book_id]
    return pt if language == "pt" else en


def _check_tables() -> None:
    # Import-time consistency check: both tables describe exactly the same 66 books.
    if set(DISPLAY_NAMES) != set(VERSES_PER_CHAPTER) or len(DISPLAY_NAMES) != 66:
        raise RuntimeError("bible book tables are inconsistent")


_check_tables()
