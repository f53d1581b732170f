"""The ``culto`` command line, run as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NatsProcess
from tests.support import SyncClient

CULTO = [sys.executable, "-m", "culto_app.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTO_"))}
    env.update({"CULTO_DATA_DIR": str(tmp_path / "data"), "CULTO_NATS_PORT": "0"}, **extra)
    env.pop("PORT", None)
    return env


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CULTO + args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


Up = tuple[subprocess.Popen[str], str, SyncClient]


@pytest.fixture
def culto_up(tmp_path: Path) -> Iterator[Up]:
    """A first run of ``culto up``: the process, its frontend URL, and a browser signed in as
    the admin with the one-time link it printed."""
    proc = subprocess.Popen(
        [*CULTO, "up", "--port", "0"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not url:
        line = proc.stderr.readline()
        if not line:
            break
        if match := re.search(r"frontend on (http://\S+)", line):
            url = match.group(1)
    assert url, "culto up did not report its frontend URL"
    link = proc.stderr.readline()  # printed right after the URL on a first run
    browser = SyncClient(url)
    browser.sign_in_once(link)
    yield proc, url, browser
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()


@pytest.mark.timeout(90)
def test_culto_up_processes_a_video_and_stops_cleanly_on_sigterm(
    culto_up: Up,
) -> None:
    proc, url, browser = culto_up
    status, video = browser.call(
        "POST",
        "/api/v2/videos/",
        {
            "title": "Culto de domingo - Pr. João Silva",
            "transcript": {
                "format": "txt",
                "content": "Irmãos, abram em João 3:16. Deus amou o mundo. A fé vem pelo ouvir.",
            },
        },
    )
    assert status == 201, video
    assert isinstance(video, dict) and video["status"] == "QUEUED"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, current = browser.call("GET", f"/api/v2/videos/{video['id']}")
        assert status == 200 and isinstance(current, dict)
        if current["status"] in ("PROCESSED", "FAILED"):
            break
        time.sleep(0.1)
    assert current["status"] == "PROCESSED", current
    assert current["summary"]["word_count"] > 5

    # What operators watch, on the one port of 'culto up' (issue 13): the job's duration by
    # outcome, each stage's duration, the backlog, and the workers.
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'culto_job_duration_seconds_count{outcome="processed"} 1.0' in metrics
    for stage in ("fetch", "transcribe", "analyse"):
        assert f'culto_stage_duration_seconds_count{{stage="{stage}"}} 1.0' in metrics, stage
    assert "culto_jobs_waiting " in metrics and "culto_jobs_oldest_age_seconds " in metrics
    assert "culto_worker_count 1.0" in metrics and "culto_worker_busy " in metrics
    assert "culto_sse_replay_duration_seconds_bucket" in metrics

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    rest = proc.stderr.read()  # type: ignore[union-attr]
    assert "culto: stopped" in rest and "Traceback" not in rest
    # Every role ran as its own NATS user and none needed a subject it is not granted.
    assert "Violation" not in rest and "Plaintext passwords" not in rest, rest


@pytest.mark.timeout(90)
def test_culto_up_runs_nats_with_a_user_per_role_and_refuses_wrong_credentials(
    culto_up: Up, tmp_path: Path
) -> None:
    proc, _, _ = culto_up
    data = tmp_path / "data"
    creds_file, conf_file = data / "nats-credentials.json", data / "nats-server.conf"
    for path in (creds_file, conf_file):
        assert path.stat().st_mode & 0o777 == 0o600, path
    users = json.loads(creds_file.read_text())
    assert sorted(users) == ["admin", "api", "frontend", "provision", "tail", "worker"]
    assert len({u["password"] for u in users.values()}) == 6
    nats_url = (data / "nats.url").read_text().strip()
    # Each role connects with its own user; the frontend's user is refused the API's role.
    wrong = _env(tmp_path, NATS_URL=nats_url, NATS_USER="api", NATS_PASSWORD="wrong-password")
    for command in (["provision"], ["api"], ["tail"]):
        result = run(command, wrong, timeout=30)
        assert result.returncode == 2, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("culto: error: NATS_USER/NATS_PASSWORD: NATS at"), lines
        assert "wrong-password" not in result.stderr and "Traceback" not in result.stderr
    anonymous = run(["provision"], _env(tmp_path, NATS_URL=nats_url), timeout=30)
    assert anonymous.returncode == 2 and "NATS_USER/NATS_PASSWORD" in anonymous.stderr
    # The right password works: provisioning as the provision user changes nothing.
    admin = users["provision"]
    env = _env(tmp_path, NATS_URL=nats_url, NATS_USER="provision", NATS_PASSWORD=admin["password"])
    result = run(["provision"], env, timeout=30)
    assert result.returncode == 0 and "stream CULTO_EVENTS: unchanged" in result.stdout, result
    # ... but the frontend's user may not provision.
    env.update(NATS_USER="frontend", NATS_PASSWORD=users["frontend"]["password"])
    result = run(["provision"], env, timeout=30)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_provision_prints_steps(nats_server: NatsProcess, tmp_path: Path) -> None:
    result = run(["provision"], _env(tmp_path, NATS_URL=nats_server.url))
    assert result.returncode == 0, result.stderr
    assert "stream CULTO_EVENTS:" in result.stdout and "kv culto_videos:" in result.stdout


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"NATS_URL": "http://x"}, "NATS_URL"), ({"PORT": "x"}, "PORT"), ({}, "COOKIE_SECRET")],
)
def test_bad_config_fails_at_start_naming_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    base = _env(tmp_path, NATS_URL="nats://127.0.0.1:1")
    if variable != "COOKIE_SECRET":
        base["COOKIE_SECRET"] = "a-long-enough-cookie-secret"
    result = run(["frontend"], {**base, **env}, timeout=20)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"culto: error: {variable}:"), lines


def test_unreachable_nats_says_what_to_do(tmp_path: Path) -> None:
    env = _env(tmp_path, NATS_URL="nats://127.0.0.1:1")
    result = run(["provision"], env, timeout=30)
    assert result.returncode == 2
    assert "cannot connect to NATS" in result.stderr and "NATS_URL" in result.stderr


def test_tail_prints_history_and_refuses_bad_ids(nats_server: NatsProcess, tmp_path: Path) -> None:
    env = _env(tmp_path, NATS_URL=nats_server.url, CULTO_ENV="dev")
    bad = run(["tail", "--video", "a.*"], env, timeout=20)
    assert bad.returncode == 2 and "is not a video id" in bad.stderr

    from schemas import new_video_id

    vid = new_video_id()
    # The session's server holds the streams only if an earlier test provisioned them.
    assert run(["provision"], env, timeout=60).returncode == 0
    publish = (
        "import asyncio, sys\n"
        "from mesh import MeshConnection, EventPublisher\n"
        "from schemas import VideoStatusEventDTO\n"
        "async def main():\n"
        "    async with MeshConnection(sys.argv[1], name='t') as m:\n"
        "        for p in (10, 20):\n"
        "            await EventPublisher(m).publish(VideoStatusEventDTO(\n"
        "                video_id=sys.argv[2], status='PROCESSING', progress=p),\n"
        "                channel_id='default')\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", publish, nats_server.url, vid], check=True, timeout=30)
    proc = subprocess.Popen(
        [*CULTO, "tail", "--raw", "--video", vid.upper(), "--since", "1"],  # any id case
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline(), proc.stdout.readline()]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    proc.stdout.close()
    proc.stderr.close()  # type: ignore[union-attr]
    assert all(f"\t{vid}\tvideo.status\t" in line for line in lines)
    assert '"progress":10' in lines[0] and '"progress":20' in lines[1]


@pytest.mark.timeout(90)
def test_tail_finds_culto_up_and_prints_readable_lines(culto_up: Up, tmp_path: Path) -> None:
    proc, url, browser = culto_up
    assert url.startswith("http://localhost:")  # what a cross-origin page must call
    announced = tmp_path / "data" / "nats.url"
    assert announced.read_text().startswith("nats://127.0.0.1:")
    env = _env(tmp_path)  # no NATS_URL: tail reads CULTO_DATA_DIR/nats.url
    tail = subprocess.Popen(
        [*CULTO, "tail"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert tail.stdout is not None and tail.stderr is not None
    assert "waiting for events" in tail.stderr.readline()
    body = {"title": "Culto de sábado", "transcript": {"content": "Leiam João 3:16 comigo."}}
    assert browser.call("POST", "/api/v2/videos/", body)[0] == 201
    lines: list[str] = []
    while not any("SUMMARY" in line for line in lines):
        lines.append(tail.stdout.readline())
    tail.send_signal(signal.SIGINT)
    assert tail.wait(timeout=15) == 0
    rest = tail.stderr.read()
    tail.stdout.close()
    tail.stderr.close()
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    assert re.match(r"\d\d:\d\d:\d\d  Culto de sábado +QUEUED +0%", lines[0]), lines
    assert any(re.search(r"Culto de sábado +PROCESSED +100%", line) for line in lines), lines

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert not announced.exists()  # removed when culto up stops
    gone = run(["tail"], env, timeout=20)
    assert gone.returncode == 2 and "no running 'culto up' was found" in gone.stderr
