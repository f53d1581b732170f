"""Guest preachers: the host who opens the service hands the pulpit over (issue 24, class 4)."""

from __future__ import annotations

import pytest

from services.analysis.speaker import find_speaker
from services.analysis.speaker.handover import handovers


@pytest.mark.parametrize(
    ("opening", "expected"),
    [
        # The host introduces themself first, then names the guest.
        (
            "boa tarde igreja eu sou o pastor renato lima e hoje quem vai ministrar a palavra "
            "é o pastor élio batista lá de sorocaba",
            "Pastor Élio Batista",
        ),
        (
            "Boa noite, igreja! Meu nome é Presbítero Jorge. Hoje quem traz a mensagem é a "
            "Pastora Débora Nunes.",
            "Pastora Débora Nunes",
        ),
        (
            "a palavra de hoje será trazida pelo missionário tiago ferraz que acabou de voltar "
            "de moçambique",
            "Missionário Tiago Ferraz",
        ),
        (
            "e agora eu passo a palavra ao pastor wellington souza amém",
            "Pastor Wellington Souza",
        ),
        (
            "nosso preletor de hoje é o reverendo augusto prado vamos receber",
            "Reverendo Augusto Prado",
        ),
        (
            "hi everyone i'm pastor kyle one of the associate pastors here and we are so glad "
            "to welcome our guest speaker this morning doctor miriam adeyemi",
            "Doctor Miriam Adeyemi",
        ),
        (
            "Good morning! I'm Pastor Kyle Brooks. Please welcome our guest preacher, "
            "Dr. Miriam Adeyemi.",
            "Dr. Miriam Adeyemi",
        ),
        ("Bringing us the word this morning is Pastor Luis Ortega.", "Pastor Luis Ortega"),
    ],
)
def test_the_preacher_handed_the_pulpit_is_the_speaker(opening: str, expected: str) -> None:
    assert find_speaker(opening) == expected


def test_a_handover_to_a_later_date_is_not_today_preacher() -> None:
    opening = (
        "Eu sou o Pastor Renato Lima. No próximo domingo quem traz a palavra é o Pastor Élio "
        "Batista. Hoje eu vou pregar sobre a graça."
    )
    assert find_speaker(opening) == "Pastor Renato Lima"


def test_without_a_handover_the_self_introduction_still_counts() -> None:
    assert find_speaker("a paz do senhor meu nome é pastor rui campos eu sirvo na igreja") == (
        "Pastor Rui Campos"
    )


def test_handovers_are_found_in_order() -> None:
    found = handovers("quem traz a palavra hoje é o pastor ari; convido o bispo davi pra pregar")
    assert [m.group("name").split()[0] for m in found] == ["ari", "davi"]
