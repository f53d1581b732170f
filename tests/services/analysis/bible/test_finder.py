"""Unit tests of find_passages, one parametrised table per corpus category."""

from __future__ import annotations

import pytest

from services.analysis.bible import find_passages

Ref = tuple[str, int, int | None, int | None]


def refs(text: str, language: str | None) -> list[Ref]:
    return [
        (m.book_id, m.chapter, m.verse_start, m.verse_end)
        for m in find_passages(text, language)  # type: ignore[arg-type]
    ]


PT_WRITTEN: list[tuple[str, list[Ref]]] = [
    ("Leia João 3:16 hoje.", [("JHN", 3, 16, 16)]),
    ("Rm 8.28-30", [("ROM", 8, 28, 30)]),
    ("1 Co 13:4-7", [("1CO", 13, 4, 7)]),
    ("O Sl 23 consola.", [("PSA", 23, None, None)]),
    ("Hebreus 11.1", [("HEB", 11, 1, 1)]),
    ("Joao 1:12 sem acento", [("JHN", 1, 12, 12)]),
    ("Exodo 20:1-17", [("EXO", 20, 1, 17)]),
    ("genesis 3:15 em minúsculas", [("GEN", 3, 15, 15)]),
    ("Atos 2 é o Pentecostes", [("ACT", 2, None, None)]),
    ("Jó 38 é a resposta de Deus", [("JOB", 38, None, None)]),
    ("Is 40:31", [("ISA", 40, 31, 31)]),
    ("2Rs 5:14 Naamã mergulhou", [("2KI", 5, 14, 14)]),
    ("1Sm 17:45", [("1SA", 17, 45, 45)]),
    ("2Cr 7:14 se o meu povo", [("2CH", 7, 14, 14)]),
    ("Ct 2:4", [("SNG", 2, 4, 4)]),
    ("Os 6:6 misericórdia quero", [("HOS", 6, 6, 6)]),
    ("Am 5:24 corra o juízo", [("AMO", 5, 24, 24)]),
    ("Hc 3:17-18", [("HAB", 3, 17, 18)]),
    ("3Jo 2", [("3JN", 1, 2, 2)]),
    ("Cânticos dos Cânticos 8:7", [("SNG", 8, 7, 7)]),
    ("Rm. 12:2", [("ROM", 12, 2, 2)]),
    ("Jo3.16 sem espaço", [("JHN", 3, 16, 16)]),
]

PT_SPOKEN: list[tuple[str, list[Ref]]] = [
    ("João capítulo 3 versículo 16", [("JHN", 3, 16, 16)]),
    ("Romanos 8, versículos 28 a 30", [("ROM", 8, 28, 30)]),
    ("primeira Coríntios capítulo 13", [("1CO", 13, None, None)]),
    ("1ª Pedro capítulo 2 versículo 9", [("1PE", 2, 9, 9)]),
    ("II Timóteo capítulo 1 versículo 7", [("2TI", 1, 7, 7)]),
    ("Salmo 23", [("PSA", 23, None, None)]),
    ("João capítulo três versículo dezesseis", [("JHN", 3, 16, 16)]),
    ("Mateus capítulo 5 do versículo 1 ao 5", [("MAT", 5, 1, 5)]),
    ("primeiro livro dos Reis capítulo 18", [("1KI", 18, None, None)]),
    ("segunda aos Tessalonicenses capítulo 3, versículo 10", [("2TH", 3, 10, 10)]),
    ("Salmo cento e dezenove, versículo cento e cinco", [("PSA", 119, 105, 105)]),
    ("Apocalipse capítulo vinte e dois", [("REV", 22, None, None)]),
    ("no livro de Neemias, no capítulo 8, no versículo 10", [("NEH", 8, 10, 10)]),
    ("Atos, capítulo 16, versículos 30 e 31", [("ACT", 16, 30, 30), ("ACT", 16, 31, 31)]),
    ("Números capítulo 6, versículos 24 até 26", [("NUM", 6, 24, 26)]),
]

EN_WRITTEN: list[tuple[str, list[Ref]]] = [
    ("John 3:16", [("JHN", 3, 16, 16)]),
    ("1 Corinthians 13", [("1CO", 13, None, None)]),
    ("Gen 50:20", [("GEN", 50, 20, 20)]),
    ("Matt 6:9-13", [("MAT", 6, 9, 13)]),
    ("Phil. 4:6", [("PHP", 4, 6, 6)]),
    ("1 Cor 10:13", [("1CO", 10, 13, 13)]),
    ("Rev 22:20", [("REV", 22, 20, 20)]),
    ("Ps 121", [("PSA", 121, None, None)]),
    ("Jn 1:14 in English", [("JHN", 1, 14, 14)]),
    ("2 Chron 7:14", [("2CH", 7, 14, 14)]),
    ("Jude 24-25", [("JUD", 1, 24, 25)]),
    ("Obadiah 15", [("OBA", 1, 15, 15)]),
]

EN_SPOKEN: list[tuple[str, list[Ref]]] = [
    ("Romans chapter 8 verses 28 through 30", [("ROM", 8, 28, 30)]),
    ("Second Timothy 1:7", [("2TI", 1, 7, 7)]),
    ("John chapter three verse sixteen", [("JHN", 3, 16, 16)]),
    ("chapter three of nothing", []),
    ("Isaiah chapter fifty-three", [("ISA", 53, None, None)]),
    ("First Thessalonians chapter 4 verses 13 to 18", [("1TH", 4, 13, 18)]),
    ("Third John verse 11", [("3JN", 1, 11, 11)]),
    ("Psalm twenty-three", [("PSA", 23, None, None)]),
    ("2nd Peter chapter 1 verse 3", [("2PE", 1, 3, 3)]),
    ("the second letter to the Corinthians chapter 4", [("2CO", 4, None, None)]),
]

LISTS: list[tuple[str, list[Ref]]] = [
    ("Romanos 12:1-2 e 5:8", [("ROM", 12, 1, 2), ("ROM", 5, 8, 8)]),
    ("Jo 3:16, 18", [("JHN", 3, 16, 16), ("JHN", 3, 18, 18)]),
    ("Mateus 5-7", [("MAT", 5, None, None), ("MAT", 6, None, None), ("MAT", 7, None, None)]),
    ("Jo 3:16; Rm 5:8", [("JHN", 3, 16, 16), ("ROM", 5, 8, 8)]),
    ("Rm 3:23, 1 Co 15:3", [("ROM", 3, 23, 23), ("1CO", 15, 3, 3)]),
    ("Rute 1:16-2:3", [("RUT", 1, 16, 22), ("RUT", 2, 1, 3)]),
    ("Salmo 23 e 2 irmãos cantaram", [("PSA", 23, None, None)]),
    ("Atos 2, 3 mil pessoas se converteram", [("ACT", 2, None, None)]),
    ("Efésios capítulo 2 e capítulo 3", [("EPH", 2, None, None), ("EPH", 3, None, None)]),
    ("Romans 5:1 and 8:1", [("ROM", 5, 1, 1), ("ROM", 8, 1, 1)]),
    ("verses 1 and 2 of nothing", []),
]

NEGATIVES: list[tuple[str, str]] = [
    ("a irmã Rute cantou", "pt"),
    ("o diácono Lucas 2 vezes", "pt"),
    ("um ato de fé", "pt"),
    ("Mark the date", "en"),
    ("às 10:30", "pt"),
    ("Marcos tinha 3 filhos", "pt"),
    ("Is 40", "pt"),
    ("Is 40 minutes enough?", "en"),
    ("At 10:30 we pray", "en"),
    ("Jo 10:30 da manhã", "pt"),
    ("Marcos 10:30 horas", "pt"),
    ("o Lucas 15 anos", "pt"),
    ("Tiago 3 anos atrás", "pt"),
    ("salmos de louvor", "pt"),
    ("my job 2 years ago", "en"),
    ("John 22:1", "en"),
    ("Salmo 151", "pt"),
    ("Romanos 8:40", "pt"),
    ("Judas 26", "pt"),
    ("Coríntios 13", "pt"),
    ("Samuel 17 estava lá", "pt"),
    ("Lucas 2,5 milhões", "pt"),
    ("Ex 20 anos de ministério", "pt"),
    ("o evangelho segundo João", "pt"),
    ("pastor Daniel 4 vezes", "pt"),
    ("Brother James 2 weeks ago", "en"),
    ("Mark 3 kids", "en"),
    ("I love Acts", "en"),
    ("a dona Ester 2", "pt"),
    ("o placar foi Jo 2:1", "en"),
]


@pytest.mark.parametrize(("text", "expected"), PT_WRITTEN, ids=[t for t, _ in PT_WRITTEN])
def test_pt_written(text: str, expected: list[Ref]) -> None:
    assert refs(text, "pt") == expected


@pytest.mark.parametrize(("text", "expected"), PT_SPOKEN, ids=[t for t, _ in PT_SPOKEN])
def test_pt_spoken(text: str, expected: list[Ref]) -> None:
    assert refs(text, "pt") == expected


@pytest.mark.parametrize(("text", "expected"), EN_WRITTEN, ids=[t for t, _ in EN_WRITTEN])
def test_en_written(text: str, expected: list[Ref]) -> None:
    assert refs(text, "en") == expected


@pytest.mark.parametrize(("text", "expected"), EN_SPOKEN, ids=[t for t, _ in EN_SPOKEN])
def test_en_spoken(text: str, expected: list[Ref]) -> None:
    assert refs(text, "en") == expected


@pytest.mark.parametrize(("text", "expected"), LISTS, ids=[t for t, _ in LISTS])
def test_lists_and_ranges(text: str, expected: list[Ref]) -> None:
    assert refs(text, None) == expected


@pytest.mark.parametrize(("text", "language"), NEGATIVES, ids=[t for t, _ in NEGATIVES])
def test_negatives(text: str, language: str) -> None:
    assert refs(text, language) == []


def test_gospel_according_to_john_is_not_second_john() -> None:
    assert refs("o evangelho segundo João 3:16", "pt") == [("JHN", 3, 16, 16)]
    assert refs("segundo João 1:9", "pt") == [("2JN", 1, 9, 9)]


def test_language_selects_ambiguous_abbreviation() -> None:
    assert refs("Jn 1:9", "pt") == [("JON", 1, 9, 9)]
    assert refs("Jn 1:9", "en") == [("JHN", 1, 9, 9)]
    assert refs("At 2:38", "pt") == [("ACT", 2, 38, 38)]
    assert refs("At 2:38", "en") == []


def test_language_none_accepts_both() -> None:
    text = "Leia Romanos 8:28. Then read John 3:16."
    assert refs(text, None) == [("ROM", 8, 28, 28), ("JHN", 3, 16, 16)]
