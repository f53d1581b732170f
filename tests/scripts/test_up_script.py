"""The README's first command, ``scripts/up``, around its install step.

The install itself needs PyPI, so ``PYTHON`` points at a stand-in that makes a venv whose
``culto`` echoes its arguments; the script under test is the real one.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
# Stands in for `python3 -m venv DIR`: a venv whose pip is a no-op and whose culto echoes.
[ "$1 $2" = "-m venv" ] || exit 9
mkdir -p "$3/bin" || exit 8
printf '#!/bin/sh\\nexit 0\\n' > "$3/bin/python"
printf '#!/bin/sh\\necho "culto $*"\\n' > "$3/bin/culto"
chmod +x "$3/bin/python" "$3/bin/culto"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A minimal copy of the repository: the real script and a pyproject.toml."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "up", tmp_path / "scripts" / "up")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return tmp_path


def _run_up(checkout: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "up"), "--port", "8123"],
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(checkout / "fake-python")},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def test_first_run_installs_then_runs_culto_up(checkout: Path) -> None:
    result = _run_up(checkout)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "culto up --port 8123"
    assert "installing into ./.venv" in result.stderr
    assert (checkout / ".venv" / ".installed").is_file()
    again = _run_up(checkout)
    assert again.returncode == 0 and "installing" not in again.stderr


def test_a_tox_venv_redirect_file_does_not_block_the_install(checkout: Path) -> None:
    """Regression: after a test run, ./.venv was tox's redirect file and venv creation failed."""
    (checkout / ".venv").write_text(".tox/py\n")
    result = _run_up(checkout)
    assert result.returncode == 0, result.stderr
    assert "removing the .venv redirect file left by tox" in result.stderr
    assert (checkout / ".venv").is_dir()
    assert result.stdout.strip() == "culto up --port 8123"


def test_tox_does_not_write_a_venv_redirect() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "tox.ini")
    assert config.getboolean("tox", "venv_redirect") is False
