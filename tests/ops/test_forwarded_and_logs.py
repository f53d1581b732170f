"""Who the client is, and what of it reaches the logs (issue: hardening, finding 7).

Forwarded headers (``X-Real-IP``, ``X-Forwarded-For``, ``X-Forwarded-Proto``) count only when
the connection comes from a configured proxy (``TRUSTED_PROXIES``); client-supplied strings are
escaped before they are logged, so no request can forge a log line or colour a terminal.
"""

from __future__ import annotations

import logging

import pytest

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
