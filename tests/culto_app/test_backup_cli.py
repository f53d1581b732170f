"""``culto backup`` of a running ``culto up`` and ``culto restore`` into a fresh data directory:
the videos, their summaries, users, tokens and cursors are all back (real processes)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from culto_app.instance import read_credentials
from mesh.connection import MeshConnection
from mesh.cursors import CursorStore
from mesh.permissions import inbox_prefix
from tests.support import CULTO, CultoProcess, SyncClient, culto_env

pytestmark = pytest.mark.timeout(180)

PASSWORD = "a long enough password"
SERMON = "Irmãos, abram em João 3:16. Deus amou o mundo. A fé vem pelo ouvir, Romanos 10:17."


def culto(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CULTO, *args],
        env=culto_env(data),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def start(data: Path) -> tuple[CultoProcess, str]:
    proc = CultoProcess(["up", "--port", "0"], culto_env(data))
    try:
        url = proc.wait_for(r"frontend on (http://localhost:\d+)", 60).group(1)
    except BaseException:
        proc.stop()
        raise
    return proc, url


def stop(proc: CultoProcess) -> None:
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.output


class Bearer(SyncClient):
    """A program's client: a bearer token, no cookies or XSRF needed."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(base)
        self.opener.addheaders = [("Authorization", f"Bearer {token}")]
        self.token = "unused"  # bearer requests need no XSRF token


def wait_until(check: object, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        time.sleep(0.1)


async def stored_cursor(data: Path, user_id: str, name: str) -> int | None:
    """The cursor as stored in the instance's KV bucket (read as its ``api`` NATS user)."""
    url = (data / "nats.url").read_text(encoding="utf-8").strip()
    creds = read_credentials(data)["api"]
    async with MeshConnection(
        url, name="test-backup", credentials=creds, inbox_prefix=inbox_prefix("api")
    ) as mesh:
        return await CursorStore(mesh).read(user_id, name)


def test_backup_of_a_running_instance_restores_into_a_fresh_one(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    proc, url = start(first)
    try:
        added = culto(first, "user", "add", "pastor@example.org", "--admin", stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        user_id = added.stdout.split()[0]
        made = culto(first, "token", "create", "pastor@example.org", "--scope", "admin")
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip().splitlines()[-1]
        client = Bearer(url, token)
        wait_until(lambda: client.call("GET", "/api/v2/auth/me")[0] == 200, what="token known")
        body = {"title": "Culto de domingo", "transcript": {"format": "txt", "content": SERMON}}
        status, video = client.call("POST", "/api/v2/videos/", body)
        assert status == 201, video
        path = f"/api/v2/videos/{video['id']}"
        wait_until(lambda: client.call("GET", path)[1]["status"] == "PROCESSED", what="processed")
        summary = client.call("GET", path)[1]["summary"]
        assert summary["passages"], summary
        assert client.call("POST", "/api/v2/events/ack", {"cursor": "inbox", "seq": 2})[0] == 204
        wait_until(
            lambda: asyncio.run(stored_cursor(first, user_id, "inbox")) == 2, what="cursor stored"
        )

        backup = culto(first, "backup", str(tmp_path / "backup"))  # while it serves
        assert backup.returncode == 0, backup.stderr
        assert "CULTO_EVENTS: " in backup.stderr and "backup of 10 streams" in backup.stderr
        manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
        assert {s["name"] for s in manifest["streams"]} >= {"CULTO_EVENTS", "KV_culto_videos"}
        again = culto(first, "backup", str(tmp_path / "backup"))
        assert again.returncode == 2 and "not an empty directory" in again.stderr
        for _ in range(2):  # what the Kubernetes CronJob runs: a dated directory, old ones pruned
            dated = culto(
                first, "backup", str(tmp_path / "auto" / "%Y%m%dT%H%M%S.%fZ"), "--keep", "1"
            )
            assert dated.returncode == 0, dated.stderr
        assert len(list((tmp_path / "auto").iterdir())) == 1
        refused = culto(first, "restore", str(tmp_path / "backup"))
        assert refused.returncode == 2 and "running 'culto up'" in refused.stderr
    finally:
        if proc.proc.poll() is None:
            stop(proc)
        proc.stop()

    not_empty = culto(first, "restore", str(tmp_path / "backup"))
    assert not_empty.returncode == 2 and "not empty" in not_empty.stderr, not_empty.stderr
    restored = culto(second, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    assert "restored 10 streams" in restored.stderr

    proc, url = start(second)
    try:
        assert "first run" not in proc.output  # the users came back: no new admin
        client = Bearer(url, token)
        wait_until(lambda: client.call("GET", "/api/v2/auth/me")[0] == 200, what="token back")
        status, back = client.call("GET", path)
        assert status == 200 and back["status"] == "PROCESSED", back
        assert back["summary"] == summary
        browser = SyncClient(url)
        login = {"email": "pastor@example.org", "password": PASSWORD}
        assert browser.call("POST", "/api/v2/auth/login", login)[0] == 204
        assert asyncio.run(stored_cursor(second, user_id, "inbox")) == 2
        listed = client.call("GET", "/api/v2/videos/")[1]
        assert [v["id"] for v in listed["items"]] == [video["id"]]
    finally:
        stop(proc)
        proc.stop()


def test_restore_refuses_a_damaged_backup_before_touching_anything(tmp_path: Path) -> None:
    missing = culto(tmp_path / "data", "restore", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "manifest.json" in missing.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text('{"format": "other"}')
    wrong = culto(tmp_path / "data", "restore", str(tmp_path / "bad"))
    assert wrong.returncode == 2 and "not a culto backup" in wrong.stderr
    assert not (tmp_path / "data").exists()  # no server was started for a bad backup
