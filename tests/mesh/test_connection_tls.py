"""TLS to NATS without log noise: asyncio's ``returning true from eof_received() has no effect
when using ssl`` (logged by nats-py's TLS upgrade on every disconnect; see
:data:`mesh.connection.TLS_EOF_NOISE`) is reproduced with a bare nats-py client, then shown
gone for :class:`MeshConnection`, and the filter drops that one message only."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
from pathlib import Path

import nats
import pytest

from mesh.connection import TLS_EOF_NOISE, MeshConnection, TlsEofNoiseFilter
from mesh.embedded import EmbeddedNatsServer
from tests.support import eventually, make_test_ca

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl makes the test certificates"
)


def _tls_server(tmp_path: Path, name: str) -> EmbeddedNatsServer:
    certs = tmp_path / "certs"
    if not (certs / "ca.crt").exists():
        make_test_ca(certs, "culto-test-ca")
    conf = tmp_path / f"{name}.conf"
    conf.write_text(
        "tls {\n"
        f'  cert_file: "{certs / "tls.crt"}"\n'
        f'  key_file: "{certs / "tls.key"}"\n'
        f'  ca_file: "{certs / "ca.crt"}"\n'
        "}\n"
    )
    return EmbeddedNatsServer(store_dir=tmp_path / name, config_file=conf)


def _noise(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == TLS_EOF_NOISE]


@pytest.mark.timeout(60)
async def test_a_server_closing_a_tls_connection_logs_no_asyncio_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING)
    asyncio_log = logging.getLogger("asyncio")
    # The cause, with the filter out of the way (another test may have installed it).
    monkeypatch.setattr(
        asyncio_log,
        "filters",
        [f for f in asyncio_log.filters if not isinstance(f, TlsEofNoiseFilter)],
    )
    ca = tmp_path / "certs" / "ca.crt"
    async with _tls_server(tmp_path, "bare") as server:
        context = ssl.create_default_context(cafile=str(ca))
        nc = await nats.connect(
            f"tls://localhost:{server.client_port}", tls=context, allow_reconnect=False
        )
    await eventually(lambda: nc.is_closed, timeout=15, what="the bare client sees the close")
    await eventually(lambda: bool(_noise(caplog)), timeout=5, what="asyncio's warning")
    caplog.clear()

    # MeshConnection: the same server going away, not a word from asyncio.
    async with _tls_server(tmp_path, "mesh") as server:
        mesh = MeshConnection(f"tls://localhost:{server.client_port}", name="t", tls_ca=ca)
        await mesh.open()
        assert mesh.is_connected
    try:
        await eventually(lambda: not mesh.is_connected, timeout=15, what="the disconnect")
        await asyncio.sleep(0.5)  # the warning would follow the disconnect at once
        assert _noise(caplog) == []
    finally:
        await mesh.close()


def test_the_filter_drops_that_message_only() -> None:
    drop = TlsEofNoiseFilter()

    def record(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None, None)

    assert drop.filter(record("asyncio", TLS_EOF_NOISE)) is False
    assert drop.filter(record("asyncio", "Unclosed connection")) is True
    assert drop.filter(record("asyncio", TLS_EOF_NOISE + " (really)")) is True
    assert drop.filter(record("mesh.connection", TLS_EOF_NOISE)) is True
