"""6. What the schema validators and linters cannot see, the image: the Dockerfile's shape and
what .dockerignore keeps out."""

from __future__ import annotations

import re

from k8s_support import (
    REPO,
)


def _final_stage(dockerfile: str) -> str:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]


def test_dockerfile_shape() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    # The base is an argument (CI passes a locally built one) whose default is pinned.
    base = re.search(r"^ARG BASE=(\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base.group(1)), "pin the base"
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(froms) >= 2, "multi-stage build"
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", text, re.MULTILINE))
    for image in froms:
        assert image == "${BASE}" or image in stages, f"every stage from the pinned base: {image}"
    final = _final_stage(text)
    assert re.search(r"^USER \d+:\d+$", final, re.MULTILINE), "numeric non-root USER"
    assert not re.search(r"^USER (0|root)", final, re.MULTILINE)
    # The image checks itself as that user by starting every role, not only `culto --help`.
    assert final.index('RUN ["culto", "selfcheck"]') > final.index("USER 10001")
    assert 'ENTRYPOINT ["culto"]' in final
    assert "HEALTHCHECK" in final
    for build_tool in ("gcc", "build-essential", "apt-get install", "git "):
        assert build_tool not in final


def test_dockerignore() -> None:
    entries = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tox", ".culto", "tests", "**/__pycache__"} <= entries
    assert "README.md" not in entries and "pyproject.toml" not in entries
