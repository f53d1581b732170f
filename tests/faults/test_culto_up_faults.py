"""Faults of ``culto up`` on real processes: kill -9, a second instance, a dead nats-server,
SIGTERM while NATS is unreachable (issue 9, defects 4-7)."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import start_nats
from tests.support import CultoProcess, children, culto_env, pid_alive

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def until(predicate: object, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def processes() -> Iterator[list[CultoProcess]]:
    started: list[CultoProcess] = []
    yield started
    for proc in started:
        proc.stop()


def up(processes: list[CultoProcess], env: dict[str, str]) -> tuple[CultoProcess, str]:
    proc = CultoProcess(["up", "--port", "0"], env)
    processes.append(proc)
    url = proc.wait_for(r"frontend on (http://\S+)").group(1)
    return proc, url


def nats_child(proc: CultoProcess) -> int:
    (pid,) = [c for c in children(proc.proc.pid) if "nats-server" in _cmdline(c)]
    return pid


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except FileNotFoundError:
        return ""


def test_second_culto_up_on_the_same_data_dir_refuses_in_one_line(
    tmp_path: Path, processes: list[CultoProcess]
) -> None:
    env = culto_env(tmp_path / "data")
    first, _ = up(processes, env)
    second = CultoProcess(["up", "--port", "0"], env)
    processes.append(second)
    assert second.wait(30) == 2
    assert second.lines == [
        f"culto: error: CULTO_DATA_DIR: {tmp_path / 'data'} is in use by another 'culto up'"
        f" (pid {first.proc.pid}); stop it first, or set another CULTO_DATA_DIR"
    ]
    assert first.proc.poll() is None  # the first one is untouched


def test_kill9_takes_nats_server_along_and_a_restart_keeps_the_nats_port(
    tmp_path: Path, processes: list[CultoProcess]
) -> None:
    port = free_port()
    env = culto_env(tmp_path / "data", CULTO_NATS_PORT=str(port))
    first, _ = up(processes, env)
    server = nats_child(first)
    first.proc.send_signal(signal.SIGKILL)
    first.wait(10)
    # The child dies with its parent (PDEATHSIG), so nothing keeps the store or the port.
    until(lambda: not pid_alive(server), 15, "the orphaned nats-server to exit")
    second, url = up(processes, env)  # at once: TIME_WAIT sockets must not move the port
    assert f"NATS at nats://127.0.0.1:{port}" in second.output
    assert "is busy" not in second.output
    assert get(f"{url}/ready")[0] == 200


def test_dead_embedded_server_is_restarted_on_its_port_and_health_says_so(
    tmp_path: Path, processes: list[CultoProcess]
) -> None:
    port = free_port()
    env = culto_env(tmp_path / "data", CULTO_NATS_PORT=str(port))
    proc, url = up(processes, env)
    mark = len(proc.lines)
    os.kill(nats_child(proc), signal.SIGKILL)
    proc.wait_for(
        r"embedded nats-server restarted at nats://127\.0\.0\.1:" + str(port), 30, start=mark
    )
    until(lambda: get(f"{url}/ready")[0] == 200, 30, "ready again")
    assert get(f"{url}/health") == (200, {"status": "ok"})
    assert get(f"{url}/api/v2/videos/")[0] == 200
    assert proc.proc.poll() is None
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert "Traceback" not in proc.output


def test_sigterm_while_nats_is_unreachable_exits_cleanly(
    tmp_path: Path, processes: list[CultoProcess]
) -> None:
    nats = start_nats(tmp_path / "js")
    try:
        proc, url = up(processes, culto_env(tmp_path / "data", NATS_URL=nats.url))
        nats.kill()
        until(lambda: get(f"{url}/ready")[0] == 503, 30, "not ready")
        status, body = get(f"{url}/api/v2/videos/")
        assert status == 503, body  # fails fast while NATS is known to be down
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.output
        assert "Traceback" not in proc.output
        assert "culto: stopped" in proc.output
    finally:
        nats.stop()
