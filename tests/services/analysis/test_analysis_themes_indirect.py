"""Themes a listener names though the sermon circles them (issue 24, class 6)."""

from __future__ import annotations

from services.analysis.lexicon import THEMES
from services.analysis.text import tokens
from services.analysis.themes import extract_themes

# Trust, never the noun itself: handing over control, resting, depending on God.
PT_TRUST = (
    "Tem hora que a gente precisa entregar o controle. Você quer resolver tudo sozinho, mas "
    "Deus está dizendo: descansa no Senhor. Abrir mão do controle não é fraqueza. "
    "Quando a gente aprende a depender de Deus, a vida fica nas mãos dele e não nas nossas. "
    "Então entrega o teu caminho, lança sobre ele a tua ansiedade e descanse em Deus. "
    "Eu sei que é difícil largar o controle, mas quem está nas mãos de Deus está seguro. "
)
EN_TRUST = (
    "Some of you need to let go this morning. We hold on so tight, but God says rest in him. "
    "Letting go is not giving up; it is putting your life in his hands. When you depend on "
    "God you stop carrying what was never yours. Cast your cares, rest in God, and lean not "
    "on your own understanding. Surrender control and you will find you are in God's hands. "
)
# Grace by its description: unmerited favour, an unpayable debt, not by works.
PT_GRACE = (
    "Nós não merecemos nada disso. É favor imerecido, do começo ao fim. A nossa dívida era "
    "impagável, uma dívida impossível de pagar, e Deus pagou. Não por obras, para que ninguém "
    "se glorie. Você não merece, eu não mereço, e mesmo assim ele nos chamou de filhos. "
)


def themes(text: str, lang: str, repeat: int = 3) -> list[str]:
    return extract_themes(tokens(text * repeat), "pt" if lang == "pt" else "en")


def test_trust_is_a_theme_of_its_own() -> None:
    names = {t.id: t.names for t in THEMES}
    assert names["trust"] == {"pt": "Confiança", "en": "Trust"}


def test_handing_over_control_is_trust() -> None:
    assert themes(PT_TRUST, "pt")[0] == "Confiança"
    assert themes(EN_TRUST, "en")[0] == "Trust"


def test_unmerited_favour_is_grace() -> None:
    assert themes(PT_GRACE, "pt")[0] == "Graça"


def test_a_storm_sermon_is_about_suffering_and_hope() -> None:
    text = (
        "A tempestade chegou de repente. Talvez a sua tempestade seja um diagnóstico, o "
        "desemprego, uma crise no casamento. Mas a tempestade não é o fim da história. Os que "
        "esperam no Senhor renovam as suas forças, e a promessa de Deus continua de pé. "
    )
    found = themes(text, "pt")
    assert "Sofrimento" in found and "Esperança" in found


def test_a_passing_mention_is_still_not_a_theme() -> None:
    text = "O tema de hoje é a oração. " * 12 + "Eu preciso confiar no meu carro. "
    assert "Confiança" not in themes(text, "pt", repeat=1)


def test_worry_is_anxiety_and_a_quarrel_is_relationships() -> None:
    """Themes added after the blind round-3 services: a listener names them though the
    lexicon had only Peace for worry and nothing for a broken friendship."""
    worry = (
        "Quantas noites você ficou acordado preocupado com o dia de amanhã? A preocupação "
        "rouba o sono. Você fica inquieto, nervoso, ansioso com o que ainda nem aconteceu. "
    )
    assert "Ansiedade" in themes(worry, "pt")
    quarrel = (
        "Two brothers had a quarrel over the farm and stopped speaking for twenty years. The "
        "conflict split the family. One day one of them drove over to make peace with the "
        "other, and that friendship was reconciled. "
    )
    assert "Relationships" in themes(quarrel, "en")
    assert "Relationships" not in themes("We pray for one another and love each other. " * 4, "en")
