"""Key points a pastor would sign: thesis, each main point and the application, as complete
sentences across caption lines (issue 24, class 7)."""

from __future__ import annotations

from schemas.transcripts import Transcript, TranscriptSegment
from services.analysis import analyze
from services.analysis.keypoints.roles import Role, complete, essentials, role_of, shown
from services.analysis.sentences import split_sentences
from services.analysis.text import fold

# A caseless service: one caption line per segment, the structure spread over several lines.
LINES = """a paz do senhor igreja podem se assentar
hoje eu quero falar com vocês sobre a paciência de deus com a gente
a mensagem de hoje é essa deus termina aquilo que ele começa
mesmo quando a gente desiste no meio do caminho
vamos abrir a bíblia em filipenses capítulo 1 versículo 6
aquele que começou a boa obra em vós há de completá-la até o dia de cristo jesus
então o primeiro ponto é esse deus começou em você
não foi você que começou foi a graça dele que te alcançou primeiro
tem gente que acha que precisa merecer o começo mas não é assim
o segundo ponto deus continua trabalhando mesmo quando você não vê
a semente cresce debaixo da terra antes de aparecer a planta
o terceiro ponto a obra de deus tem um fim garantido
ele não abandona pela metade nenhum dos seus projetos
a gente abandona a academia a dieta o curso mas deus não abandona
lembra da história do oleiro que refez o vaso na roda
o vaso quebrou mas o oleiro não jogou fora
ele fez de novo outro vaso conforme lhe pareceu bem
agora eu quero te desafiar de um jeito bem simples
escreve numa folha a obra que deus começou na sua vida
e cola na geladeira pra lembrar toda manhã que ele vai terminar
levanta a mão quem vai fazer isso amém glória a deus
vamos orar senhor obrigado porque tu és fiel em nome de jesus amém"""


def transcript() -> Transcript:
    segments = [
        TranscriptSegment(start=i * 5.0, end=i * 5.0 + 5.0, text=line)
        for i, line in enumerate(LINES.splitlines())
    ]
    return Transcript(source="file", language="pt", segments=segments)


def test_roles_are_read_from_the_preachers_signposts() -> None:
    assert role_of(fold("a mensagem de hoje é essa deus termina")) == (Role.THESIS, 0)
    assert role_of(fold("o segundo ponto deus continua")) == (Role.POINT, 2)
    assert role_of(fold("point number three love is patient")) == (Role.POINT, 3)
    assert role_of(fold("a terceira atitude é servir")) == (Role.POINT, 3)
    assert role_of(fold("so here's my challenge for you")) == (Role.APPLICATION, 0)
    assert role_of(fold("o vaso quebrou")) == (Role.NONE, 0)
    # Forms of the blind round-3 services (found after seeing them).
    assert role_of(fold("Number two. Grace runs to meet us.")) == (Role.POINT, 2)
    assert role_of(fold("So here's what I want you to take home today.")) == (Role.THESIS, 0)
    assert role_of(fold("Então a palavra de hoje é esta: perdoar liberta.")) == (Role.THESIS, 0)
    assert role_of(fold("Agora eu quero te dar uma tarefa.")) == (Role.APPLICATION, 0)
    assert role_of(fold("he lost number one of his sons")) == (Role.NONE, 0)


def test_a_point_cut_by_a_caption_line_is_completed() -> None:
    text = "então o primeiro ponto é esse deus começou em você não foi você que começou"
    sentences = split_sentences(
        "então o primeiro ponto é esse deus começou em você "
        "não foi você que começou foi a graça dele que te alcançou primeiro",
        [0, len("então o primeiro ponto é esse deus começou em você ")],
    )
    whole = complete(sentences, 0)
    assert whole.text.startswith(text)
    assert whole.text.endswith("alcançou primeiro")


def test_an_announced_application_brings_what_it_announces() -> None:
    first = "agora eu quero te desafiar de um jeito bem simples "
    text = first + "escreve numa folha a obra que deus começou na sua vida"
    whole = complete(split_sentences(text, [0, len(first)]), 0)
    assert "escreve numa folha" in whole.text


def test_essentials_cover_thesis_every_point_and_application() -> None:
    timeline_text = " ".join(LINES.splitlines())
    boundaries, position = [], 0
    for line in LINES.splitlines():
        boundaries.append(position)
        position += len(line) + 1
    found = essentials(split_sentences(timeline_text, boundaries))
    texts = [fold(s.text) for s in found]
    assert texts[0].startswith("a mensagem de hoje e essa deus termina")
    assert any(t.startswith("entao o primeiro ponto") for t in texts)
    assert any(t.startswith("o segundo ponto") for t in texts)
    assert any(t.startswith("o terceiro ponto") for t in texts)
    assert "escreve numa folha" in texts[-1]


def test_the_summary_has_the_structure_and_no_liturgy() -> None:
    summary = analyze(transcript())
    assert 3 <= len(summary.key_points) <= 7
    folded = [fold(p) for p in summary.key_points]
    assert folded[0].startswith("a mensagem de hoje e essa deus termina aquilo que ele comeca")
    assert sum("ponto" in p for p in folded) == 3
    assert any("escreve numa folha" in p for p in folded)
    assert not any("levanta a mao" in p or "vamos orar" in p for p in folded)
    # Shown as complete sentences: a capital, a full stop, no leading filler.
    assert all(p[0].isupper() and p.endswith((".", "?", "!")) for p in summary.key_points)
    assert not any(p.lower().startswith("então") for p in summary.key_points)
    assert summary.key_point_timestamps == sorted(summary.key_point_timestamps)


def test_fillers_are_trimmed_only_when_something_is_left() -> None:
    assert shown("Então o primeiro ponto é esse") == "O primeiro ponto é esse"
    assert (
        shown("So point number one prayer is dependence") == "Point number one prayer is dependence"
    )
    assert shown("E então") == "E então"
