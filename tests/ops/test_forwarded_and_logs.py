"""Who the client is, and what of it reaches the logs (issue: hardening, finding 7).

Forwarded headers (``X-Real-IP``, ``X-Forwarded-For``, ``X-Forwarded-Proto``) count only when
the connection comes from a configured proxy (``TRUSTED_PROXIES``); client-supplied strings are
escaped before they are logged, so no request can forge a log line or colour a terminal.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from ops.http import printable
from ops.server import RunningServer
from services.api.service import VideoApiService
from tests.support import Http, StartEdge

SPOOFED = "203.0.113.9"


def _access_lines(caplog: pytest.LogCaptureFixture, path: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tornado.access" and path in r.getMessage()
    ]


async def test_forwarded_address_from_an_untrusted_peer_is_ignored(
    http: Http, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")
    headers = {"X-Real-IP": SPOOFED, "X-Forwarded-For": SPOOFED}
    response = await http.request("GET", "/health", headers=headers)
    assert response.code == 200
    (line,) = _access_lines(caplog, "/health")
    assert "(127.0.0.1)" in line and SPOOFED not in line


@pytest.mark.parametrize(
    ("trusted", "forwarded_for", "client"),
    [
        # The proxy appended the address it saw: the client's own claim on the left is ignored.
        (("127.0.0.1",), "198.51.100.7, 203.0.113.9", "203.0.113.9"),
        # A chain of trusted proxies (CIDR): the last hop that is not one of them.
        (("127.0.0.0/8", "203.0.113.0/24"), "198.51.100.7, 203.0.113.9", "198.51.100.7"),
    ],
)
async def test_forwarded_address_from_a_trusted_proxy_is_used(
    start_edge: StartEdge,
    caplog: pytest.LogCaptureFixture,
    trusted: tuple[str, ...],
    forwarded_for: str,
    client: str,
) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")
    server = await start_edge(trusted_proxies=trusted)
    http = Http(server.url)
    try:
        # X-Real-IP is the client's own invention here; X-Forwarded-For wins over it.
        headers = {"X-Forwarded-For": forwarded_for, "X-Real-IP": "192.0.2.66"}
        response = await http.request("GET", "/health", headers=headers)
        assert response.code == 200
    finally:
        http.close()
    (line,) = _access_lines(caplog, "/health")
    assert f"({client})" in line, line


async def test_x_real_ip_from_a_trusted_proxy_without_forwarded_for(
    start_edge: StartEdge, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tornado.access")
    server = await start_edge(trusted_proxies=("127.0.0.1/32",))
    http = Http(server.url)
    try:
        response = await http.request("GET", "/health", headers={"X-Real-IP": SPOOFED})
        assert response.code == 200
    finally:
        http.close()
    (line,) = _access_lines(caplog, "/health")
    assert f"({SPOOFED})" in line, line


FORGED = "\n\x1b[31mERROR forged line\x1b[0m"


def _forged_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every log message about the forged input: each must be one line of printable text."""
    messages = [r.getMessage() for r in caplog.records if "forged" in r.getMessage()]
    assert messages, "the forged request was not logged at all"
    for message in messages:
        # isprintable() is False for \n, \r, ESC, C1 controls (CSI \x9b, NEL \x85), U+2028...
        assert message.isprintable(), repr(message)
        assert len(message.splitlines()) == 1, repr(message)
    return messages


async def test_unknown_json_keys_are_escaped_in_logs(
    http: Http, api_service: VideoApiService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await http.send("POST", "/api/v2/videos/", {"youtube_id": "dQw4w9WgXcQ", FORGED: 1})
    assert response.code == 422
    messages = _forged_messages(caplog)
    # Still there, readable and escaped: operators see what was sent.
    assert any("\\n\\x1b[31mERROR forged line" in m for m in messages), messages


async def test_request_targets_are_escaped_in_logs(
    edge: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Percent-escapes stay encoded in logged paths; raw bytes are the danger: Tornado reads the
    # request line as Latin-1 and lets C1 controls through — CSI (\x9b, an 8-bit ANSI escape)
    # and NEL (\x85, a line break to Python's splitlines and to many log viewers).
    target = b"/static/%0A\x9b31mforged\x85ERROR-forged-line"
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    try:
        writer.write(
            b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    assert raw.startswith(b"HTTP/1.1 404"), raw[:100]
    messages = _forged_messages(caplog)
    assert any("\\x9b31mforged\\x85ERROR-forged-line" in m for m in messages), messages


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("/plain/path?q=1", "/plain/path?q=1"),
        ("a\nb\r\nc", "a\\nb\\r\\nc"),
        ("\x1b[2J\x9b31m", "\\x1b[2J\\x9b31m"),
        ("x\u2028y\u202ez\x85", "x\\u2028y\\u202ez\\x85"),
        ("C:\\n", "C:\\\\n"),  # a literal backslash-n is not confused with an escaped newline
        ("sermão", "sermão"),
    ],
)
def test_printable(raw: str, logged: str) -> None:
    assert printable(raw) == logged


def test_printable_bounds_the_length() -> None:
    assert printable("é" * 1000, limit=10) == "é" * 10 + "…[990 more]"
