"""Analysis of caseless captions: speaker, citations, key-point cues and restored capitals.

The examples are our own (not from the blind ASR corpus).
"""

from __future__ import annotations

from services.analysis.citations import find_citations
from services.analysis.keypoints.cues import cue_weights, is_liturgy, is_prayer
from services.analysis.speaker import find_speaker
from services.analysis.speaker.caseless import caseless_speaker
from services.analysis.text import fold
from services.analysis.truecase import restore


def _boundaries(lines: list[str]) -> tuple[str, list[int]]:
    text = " ".join(lines)
    starts, position = [], 0
    for line in lines:
        starts.append(position)
        position += len(line) + 1
    return text, starts[1:]


# --- speaker -------------------------------------------------------------------------------------


def test_self_introduction_as_preacher_beats_the_host() -> None:
    opening = (
        "boa tarde igreja eu sou o diácono paulo henrique e vou conduzir o culto hoje "
        "nosso pastor titular o pastor anselmo tá de férias "
        "recebam com alegria o bispo otávio ramos "
        "a graça e a paz meu nome é bispo otávio ramos e eu sirvo em salvador"
    )
    assert find_speaker(opening) == "Bispo Otávio Ramos"


def test_english_caseless_introduction() -> None:
    opening = (
        "welcome everybody my name is jim and i'm one of the elders "
        "pastor dave is traveling "
        "hi church i'm pastor lena ortiz and i serve as lead pastor at river church"
    )
    assert caseless_speaker(opening) == "Pastor Lena Ortiz"


def test_welcome_alone_names_the_preacher() -> None:
    assert caseless_speaker("please help me welcome pastor tom reed good morning") == (
        "Pastor Tom Reed"
    )


def test_no_caseless_speaker_without_a_titled_name() -> None:
    assert caseless_speaker("bom dia igreja o pastor disse que hoje tem ceia") is None
    assert caseless_speaker("meu nome é pastor jesus") is None


# --- citations -----------------------------------------------------------------------------------


def test_caseless_full_name_before_a_quoting_verb() -> None:
    text, bounds = _boundaries(
        [
            "e a corrie ten boom once said never be afraid to trust",
            "an unknown future to a known god",
            "and the doctor said it was nothing",
        ]
    )
    found = find_citations(text, bounds)
    assert [(c.author, c.text.split()[:3]) for c in found] == [
        ("Corrie ten Boom", ["never", "be", "afraid"])
    ]


def test_caseless_unknown_author_needs_two_name_words() -> None:
    text, bounds = _boundaries(
        [
            "richard wurmbrand put it this way the prison was my parish",
            "and in that cell he learned to sing",
            "o médico escreveu que eu precisava de repouso",
        ]
    )
    authors = [c.author for c in find_citations(text, bounds)]
    assert authors == ["Richard Wurmbrand"]


def test_saying_tagged_after_goes_to_the_person_last_named() -> None:
    text, bounds = _boundaries(
        [
            "minha tia dona cida costurava pra fora a vida inteira",
            "e quando faltava dinheiro ela não reclamava",
            "deus nunca atrasa ele só não corre ela dizia",
            "e eu nunca esqueci disso",
        ]
    )
    (citation,) = find_citations(text, bounds)
    assert citation.author == "Dona Cida"
    assert citation.text.startswith("deus nunca atrasa")


def test_tag_after_without_a_named_person_is_not_a_citation() -> None:
    text, bounds = _boundaries(["ele olhou pro mar e ficou em silêncio", "tá tudo bem ele disse"])
    assert find_citations(text, bounds) == []


# --- key-point cues -----------------------------------------------------------------------------


def test_liturgy_and_prayer_are_recognised() -> None:
    for line in (
        "quem concorda levanta a mão e diz amém",
        "give the lord a hand clap church",
        "vamos cantar o hino 40 todos de pé",
        "and i serve at grace chapel downtown",
    ):
        assert is_liturgy(fold(line)), line
    assert is_prayer(fold("senhor nós te louvamos por essa manhã"))
    assert is_prayer(fold("father we thank you for your word"))
    assert not is_prayer(fold("o senhor jesus ensinou os discípulos a orar"))


def test_thesis_points_and_recap_are_weighted() -> None:
    sentences = [
        "a mensagem de hoje é essa deus não desiste de você",
        "uma ilustração qualquer sobre o mercado",
        "o segundo ponto é a graça nos alcança",
        "então resumindo",
        "deus não desiste de você",
        "a graça nos alcança",
        "quero te desafiar a orar todo dia",
    ]
    weights = cue_weights([fold(s) for s in sentences])
    assert weights[0] > weights[1] == 1.0
    assert weights[2] > 1.0
    assert weights[3] == 1.0  # the transition itself
    assert weights[4] > 1.0 and weights[5] > 1.0
    assert weights[6] > 1.0


# --- restored capitals -------------------------------------------------------------------------


def test_restore_capitals_and_stop() -> None:
    assert restore("a fé olha para jesus e não para o vento", "pt") == (
        "A fé olha para Jesus e não para o vento."
    )
    assert restore("i know that god hears us on monday", "en") == (
        "I know that God hears us on Monday."
    )
    assert restore("será que deus esqueceu de mim", "pt").endswith("?")
    assert restore("quem não perdoa fica preso", "pt").endswith(".")
    assert restore("leia primeira coríntios 13 4", "pt") == "Leia Primeira Coríntios 13 4."
    assert restore("como diz romanos 8 28 tudo coopera", "pt") == (
        "Como diz Romanos 8 28 tudo coopera."
    )
    assert restore("já tem ponto.", "pt") == "Já tem ponto."
