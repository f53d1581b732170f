"""The Host header must name this server (issue: hardening, finding 5).

DNS rebinding: a page on ``evil.example`` re-points its own name at 127.0.0.1 and reads a
developer's ``culto up`` as same-origin. Its requests still say ``Host: evil.example``, so the
edge answers only the names in ``CULTO_ALLOWED_HOSTS`` (loopback names by default in dev).
"""

from __future__ import annotations

import pytest

from ops.server import RunningServer
from services.api.service import VideoApiService
from tests.frontend_server.sse_client import SSEClient
from tests.support import Http, StartEdge, assert_json_error, body_json


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/v2/videos/"),
        ("GET", "/api/v2/csrf"),
        ("POST", "/api/v2/videos/"),
        ("GET", "/static/app.js"),
        ("GET", "/no/such/path"),
    ],
)
async def test_a_foreign_host_is_a_400(anonymous: Http, method: str, path: str) -> None:
    response = await anonymous.request(method, path, headers={"Host": "evil.example:8000"})
    err = assert_json_error(response, 400, "invalid_host")
    assert "CULTO_ALLOWED_HOSTS" in err["message"]
    assert "_xsrf" not in anonymous.cookies  # nothing was served, not even a token


async def test_the_event_stream_refuses_a_foreign_host(edge: RunningServer) -> None:
    client = await SSEClient.open(edge.port, headers={"Host": "rebind.evil.example"})
    assert client.status == 400
    assert client.error()["error"]["code"] == "invalid_host"


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost:8000", "127.0.0.1:1234", "[::1]:8000", "localhost."]
)
async def test_loopback_names_are_served_in_dev(http: Http, host: str) -> None:
    response = await http.request("GET", "/api/v2/csrf", headers={"Host": host})
    assert response.code == 200, (host, response.body)


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
async def test_probes_and_scrapes_by_pod_ip_are_served(http: Http, path: str) -> None:
    # kubelet and Prometheus send Host: <pod-ip>:<port>; these routes carry no user data.
    response = await http.request("GET", path, headers={"Host": "10.244.3.17:8000"})
    assert response.code == 200, (path, response.body)


async def test_configured_hosts_replace_the_default(
    start_edge: StartEdge, api_service: VideoApiService
) -> None:
    server = await start_edge(allowed_hosts=frozenset({"culto.example.com"}))
    http = Http(server.url)
    try:
        ok = await http.request("GET", "/api/v2/videos/", headers={"Host": "CULTO.example.com"})
        assert ok.code == 200, ok.body
        assert "items" in body_json(ok)
        refused = await http.request("GET", "/api/v2/videos/", headers={"Host": "localhost"})
        assert_json_error(refused, 400, "invalid_host")
    finally:
        http.close()


async def test_refusals_are_counted_under_one_route(http: Http) -> None:
    for i in range(5):
        await http.request("GET", f"/x{i}", headers={"Host": f"evil{i}.example"})
    text = (await http.request("GET", "/metrics")).body.decode()
    assert 'route="invalid_host",status="400"' in text
    assert "evil" not in text
