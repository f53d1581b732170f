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


def test_a_debt_that_could_never_be_paid_is_grace() -> None:
    """Round 4: the cancelled debt a sermon circles is grace, in both languages."""
    pt = (
        "O servo devia uma fortuna, uma dívida que ele nunca ia conseguir pagar. E a dívida foi "
        "cancelada. É isso que Deus fez: perdoou uma dívida que nós nunca poderíamos pagar. "
    )
    assert "Graça" in themes(pt, "pt")
    en = (
        "He owed a debt we could never pay. We could never repay it, and the debt was cancelled "
        "at the cross. You will never pay it back, and you do not have to. "
    )
    assert "Grace" in themes(en, "en")


def test_keeping_score_and_grudges_are_forgiveness() -> None:
    """Forgiveness named by what it ends: keeping score, grudges, letting someone off the hook."""
    en = (
        "Some of us keep score in our marriages. We hold a grudge for years and we keep a record "
        "of wrongs. Think of the one who hurt you. Today you can let them off the hook. "
    )
    assert "Forgiveness" in themes(en, "en")
    pt = (
        "Tem gente que vive de guardar rancor. Pense em quem te machucou, em quem te feriu. O "
        "rancor prende você, não a outra pessoa. "
    )
    assert "Perdão" in themes(pt, "pt")


def test_hurt_and_pain_turned_to_purpose_are_healing() -> None:
    """Inner healing: being hurt ("machucou", the EN lexicon's "hurt") and God turning pain
    into purpose."""
    pt = (
        "Aquela pessoa te machucou muito. Você ainda está machucada. Mas Deus transforma a dor "
        "em propósito, ele não desperdiça nada. "
    )
    assert "Cura" in themes(pt, "pt")
    en = "God turns pain into purpose. He binds up the brokenhearted. Your pain into purpose. "
    assert "Healing" in themes(en, "en")


def test_idioms_that_are_not_forgiveness() -> None:
    """A phone ringing off the hook or a game's score in an illustration is not a theme."""
    text = (
        "The phone was ringing off the hook all week. At the game my son likes to keep score. "
        + "But tonight we talk about prayer, and prayer changes things. We pray and we pray. " * 4
    )
    assert "Forgiveness" not in themes(text, "en", repeat=1)
    work = "A obra vai transformar a sala. " * 3 + "Vamos orar pela obra e orar pela igreja. "
    assert not {"Perdão", "Cura"} & set(themes(work, "pt"))
