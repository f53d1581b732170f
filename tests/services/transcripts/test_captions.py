"""Caption markup cleaning and rolling-caption de-duplication."""

from __future__ import annotations

import pytest

from services.transcripts.captions import (
    Cue,
    clean_line,
    cues_to_segments,
    dedupe_rolling,
    looks_rolling,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<v Pr. Ana>Graça</v>", "Graça"),
        ("<c.colorE5E5E5>fé</c><00:00:01.500><c> e</c> obras", "fé e obras"),
        ("&lt;3 &amp;&nbsp;&quot;x&quot;", '<3 & "x"'),
        ("{\\an8}{\\i1}topo{\\i0}", "topo"),
        ('<font color="#fff">Salmo</font>   <i>23</i>', "Salmo 23"),
        ("<ruby>漢<rt>kan</rt></ruby>", "漢"),
        ("   ", ""),
    ],
)
def test_clean_line(raw: str, clean: str) -> None:
    assert clean_line(raw) == clean


def _cues(*texts: str) -> list[Cue]:
    return [Cue(float(i), float(i + 1), t.split("|")) for i, t in enumerate(texts)]


def test_two_line_rolling_window() -> None:
    cues = _cues("a b", "a b|c d", "c d|e f", "e f|g h")
    assert looks_rolling(cues)
    out = dedupe_rolling(cues)
    assert [(c.start, c.text) for c in out] == [
        (0.0, "a b"),
        (1.0, "c d"),
        (2.0, "e f"),
        (3.0, "g h"),
    ]
    assert out[-1].end == 4.0


def test_three_line_window_and_exact_repeats_extend_the_end() -> None:
    cues = _cues("um", "um|dois", "um|dois|três", "um|dois|três", "dois|três|quatro")
    out = dedupe_rolling(cues)
    assert [c.text for c in out] == ["um", "dois", "três", "quatro"]
    assert out[2].end == 4.0  # the repeated cue ended at 4


def test_word_growth_keeps_first_start() -> None:
    cues = _cues("Deus", "Deus é", "Deus é amor", "Deus é amor|sempre")
    out = dedupe_rolling(cues)
    assert [(c.start, c.end, c.text) for c in out] == [
        (0.0, 3.0, "Deus é amor"),
        (3.0, 4.0, "sempre"),
    ]


def test_ordinary_subtitles_are_not_rolling() -> None:
    cues = _cues("Amém.", "Amém.", "Vamos orar.", "Pai nosso.", "Que estás no céu.")
    assert not looks_rolling(cues)
    assert len(cues_to_segments(cues)) == 5


def test_single_cue_and_empty_cues() -> None:
    assert not looks_rolling(_cues("só"))
    segments = cues_to_segments([Cue(0, 1, []), Cue(1, 2, ["x"])])
    assert [(s.start, s.text) for s in segments] == [(1.0, "x")]


def test_dedupe_can_be_disabled() -> None:
    cues = _cues("a", "a|b", "b|c", "c|d")
    assert len(cues_to_segments(cues, dedupe=False)) == 4
    assert " ".join(s.text for s in cues_to_segments(cues)) == "a b c d"
