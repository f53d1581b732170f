"""Headers every response carries (issue: hardening, finding 8): no ``Server`` banner,
``X-Content-Type-Options: nosniff``, ``Referrer-Policy``; ``Secure`` cookies under HTTPS."""

from __future__ import annotations

import asyncio

import pytest
from tornado.httpclient import HTTPResponse

from ops.server import RunningServer
from services.api.service import VideoApiService
from tests.frontend_server.sse_client import SSEClient
from tests.support import ALLOWED_ORIGIN, Http, StartEdge

# One request per kind of handler: JSON API, page, files, static assets, Swagger assets, ops
# routes, Tornado's own 404 and 405, a refused preflight, a bad request.
REQUESTS = [
    ("GET", "/", None),
    ("GET", "/docs", None),
    ("GET", "/docs/integration.md", None),
    ("GET", "/docs/assets/swagger-ui.css", None),
    ("GET", "/static/app.js", None),
    ("GET", "/static/missing.js", None),
    ("GET", "/favicon.ico", None),
    ("GET", "/api/v2/csrf", None),
    ("GET", "/api/v2/videos/", None),
    ("GET", "/api/v2/videos/not-an-id", None),
    ("GET", "/api/v2/openapi.json", None),
    ("GET", "/api/v2/events/health", None),
    ("GET", "/health", None),
    ("GET", "/ready", None),
    ("GET", "/metrics", None),
    ("GET", "/no/such/path", None),
    ("PUT", "/health", None),
    ("POST", "/api/v2/videos/", None),
    (
        "OPTIONS",
        "/api/v2/videos/",
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    ),
    (
        "OPTIONS",
        "/api/v2/videos/",
        {"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
    ),
]


def _assert_hardened(response: HTTPResponse | dict[str, str], what: str) -> None:
    headers = {
        k.lower(): v
        for k, v in (response.items() if isinstance(response, dict) else response.headers.get_all())
    }
    assert "server" not in headers, (what, headers.get("server"))
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") == "no-referrer", what


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
async def test_every_response_is_hardened(
    http: Http, method: str, path: str, headers: dict[str, str] | None
) -> None:
    response = await http.request(method, path, headers=headers)
    assert response.code < 500, (path, response.code)
    _assert_hardened(response, f"{method} {path} -> {response.code}")


async def test_the_event_stream_is_hardened(edge: RunningServer) -> None:
    client = await SSEClient.open(edge.port)
    try:
        assert client.status == 200
        _assert_hardened(client.headers, "event stream")
    finally:
        await client.close()


async def test_refusals_before_any_handler_are_hardened(edge: RunningServer) -> None:
    # Tornado's own 400 (unreadable request) is rewritten by the server, not by a handler.
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head = raw.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 400")
    assert "x-content-type-options: nosniff" in head
    assert "referrer-policy: no-referrer" in head
    assert "server:" not in head


async def test_xsrf_cookie_is_not_secure_over_plain_http(anonymous: Http) -> None:
    response = await anonymous.request("GET", "/api/v2/csrf")
    (cookie,) = response.headers.get_list("Set-Cookie")
    assert cookie.startswith("_xsrf=")
    assert "secure" not in cookie.lower()


async def test_xsrf_cookie_is_secure_over_https_behind_a_trusted_proxy(
    start_edge: StartEdge, api_service: VideoApiService
) -> None:
    server = await start_edge(trusted_proxies=("127.0.0.1",))
    client = Http(server.url)
    try:
        response = await client.request(
            "GET", "/api/v2/csrf", headers={"X-Forwarded-Proto": "https"}
        )
        (cookie,) = response.headers.get_list("Set-Cookie")
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert "secure" in attributes and "samesite=lax" in attributes
        # Over HTTPS the token round-trips as before.
        token = await client.csrf()
        assert token
    finally:
        client.close()


async def test_forwarded_https_from_an_untrusted_peer_is_ignored(anonymous: Http) -> None:
    # Without TRUSTED_PROXIES nobody may claim HTTPS (the cookie would then differ per claim).
    response = await anonymous.request(
        "GET", "/api/v2/csrf", headers={"X-Forwarded-Proto": "https"}
    )
    (cookie,) = response.headers.get_list("Set-Cookie")
    assert "secure" not in cookie.lower()
