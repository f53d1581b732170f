"""Whole-service ASR-style sermons (``tests/data/asr/sermons``), scored against their gold files."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.analysis.evaluation import SermonReport, score_sermon

SERMONS = Path(__file__).resolve().parents[2] / "data" / "asr" / "sermons"
NAMES = ("pt_sermao_1", "pt_sermao_2", "en_sermon_1")


@pytest.fixture(scope="module", params=NAMES)
def report(request: pytest.FixtureRequest) -> SermonReport:
    name = str(request.param)
    return score_sermon(SERMONS / f"{name}.txt", SERMONS / f"{name}.gold.json")


def test_speaker_is_right(report: SermonReport) -> None:
    assert report.speaker_ok, report.speaker


def test_every_gold_citation_is_found(report: SermonReport) -> None:
    assert report.citations_missed == []


def test_themes_are_canonical(report: SermonReport) -> None:
    assert report.themes
    assert report.non_canonical == []


def test_key_points_hit_key_lines_and_never_liturgy(report: SermonReport) -> None:
    assert report.key_lines
    assert report.non_key_hits == 0, report.key_lines
    assert report.key_hits >= 1


def test_passages(report: SermonReport) -> None:
    assert report.passage_precision >= 0.97, report.extra_passages
    assert report.passage_recall >= 0.95, report.missed_passages
