"""Quoted authors in lower-case captions: author and quoted words (issue 24, class 5)."""

from __future__ import annotations

import re

import pytest

from services.analysis.citations import find_citations


def caption(text: str, words_per_line: int = 9) -> tuple[str, list[int]]:
    """The text and caption-line starts every ``words_per_line`` words, as captions come."""
    starts = [m.start() for i, m in enumerate(re.finditer(r"\S+", text)) if i % words_per_line == 0]
    return text, starts


@pytest.mark.parametrize(
    ("text", "author", "quote_start"),
    [
        # Introduced, then an author outside the table of known authors.
        (
            "e como escreveu francis collins a ciência não ameaça a fé de ninguém",
            "Francis Collins",
            "a ciência não ameaça",
        ),
        (
            "like vance havner said the devil is not afraid of a dusty bible",
            "Vance Havner",
            "the devil is not afraid",
        ),
        (
            "as lysa terkeurst puts it we can be honest and still be hopeful",
            "Lysa Terkeurst",
            "we can be honest",
        ),
        # Known authors with the initials and speech verbs captions give them.
        (
            "r c sproul disse certa vez que deus não é um avô bonzinho",
            "R. C. Sproul",
            "deus não é um avô",
        ),
        (
            "o pastor ricardo gondim falou uma vez que a fé amadurece na dúvida",
            "Ricardo Gondim",
            "a fé amadurece",
        ),
        (
            "john newton costumava dizer que era um grande pecador e cristo um grande salvador",
            "John Newton",
            "era um grande pecador",
        ),
        (
            "como dizia a w tozer a adoração é a joia que falta na igreja",
            "A. W. Tozer",
            "a adoração é a joia",
        ),
    ],
)
def test_lower_case_author_and_quote(text: str, author: str, quote_start: str) -> None:
    found = find_citations(*caption(text))
    assert [c.author for c in found] == [author]
    assert found[0].text.lower().startswith(quote_start)


@pytest.mark.parametrize(
    "text",
    [
        "como disse jesus no sermão do monte bem-aventurados os pacificadores",
        "as paul said in romans we are more than conquerors",
        "como disse minha mãe ontem a comida tá pronta",
        "like my friend said we need each other more than ever",
        "e como disse o profeta isaías o povo andava em trevas",
    ],
)
def test_scripture_and_family_are_not_quoted_authors(text: str) -> None:
    assert find_citations(*caption(text)) == []
