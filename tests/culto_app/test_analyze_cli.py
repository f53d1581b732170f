"""``culto analyze``: a SummaryDTO on stdout, or one line and exit 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from schemas import SummaryDTO

DATA = Path(__file__).resolve().parents[1] / "data" / "sermons"


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "culto_app.cli", "analyze", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_portuguese_sermon_gives_a_full_summary() -> None:
    result = analyze(str(DATA / "pt_fe_que_vence.txt"))
    assert result.returncode == 0, result.stderr
    summary = SummaryDTO.model_validate_json(result.stdout)
    assert summary.language == "pt" and summary.word_count > 500
    assert summary.passages and all(p.book_id and p.chapter for p in summary.passages)
    assert summary.themes and 3 <= len(summary.key_points) <= 7


def test_vtt_with_language_flag(tmp_path: Path) -> None:
    path = tmp_path / "culto.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nToday we read John 3:16 and Romans 8:28.\n\n"
        "00:00:05.000 --> 00:00:09.000\nGrace and faith carry us; hope does not disappoint.\n"
    )
    result = analyze(str(path), "--lang", "en")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["language"] == "en"
    assert [p["book_id"] for p in summary["passages"]] == ["JHN", "ROM"]
    assert summary["passages"][0]["timestamps"] == [1.0]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.txt", b"   \n\n", "empty"),
        ("binary.txt", b"\x00\x01\x02\x03" * 100, "binary"),
        ("latin1.txt", "Pregação sobre fé".encode("latin-1"), "UTF-8"),
        ("bad.vtt", b"not a webvtt file\n", "WEBVTT"),
        ("bad.srt", b"1\n00:00:01,000 -> nonsense\nHello\n", "line"),
        ("notes.pdf", b"%PDF-1.4", "unsupported file type"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = analyze(str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("culto: error: "), result.stderr
    assert expected.lower() in lines[0].lower()
    assert result.stdout == ""


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    missing = analyze(str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "cannot read file" in missing.stderr
    big = tmp_path / "big.txt"
    big.write_bytes(b"palavra " * 700_000)
    result = subprocess.run(
        [sys.executable, "-m", "culto_app.cli", "analyze", str(big)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"CULTO_MAX_TRANSCRIPT_BYTES": "1000000", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "limit" in result.stderr and len(result.stderr.strip().splitlines()) == 1
