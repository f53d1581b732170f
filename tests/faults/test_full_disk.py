"""A full disk under ``culto up``'s JetStream store (issue 9, defect 9): a clear 507, red
readiness, and recovery by itself once space is freed."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import CultoProcess, SyncClient, culto_env

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

SERMON = "Irmãos, a fé vem pelo ouvir, e o ouvir pela palavra de Deus: Romanos 10:17.\n"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MiB tmpfs (needs root and mount rights; skipped where the machine has neither)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


class Client(SyncClient):
    """The test's client, with its two shortcuts."""

    def submit(self, size: int) -> tuple[int, dict[str, object]]:
        content = SERMON * max(1, size // len(SERMON.encode()))
        body = {"title": "Vigília", "transcript": {"format": "txt", "content": content}}
        return self.call("POST", "/api/v2/videos/", body)

    def until_processed(self, video: dict[str, object], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.call("GET", f"/api/v2/videos/{video['id']}")[1].get("status") != "PROCESSED":
            assert time.monotonic() < deadline, "not PROCESSED in time"
            time.sleep(0.2)


def fill(path: Path) -> None:
    with path.open("wb") as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 2**20)
            filler.flush()


def test_full_disk_is_a_clear_507_red_readiness_and_recovers_by_itself(
    small_disk: Path,
) -> None:
    proc = CultoProcess(["up", "--port", "0"], culto_env(small_disk / "data"))
    try:
        base = proc.wait_for(r"frontend on (http://\S+)").group(1)
        client = Client(base)
        client.sign_in_once(proc.wait_for(r"first run: .*").group(0))
        status, video = client.submit(2_000)
        assert status == 201, video
        client.until_processed(video)

        filler = small_disk / "filler"
        fill(filler)
        started = time.monotonic()
        outcomes: list[int] = []
        while time.monotonic() - started < 90:
            status, body = client.submit(200_000)
            outcomes.append(status)
            if status == 507:
                break
            fill(small_disk / f"filler{len(outcomes)}")  # space freed by a failed write
        assert outcomes[-1] == 507, (outcomes, proc.output[-3000:])
        error = body["error"]
        assert isinstance(error, dict) and error["code"] == "storage_full"
        assert "disk is full" in str(error["message"])
        ready, report = client.call("GET", "/ready")
        assert ready == 503 and report["checks"]["storage_ok"] is False  # type: ignore[index]
        assert client.call("GET", "/health")[0] == 200  # alive: a full disk is not a crash

        for spare in small_disk.glob("filler*"):
            spare.unlink()
        deadline = time.monotonic() + 60
        while client.call("GET", "/ready")[0] != 200:
            assert time.monotonic() < deadline, proc.output[-3000:]
            time.sleep(0.5)
        status, video = client.submit(2_000)
        assert status == 201, video
        client.until_processed(video)
        assert "Traceback" not in proc.output
    finally:
        proc.stop()
