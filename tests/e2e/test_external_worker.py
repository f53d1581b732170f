"""docs/integration.md section 7, run as written: a shell submits a video for external
processing and reports once with curl, then the guide's Python worker reports progress and a
summary, against a real ``culto up`` whose built-in workers must leave the video alone.

The blocks are taken from the guide itself (after their ``<!-- example: NAME -->`` markers);
the only change is the address, ``http://localhost:8000`` → this test's ``culto up``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, CultoFactory, bearer_call

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

GUIDE = ROOT / "docs" / "integration.md"
DOC_URL = "http://localhost:8000"


def example(name: str) -> str:
    """The fenced block that follows ``<!-- example: NAME -->`` in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)\n```", text, re.S)
    assert match, f"no example {name} in {GUIDE.name}"
    return match.group(1) + "\n"


def events_of(base: str, token: str, video_id: str, until: str) -> list[dict[str, Any]]:
    """Every stored event of ``video_id``, read back over SSE, up to the first ``until``."""
    request = urllib.request.Request(
        f"{base}/api/v2/events/stream?video_id={video_id}&last_event_id=0",
        headers={"Authorization": f"Bearer {token}"},
    )
    found: list[dict[str, Any]] = []
    with urllib.request.urlopen(request, timeout=30) as stream:
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event["type"] != "heartbeat":
                    found.append(event)
                if event["type"] == until:
                    return found
    raise AssertionError(f"the stream ended before {until}: {found}")


def test_the_guides_external_worker_runs_as_written(culto_up: CultoFactory, tmp_path: Path) -> None:
    up = culto_up()
    admin = up.member(admin=True)
    (tmp_path / "worker.py").write_text(example("worker.py"), encoding="utf-8")
    script = example("external-worker.sh").replace(DOC_URL, up.url)
    # `culto` is this checkout's CLI, run by the test's interpreter (no install on PATH).
    prelude = f'culto() {{ {shlex.quote(sys.executable)} -m culto_app.cli "$@"; }}\n'
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTO_"))}
    env.update(CULTO_DATA_DIR=str(up.data), PYTHONPATH=str(ROOT))
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", prelude + script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert run.returncode == 0, (run.stdout, run.stderr)
    replies = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["duplicate"] for r in replies] == [False, False], run.stdout  # curl, worker

    status, page = bearer_call(up.url, admin.token, "GET", "/api/v2/videos/?limit=200")
    assert status == 200
    (video,) = [v for v in page["items"] if v["title"] == "Culto de quarta"]
    assert (video["status"], video["processing"]) == ("PROCESSED", "external")
    assert video["summary"]["speaker"] == "Pr. João Silva"
    assert [p["reference"] for p in video["summary"]["passages"]] == ["João 3:16"]

    events = events_of(up.url, admin.token, video["id"], until="summary.ready")
    said = [(e["type"], e.get("status"), e.get("progress"), e.get("message")) for e in events]
    # Only what the external worker reported: no built-in worker fetched, retried or analysed.
    assert said == [
        ("video.status", "QUEUED", 0, "Waiting for the external worker's first report"),
        ("video.status", "PROCESSING", 5, "Starting"),
        ("video.status", "PROCESSING", 10, "Downloading: 10 %"),
        ("video.status", "PROCESSING", 40, "Transcribing: 40 %"),
        ("video.status", "PROCESSING", 80, "Analysing: 80 %"),
        ("video.status", "PROCESSED", 100, "Processing complete"),
        ("summary.ready", None, None, None),
    ], said
