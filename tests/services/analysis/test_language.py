"""Portuguese/English detection by stop-word ratios."""

from __future__ import annotations

import pytest

from services.analysis.language import detect_language, language_scores

PT = "Irmãos, a graça de Deus não é um prêmio para os fortes, mas um presente para nós."
EN = "Brothers and sisters, the grace of God is not a prize for the strong but a gift for us."


def test_detects_portuguese_and_english() -> None:
    assert detect_language(PT) == "pt"
    assert detect_language(EN) == "en"


def test_scores_count_language_specific_words() -> None:
    pt, en = language_scores(PT)
    assert pt > en
    pt, en = language_scores(EN)
    assert en > pt


def test_unaccented_captions_are_still_portuguese() -> None:
    assert detect_language("entao a gente nao pode desistir da fe porque deus e fiel") == "pt"


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [("Amém! Amém!", "en-US", "en"), ("Hallelujah!", "pt-BR", "pt"), ("123 456", None, "pt")],
)
def test_hint_decides_when_evidence_is_thin(text: str, hint: str | None, expected: str) -> None:
    assert detect_language(text, hint) == expected


def test_hint_does_not_override_clear_evidence() -> None:
    assert detect_language(EN, "pt") == "en"
