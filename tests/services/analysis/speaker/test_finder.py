"""The preacher's name."""

from __future__ import annotations

import pytest

from services.analysis.speaker import OPENING_WORDS, find_speaker


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Culto de Domingo | Pr. João Silva", "Pr. João Silva"),
        ("A fé que vence - Pastor João Silva", "Pastor João Silva"),
        ("Pregação: pastora Ana Souza | Culto da Família", "Pastora Ana Souza"),
        ("Bispo Edir Macedo - Palavra Amiga", "Bispo Edir Macedo"),
        ("Rev. Augustus Nicodemus - Romanos 8", "Rev. Augustus Nicodemus"),
        ("Apóstolo Valdemiro Santiago ao vivo", "Apóstolo Valdemiro Santiago"),
        ("Sunday Service | Pastor John Smith", "Pastor John Smith"),
        ("Pastor Rick | Grace Changes Everything", "Pastor Rick"),
        ("Pr Marcos de Souza Lima | Culto", "Pr. Marcos de Souza Lima"),
    ],
)
def test_speaker_from_title(title: str, expected: str) -> None:
    assert find_speaker("", title=title) == expected


def test_title_beats_description_beats_transcript() -> None:
    text = "Boa noite! Eu sou o Pastor Marcos e hoje vamos falar da graça."
    assert find_speaker(text, title="Pr. João Silva", description="Pastora Ana") == (
        "Pr. João Silva"
    )
    assert find_speaker(text, title="Culto de domingo", description="Com a Pastora Ana Lima") == (
        "Pastora Ana Lima"
    )
    assert find_speaker(text, title="Culto de domingo") == "Pastor Marcos"


def test_self_introduction_beats_host_thanks() -> None:
    text = (
        "Quero agradecer ao Pastor Carlos Mendes pelo convite. Meu nome é Pr. Felipe Rocha e "
        "é uma honra estar aqui."
    )
    assert find_speaker(text) == "Pr. Felipe Rocha"
    assert find_speaker("I want to thank Pastor Dave for having me this morning.") is None
    assert find_speaker("Good morning! My name is Pastor Michael Turner.") == (
        "Pastor Michael Turner"
    )


@pytest.mark.parametrize(
    "text",
    [
        "O pastor disse que hoje teríamos ceia.",
        "Como o apóstolo Paulo escreveu aos Romanos, nada nos separa do amor de Deus.",
        "Hoje o Pastor Presidente não pôde vir, mas a igreja está em oração.",
        "Bom dia, igreja! Vamos abrir a Bíblia em Romanos 8.",
        "",
    ],
)
def test_no_false_speakers(text: str) -> None:
    assert find_speaker(text) is None


def test_only_the_opening_is_searched() -> None:
    filler = "palavra " * (OPENING_WORDS + 10)
    assert find_speaker(filler + "Eu sou o Pastor Tardio.") is None
    assert find_speaker("Eu sou o Pastor Cedo. " + filler) == "Pastor Cedo"
