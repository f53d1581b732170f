"""Theme lexicon, YAKE-style keywords and theme ranking."""

from __future__ import annotations

from services.analysis.keywords import extract_keywords
from services.analysis.lexicon import MATCHERS, THEMES
from services.analysis.sentences import split_sentences
from services.analysis.stopwords import stopwords_for
from services.analysis.text import tokens
from services.analysis.themes import MAX_THEMES, extract_themes, min_hits

PT = (
    "A oração muda o coração. Quando oramos, aprendemos a confiar. "
    "A fé cresce na oração, e quem ora com fé descansa em Deus. "
    "Jesus nos ensinou a orar e a perdoar. O perdão liberta a alma. "
    "Perdoar é difícil, mas o Senhor nos perdoou primeiro. "
    "A esperança não morre, porque a nossa esperança está em Cristo."
)
EN = (
    "Prayer changes the heart. When we pray, we learn to trust. Faith grows in prayer, "
    "and whoever prays in faith rests in God. Forgive as you have been forgiven; "
    "forgiveness sets the soul free. Our hope is in Christ, and that hope does not fail."
)


def test_every_theme_has_both_names() -> None:
    assert len(THEMES) >= 20
    for theme in THEMES:
        assert theme.names["pt"] and theme.names["en"]
    names = {t.id: t.names for t in THEMES}
    assert names["faith"] == {"pt": "Fé", "en": "Faith"}
    assert names["forgiveness"] == {"pt": "Perdão", "en": "Forgiveness"}


def test_matcher_handles_words_stems_phrases_and_ambiguity() -> None:
    matcher = MATCHERS["pt"]
    ids = [t.id for t in THEMES]
    counts = matcher.count(
        tokens("Fé, perdoou, perdoar, Espírito Santo, graças a Deus"), len(THEMES)
    )
    assert counts[ids.index("faith")] == 1
    assert counts[ids.index("forgiveness")] == 2
    assert counts[ids.index("holy_spirit")] == 1
    # "graças a Deus" is thanks, not grace.
    assert counts[ids.index("grace")] == 0


def test_portuguese_themes_in_portuguese() -> None:
    themes = extract_themes(tokens(PT), "pt")
    assert themes[0] == "Oração"
    assert {"Fé", "Perdão", "Esperança"} <= set(themes)


def test_english_themes_in_english() -> None:
    themes = extract_themes(tokens(EN), "en")
    assert {"Prayer", "Faith", "Forgiveness", "Hope"} <= set(themes)


def test_a_passing_mention_is_not_a_theme() -> None:
    text = "Hoje falamos do amor de Deus. " * 5 + "Ele também falou de fé uma vez."
    assert "Fé" not in extract_themes(tokens(text), "pt")
    assert extract_themes(tokens("Bom dia a todos, sentem-se."), "pt") == []


def test_title_can_promote_a_theme() -> None:
    text = "Hoje falamos do amor de Deus. " * 5 + "Ele também falou de fé uma vez."
    assert extract_themes(tokens(text), "pt", title="A fé que vence")[0] == "Fé"


def test_at_most_six_themes() -> None:
    text = " ".join(["fé oração graça esperança amor salvação família perdão pecado cruz paz"] * 5)
    assert len(extract_themes(tokens(text), "pt")) == MAX_THEMES


def test_min_hits_grows_with_length() -> None:
    assert min_hits(200) == 2
    assert min_hits(900) == 3
    assert min_hits(9000) > min_hits(2000)


def test_keywords_rank_content_words_not_stopwords_or_names() -> None:
    sentences = [s.text for s in split_sentences(PT)]
    keywords = extract_keywords(sentences, stopwords_for("pt"))
    words = [" ".join(k.words) for k in keywords]
    assert words
    assert not {"que", "de", "a", "o"} & set(words)
    assert "jesus" not in words and "cristo" not in words  # proper nouns are skipped
    assert any(w in {"oracao", "esperanca", "fe", "perdao"} for w in words[:8])
    assert [k.score for k in keywords] == sorted(k.score for k in keywords)


def test_keywords_of_nothing() -> None:
    assert extract_keywords([], stopwords_for("en")) == []
    assert extract_keywords(["the and of"], stopwords_for("en")) == []
