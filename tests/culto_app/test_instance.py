"""One ``culto up`` per data directory; the port probe sees ports as nats-server does."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from culto.errors import ConfigError
from culto_app.instance import (
    CREDENTIALS_FILE,
    data_dir_lock,
    embedded_credentials,
    port_free,
    read_credentials,
    write_server_config,
)


def _time_wait_port() -> int:
    """A port whose server side closed a connection first: it stays in TIME_WAIT."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first: its side goes to TIME_WAIT
        client.recv(1)
        client.close()
    return port


def test_a_port_in_time_wait_is_free_for_a_restart() -> None:
    # Regression (issue 9, defect 6): the probe bound without SO_REUSEADDR, so a quick restart
    # saw its own old port as busy and moved NATS to a random one.
    port = _time_wait_port()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the old probe did
    assert port_free(port)


def test_a_listening_port_is_busy() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not port_free(int(listener.getsockname()[1]))


def test_the_lock_refuses_a_second_holder_and_is_released(tmp_path: Path) -> None:
    with data_dir_lock(tmp_path):
        assert (tmp_path / "culto.lock").read_text().strip() == str(os.getpid())
        refused = pytest.raises(ConfigError, match=r"^CULTO_DATA_DIR: .* in use .*\(pid \d+\)")
        with refused, data_dir_lock(tmp_path):
            pass
    with data_dir_lock(tmp_path):  # released when the holder ends
        pass


def test_embedded_credentials_are_generated_once_owner_only(tmp_path: Path) -> None:
    first = embedded_credentials(tmp_path)
    assert sorted(first) == ["admin", "api", "frontend", "provision", "tail", "worker"]
    assert all(c.user == role for role, c in first.items())
    path = tmp_path / CREDENTIALS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    assert embedded_credentials(tmp_path) == first == read_credentials(tmp_path)  # kept
    assert path.stat().st_mode & 0o777 == 0o600  # tightened again
    conf = write_server_config(tmp_path, first)
    assert conf.stat().st_mode & 0o777 == 0o600
    assert first["worker"].password in conf.read_text()
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"^CULTO_DATA_DIR: cannot read .*delete it"):
        read_credentials(tmp_path)
