"""The wheel the image installs is complete: built, as the Dockerfile builds it, from exactly the
files ``.dockerignore`` lets into the build context, it holds every file of the Python packages
that git tracks (the frontend once crashed in the image on a static file that was a symlink into
``docs/``, which the build context leaves out). No container engine needed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("culto", "culto_app", "schemas", "mesh", "access", "services", "frontend_server", "ops")


def _pattern(glob: str) -> re.Pattern[str]:
    """A ``.dockerignore`` pattern (Go ``filepath.Match`` plus ``**``) as a regex."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            if glob.startswith("/", i):  # "**/x" also matches "x" at the top
                out[-1] = "(?:.*/)?"
                i += 1
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[":
            end = glob.index("]", i)
            out.append(glob[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


@cache
def _rules() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    rules = []
    for raw in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _pattern(line.lstrip("!").strip("/"))))
    return tuple(rules)


def excluded(path: str) -> bool:
    """Whether Docker leaves ``path`` (relative, posix) out of the build context: the last rule
    matching the path or one of its parent directories decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for keep, regex in _rules():
        if any(regex.fullmatch(p) for p in prefixes):
            verdict = not keep
    return verdict


def _tracked() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30
    )
    return [p for p in result.stdout.decode().split("\0") if p]


def test_the_matcher_reads_dockerignore_as_docker_does() -> None:
    assert excluded("docs/integration.md")  # "docs"
    assert excluded("tests/support.py")
    assert excluded("mesh/__pycache__/x.cpython-311.pyc")  # "**/__pycache__"
    assert excluded("deep/a/b.pyc")  # "**/*.py[cod]"
    assert not excluded("frontend_server/static/app.js")
    assert not excluded("pyproject.toml") and not excluded("README.md")


@pytest.mark.timeout(120)
def test_the_wheel_built_from_the_docker_context_holds_every_package_file(
    tmp_path: Path,
) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("needs the git checkout (git ls-files) to know the package files")
    tracked = _tracked()
    context = tmp_path / "context"
    for path in tracked:
        if excluded(path) or (not (REPO / path).exists() and not (REPO / path).is_symlink()):
            continue
        target = context / path
        target.parent.mkdir(parents=True, exist_ok=True)
        # As Docker's COPY: a symlink stays a symlink (and dangles if its target was left out).
        shutil.copy2(REPO / path, target, follow_symlinks=False)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(wheels), str(context)],
        check=True, capture_output=True, timeout=110,
    )  # fmt: skip
    (wheel,) = wheels.glob("culto_mesh-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [p for p in tracked if p.split("/", 1)[0] in PACKAGES]
    assert [p for p in wanted if p not in names] == []
    static = "frontend_server/static/integration.md"
    assert zipfile.ZipFile(wheel).read(static) == (REPO / static).read_bytes()


def test_no_package_file_is_a_symlink() -> None:
    # A symlink out of a package points at what the build context or an sdist may not carry.
    links = [p for p in _tracked() if p.split("/", 1)[0] in PACKAGES and (REPO / p).is_symlink()]
    assert links == []


def test_the_served_integration_guide_is_the_documented_one() -> None:
    # docs/integration.md is what people read on the repository; the frontend serves the copy
    # inside its package. After editing the guide: cp docs/integration.md frontend_server/static/
    served = REPO / "frontend_server" / "static" / "integration.md"
    assert served.read_bytes() == (REPO / "docs" / "integration.md").read_bytes()
