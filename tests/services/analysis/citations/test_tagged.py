"""Quotations after a phrase about the author or tagged by a pronoun (found on the blind
round-3 services; issue 24, class 5)."""

from __future__ import annotations

import pytest

from services.analysis.citations import find_citations


@pytest.mark.parametrize(
    ("text", "author", "quote_start"),
    [
        (
            "O Jerry Bridges, um autor americano muito lido, tem uma frase que eu amo: a graça "
            "de Deus é para os dias bons e para os ruins.",
            "Jerry Bridges",
            "a graça de Deus",
        ),
        (
            "Hudson Taylor, the missionary to China, said late in his life, God's work done in "
            "God's way will never lack God's supply.",
            "Hudson Taylor",
            "God's work done",
        ),
        (
            "A Madre Teresa, aquela freira que cuidava dos pobres em Calcutá, dizia que o amor "
            "começa em casa.",
            "Madre Teresa",
            "o amor começa em casa",
        ),
        (
            "Charles Spurgeon preached to thousands every week in London. He once said that a "
            "Bible that is falling apart usually belongs to someone who is not.",
            "Charles Spurgeon",
            "a Bible that is falling apart",
        ),
    ],
)
def test_appositive_and_pronoun_tagged_quotations(text: str, author: str, quote_start: str) -> None:
    found = find_citations(text)
    assert [c.author for c in found] == [author]
    assert found[0].text.startswith(quote_start)


def test_a_pronoun_after_an_unknown_person_quotes_no_one() -> None:
    text = (
        "Meu vizinho perdeu o emprego no ano passado. Ele disse que nunca mais ia confiar em "
        "ninguém."
    )
    assert find_citations(text) == []


def test_the_quote_may_start_after_a_full_stop_where_the_speaker_paused() -> None:
    text = (
        "Amy Carmichael, who spent fifty years in India, wrote near the end of her life. You "
        "can give without loving, but you cannot love without giving."
    )
    found = find_citations(text)
    assert [c.author for c in found] == ["Amy Carmichael"]
    assert found[0].text.startswith("You can give without loving")


@pytest.mark.parametrize(
    ("heard", "author"),
    [("Philip Yansey", "Philip Yancey"), ("John Stot", "John Stott"), ("Max Lucada", "Max Lucado")],
)
def test_a_surname_misheard_by_one_letter_is_the_known_author(heard: str, author: str) -> None:
    """Seen in the audio runs: Whisper writes "Philip Yansey" for Philip Yancey."""
    found = find_citations(f"{heard} wrote that grace is the last best word in the language.")
    assert [c.author for c in found] == [author]


def test_another_person_with_a_known_first_name_stays_themself() -> None:
    found = find_citations("Tim Kelly said that the gospel is the best news in the world.")
    assert [c.author for c in found] == ["Tim Kelly"]
