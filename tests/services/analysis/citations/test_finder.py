"""Attributed quotations."""

from __future__ import annotations

import pytest

from services.analysis.citations import find_citations


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(c.author, c.text) for c in find_citations(text)]


@pytest.mark.parametrize(
    ("text", "author", "quote"),
    [
        (
            'Como disse Agostinho, "nosso coração está inquieto enquanto não repousa em ti".',
            "Agostinho",
            "nosso coração está inquieto enquanto não repousa em ti",
        ),
        (
            "Como dizia C. S. Lewis: a oração não muda Deus, ela muda a mim.",
            "C. S. Lewis",
            "a oração não muda Deus, ela muda a mim",
        ),
        (
            "E Spurgeon disse que a fé pequena levará a sua alma ao céu.",
            "Spurgeon",
            "a fé pequena levará a sua alma ao céu",
        ),
        (
            "Nas palavras de Dietrich Bonhoeffer, a graça barata é inimiga mortal da igreja.",
            "Dietrich Bonhoeffer",
            "a graça barata é inimiga mortal da igreja",
        ),
        (
            "Como já dizia o pastor Hernandes Dias Lopes, quem não ora não tem poder.",
            "Hernandes Dias Lopes",
            "quem não ora não tem poder",
        ),
        (
            "As C. S. Lewis wrote, you are never too old to set another goal.",
            "C. S. Lewis",
            "you are never too old to set another goal",
        ),
        (
            "Martin Luther once said the Christian life is a life of repentance.",
            "Martin Luther",
            "the Christian life is a life of repentance",
        ),
        (
            'In the words of Augustine, "you have made us for yourself, O Lord."',
            "Augustine",
            "you have made us for yourself, O Lord.",
        ),
        (
            "como disse agostinho, ama e faze o que quiseres.",
            "Agostinho",
            "ama e faze o que quiseres",
        ),
    ],
)
def test_attributed_quotations(text: str, author: str, quote: str) -> None:
    assert _pairs(text) == [(author, quote)]


@pytest.mark.parametrize(
    "text",
    [
        "Jesus disse que devemos amar os nossos inimigos.",
        "Como disse o apóstolo Paulo, tudo posso naquele que me fortalece.",
        "Como disse Paulo aos Romanos, nada nos separa do amor de Deus.",
        "Então Deus disse: haja luz no meio das trevas.",
        "Maria disse que vinha hoje mesmo para o culto.",
        "Irmão João, você disse que ia orar por mim hoje.",
        "o pastor disse que Deus é bom o tempo todo.",
        "Ele disse que a igreja estava cheia naquele dia.",
        "As John wrote, God is love and whoever abides in love abides in God.",
        "Como disse a irmã Maria, a comida está pronta no salão.",
    ],
)
def test_scripture_people_and_pronouns_are_not_authors(text: str) -> None:
    assert _pairs(text) == []


def test_offsets_order_and_deduplication() -> None:
    text = (
        "Spurgeon disse que a oração move o braço de Deus. Depois, C. S. Lewis escreveu: "
        "o orgulho é o estado mental anti-Deus. Spurgeon disse que a oração move o braço de Deus."
    )
    found = find_citations(text)
    assert [c.author for c in found] == ["Spurgeon", "C. S. Lewis"]
    assert text[found[1].start :].startswith("C. S. Lewis")


def test_too_short_quotes_are_ignored() -> None:
    assert _pairs("Como disse Spurgeon, amém.") == []


def test_unpunctuated_captions_need_a_known_author_and_get_a_bounded_quote() -> None:
    text = (
        "como disse agostinho a fé é crer no que não vemos e a recompensa da fé é ver aquilo "
        "em que cremos abraão creu em deus quando tudo parecia impossível e isso lhe foi "
        "imputado como justiça diante de todos"
    )
    (citation,) = find_citations(text)
    assert citation.author == "Agostinho"
    assert citation.text.startswith("a fé é crer no que não vemos")
    assert len(citation.text.split()) <= 30
    assert _pairs("como disse Pedro Henrique que vinha amanhã cedo para cá") == []


def test_known_authors_are_shown_in_their_canonical_spelling() -> None:
    assert _pairs("as cs lewis wrote pride is the complete anti-God state of mind") == [
        ("C. S. Lewis", "pride is the complete anti-God state of mind")
    ]
    assert _pairs("Como disse Agostinho de Hipona, a fé precede o entendimento.") == [
        ("Agostinho de Hipona", "a fé precede o entendimento")
    ]
