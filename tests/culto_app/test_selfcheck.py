"""``culto selfcheck`` (what the image runs at build time): every role starts against a
throwaway nats-server, answers probes while waiting, becomes ready after provisioning and
serves its documents; a failure is one line naming what failed, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import CultoProcess, culto_env


@pytest.mark.timeout(120)
def test_selfcheck_starts_every_role_and_leaves_nothing_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = CultoProcess(["selfcheck"], culto_env(data))
    try:
        assert proc.wait(100) == 0, proc.output
    finally:
        proc.stop()
    out = proc.output
    assert "waiting for provisioning" in out  # the roles were probed before provisioning
    assert "stream CULTO_EVENTS: created" in out
    assert "selfcheck: frontend, api and worker ready" in out
    assert "selfcheck passed" in out
    assert list(data.iterdir()) == []  # CULTO_DATA_DIR was only checked for writing


@pytest.mark.timeout(60)
def test_selfcheck_fails_in_one_line_on_an_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = CultoProcess(["selfcheck"], culto_env(blocker / "data"))
    try:
        assert proc.wait(30) == 2
    finally:
        proc.stop()
    assert f"culto: error: CULTO_DATA_DIR {blocker / 'data'} is not writable" in proc.output
