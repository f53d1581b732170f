"""Fuzz the HTTP API of a real ``culto up`` with schemathesis (the ``fuzz`` tox environment).

Starts ``culto up`` on free ports with a temporary data directory, then runs schemathesis twice
against its OpenAPI document with a fixed seed and a bounded number of examples per operation:
anonymously, and as the first-run admin's browser session (signed in with the one-time link
``culto up`` prints; the session cookie and its XSRF token). Every check is on: no 5xx,
responses match the document, schema-valid requests are accepted and invalid ones refused,
undeclared methods get 405. The event stream is left out: its response never ends by design
(tests/frontend_server/events/sse/test_handler.py covers it); so is the WebSocket, which
schemathesis cannot open (tests/frontend_server/events/ws/test_handler.py covers it). Exit
status 1 if either run fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = "1"
EXAMPLES = "6"


def start_culto_up(data_dir: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTO_", "PORT"))}
    # The fuzzer is one very busy client: lift the per-client rate limit, or most of its cases
    # would only see 429s.
    env.update(
        CULTO_DATA_DIR=str(data_dir),
        CULTO_NATS_PORT="0",
        CULTO_RATE_LIMIT="1000000",
        CULTO_RATE_BURST="1000000",
        CULTO_MAX_CONNECTIONS_PER_SECOND="1000000",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "culto_app.cli", "up", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        lines.append(line.rstrip())
        if match := re.search(r"frontend on (http://\S+)", line):
            # Keep reading: a pipe nobody reads would block culto up once full.
            threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
            return proc, match.group(1), lines
        if time.monotonic() > deadline:
            break
    proc.kill()
    sys.exit("fuzz: culto up did not start:\n" + "\n".join(lines[-20:]))


def browser_session(base: str, log: list[str]) -> list[str]:
    """schemathesis headers of the admin's browser session: signed in with the one-time link of
    the first run, then the session cookie and the XSRF token bound to it."""
    match = next((m for line in log if (m := re.search(r"login#once=([\w-]+)", line))), None)
    if match is None:
        sys.exit("fuzz: culto up printed no one-time login link")
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(method: str, path: str, body: object = None, token: str = "") -> bytes:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("X-XSRFToken", token)
        with opener.open(request, timeout=10) as response:
            return bytes(response.read())

    anonymous_token = json.loads(call("GET", "/api/v2/csrf"))["csrf_token"]
    call("POST", "/api/v2/auth/login", {"once": match.group(1)}, anonymous_token)
    deadline = time.monotonic() + 10
    while True:  # the edge learns the new session from KV within milliseconds
        try:
            call("GET", "/api/v2/auth/me")
            break
        except urllib.error.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    token = json.loads(call("GET", "/api/v2/csrf"))["csrf_token"]
    session = next(c.value for c in jar if c.name == "culto_session")
    # Signing out would end the session the rest of the run uses.
    return [
        "-H",
        f"X-XSRFToken: {token}",
        "-H",
        f"Cookie: culto_session={session}",
        "--exclude-path",
        "/api/v2/auth/logout",
    ]


def run_schemathesis(base: str, name: str, headers: list[str]) -> bool:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        base + "/api/v2/openapi.json",
        "--seed",
        SEED,
        "--max-examples",
        EXAMPLES,
        "--checks",
        "all",
        "--exclude-path",
        "/api/v2/events/stream",
        "--exclude-path",
        "/api/v2/events/ws",
        *headers,
    ]
    print(f"fuzz: {name} run", flush=True)
    return subprocess.run(command, check=False).returncode == 0


def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="culto-fuzz-"))
    proc, base, log = start_culto_up(data_dir)
    try:
        results = {
            "anonymous": run_schemathesis(base, "anonymous", []),
            "browser session": run_schemathesis(
                base, "browser session", browser_session(base, log)
            ),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)
    server_errors = [line for line in log if "Traceback" in line]
    for name, ok in results.items():
        print(f"fuzz: {name}: {'passed' if ok else 'FAILED'}")
    if server_errors:
        print("fuzz: culto up logged a traceback:\n" + "\n".join(server_errors[:20]))
    return 0 if all(results.values()) and not server_errors else 1


if __name__ == "__main__":
    sys.exit(main())
