"""TextRank key points."""

from __future__ import annotations

from pathlib import Path

from services.analysis.keypoints import is_boilerplate, select_key_points, target_count
from services.analysis.sentences import split_sentences
from services.analysis.stopwords import stopwords_for

SERMONS = Path(__file__).resolve().parents[3] / "data" / "sermons"


def _load(name: str) -> str:
    return " ".join((SERMONS / name).read_text(encoding="utf-8").splitlines())


def test_portuguese_key_points_are_real_mid_length_sentences() -> None:
    text = _load("pt_fe_que_vence.txt")
    sentences = split_sentences(text)
    points = select_key_points(sentences, stopwords_for("pt"))
    assert 3 <= len(points) <= 7
    for point in points:
        assert point.text in text
        assert 6 <= point.words <= 60
        assert not is_boilerplate(point.text, point.words)
    assert [p.start for p in points] == sorted(p.start for p in points)
    assert any("fé" in p.text for p in points)


def test_english_key_points() -> None:
    text = _load("en_grace_that_forgives.txt")
    points = select_key_points(split_sentences(text), stopwords_for("en"))
    assert 3 <= len(points) <= 7
    assert all(p.text in text for p in points)
    assert any("grace" in p.text.lower() for p in points)


def test_greetings_announcements_and_prayers_are_skipped() -> None:
    for text in (
        "Bom dia, igreja, sejam todos muito bem-vindos nesta manhã abençoada!",
        "Não esqueçam de se inscrever no nosso canal e deixar o seu like.",
        "Please turn with me in your Bibles to the Gospel of John.",
        "Senhor, aumenta a nossa fé e nos ensina a confiar em ti sempre.",
        "Amém, igreja? Glória a Deus!",
        "Next Sunday we will have the baptism service after lunch.",
    ):
        assert is_boilerplate(text, len(text.split())), text
    long_amen = "E essa é a graça de Deus que nos alcança todos os dias da nossa vida, amém?"
    assert not is_boilerplate(long_amen, len(long_amen.split()))


def test_count_scales_with_length_within_bounds() -> None:
    assert target_count(1) == 1
    assert target_count(10) == 3
    assert target_count(100) == 5
    assert target_count(1000) == 7


def test_short_text_gives_what_it_has() -> None:
    text = "Deus é amor e o amor de Deus nunca falha conosco. Bom dia!"
    points = select_key_points(split_sentences(text), stopwords_for("pt"))
    assert [p.text for p in points] == ["Deus é amor e o amor de Deus nunca falha conosco."]
    assert select_key_points([], stopwords_for("pt")) == []


def test_redundant_sentences_are_not_all_picked() -> None:
    repeated = "A fé verdadeira confia em Deus mesmo na tempestade da vida. " * 10
    varied = (
        "A oração sincera aproxima o coração do Pai celestial. "
        "O perdão restaura famílias que estavam quebradas pelo pecado. "
        "A esperança cristã olha para a ressurreição de Cristo. "
    )
    points = select_key_points(split_sentences(repeated + varied), stopwords_for("pt"))
    texts = [p.text for p in points]
    assert len(texts) == 3
    assert len(set(texts)) == len(texts)
    assert texts.count("A fé verdadeira confia em Deus mesmo na tempestade da vida.") == 1
