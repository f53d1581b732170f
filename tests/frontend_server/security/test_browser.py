"""XSRF (missing / wrong / right / exempt) and CORS (allowed / refused / preflight / Vary)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from culto.origins import normalize_origin
from frontend_server.security.browser import is_exempt
from ops.server import RunningServer
from services.api.service import VideoApiService
from tests.frontend_server.api.test_videos import submission
from tests.frontend_server.sse_client import SSEClient
from tests.support import (
    ALLOWED_ORIGIN,
    OTHER_ORIGIN,
    Http,
    StartEdge,
    assert_json_error,
    body_json,
)

UNKNOWN = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"


# -- XSRF ---------------------------------------------------------------------------------------


async def test_xsrf_missing_token_is_403(http: Http) -> None:
    await http.csrf()  # the cookie alone is not enough
    response = await http.request("POST", "/api/v2/videos/", json_body=submission())
    err = assert_json_error(response, 403, "xsrf_failed")
    assert "X-XSRFToken" in err["message"]
    assert_json_error(await http.request("DELETE", f"/api/v2/videos/{UNKNOWN}"), 403)


async def test_xsrf_wrong_token_is_403(http: Http) -> None:
    await http.csrf()
    for wrong in ("nonsense", "2|00|11|1", "a" * 64, "2|deadbeef|cafebabe|123"):
        response = await http.request(
            "POST", "/api/v2/videos/", json_body=submission(), headers={"X-XSRFToken": wrong}
        )
        assert_json_error(response, 403, "xsrf_failed")


async def test_xsrf_token_without_cookie_is_403(http: Http) -> None:
    token = await http.csrf()
    response = await http.request(
        "POST",
        "/api/v2/videos/",
        json_body=submission(),
        headers={"X-XSRFToken": token},
        cookies=False,
    )
    assert_json_error(response, 403, "xsrf_failed")


async def test_xsrf_token_from_another_browser_is_403(http: Http, edge: RunningServer) -> None:
    other = Http(edge.url)
    try:
        foreign = await other.csrf()
    finally:
        other.close()
    await http.csrf()
    response = await http.request(
        "POST", "/api/v2/videos/", json_body=submission(), headers={"X-XSRFToken": foreign}
    )
    assert_json_error(response, 403, "xsrf_failed")


@pytest.mark.parametrize("header", ["X-XSRFToken", "X-CSRF-Token", "X-CSRFToken"])
async def test_xsrf_right_token_in_each_header(http: Http, header: str) -> None:
    token = await http.csrf()
    response = await http.request(
        "POST", "/api/v2/videos/", json_body=submission(), headers={header: token}
    )
    assert response.code == 201, response.body


async def test_xsrf_form_field(http: Http) -> None:
    token = await http.csrf()
    sub = submission()
    form = urlencode({"_xsrf": token, "youtube_id": sub["youtube_id"], "title": "Form"})
    response = await http.request(
        "POST",
        "/api/v2/videos/",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.code == 201, response.body
    assert body_json(response)["title"] == "Form"
    # On DELETE the field may come in the query string.
    video_id = body_json(response)["id"]
    deleted = await http.request("DELETE", f"/api/v2/videos/{video_id}?_xsrf={token}")
    assert deleted.code == 204


async def test_get_needs_no_token(http: Http) -> None:
    assert (await http.request("GET", "/api/v2/videos/", cookies=False)).code == 200


async def test_exempt_path_skips_xsrf(
    start_edge: StartEdge, api_service: VideoApiService, http: Http
) -> None:
    server = await start_edge(csrf_exempt_paths=("/api/v2/videos",))
    client = Http(server.url)
    client.cookies.update(http.cookies)  # the same signed-in browser session, no XSRF token
    try:
        response = await client.request("POST", "/api/v2/videos/", json_body=submission())
        assert response.code == 201, response.body
        # Paths below an exempt path are exempt; others are not.
        video_id = body_json(response)["id"]
        assert (await client.request("DELETE", f"/api/v2/videos/{video_id}")).code == 204
    finally:
        client.close()


async def test_default_exempt_paths_do_not_cover_the_api(http: Http) -> None:
    response = await http.request("POST", "/api/v2/videos/", json_body=submission())
    assert_json_error(response, 403)


async def test_post_to_unknown_path_is_404_not_403(http: Http) -> None:
    assert_json_error(await http.request("POST", "/nope", json_body={}), 404, "not_found")


def test_is_exempt() -> None:
    exempt = ("/api/v2/events/stream", "/health", "/docs/")
    assert is_exempt("/health", exempt)
    assert is_exempt("/health/deep", exempt)
    assert is_exempt("/docs", exempt)
    assert is_exempt("/docs/x", exempt)
    assert not is_exempt("/healthz", exempt)
    assert not is_exempt("/api/v2/videos/", exempt)
    assert not is_exempt("/api/v2/events", exempt)


# -- CORS ---------------------------------------------------------------------------------------


async def test_cors_allowed_origin(http: Http) -> None:
    response = await http.request("GET", "/api/v2/videos/", headers={"Origin": ALLOWED_ORIGIN})
    assert response.code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]


async def test_cors_frontend_url_is_allowed(http: Http) -> None:
    origin = "http://localhost:5173"  # FRONTEND_URL default
    response = await http.request("GET", "/health", headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin


async def test_cors_refused_origin_gets_no_headers(http: Http) -> None:
    for origin in (OTHER_ORIGIN, "null", "https://app.example.evil.com", "http://app.example"):
        response = await http.request("GET", "/api/v2/videos/", headers={"Origin": origin})
        assert response.code == 200
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "Origin" in response.headers["Vary"]


async def test_vary_origin_always(http: Http) -> None:
    for path in ("/health", "/api/v2/videos/", "/api/v2/csrf", "/nope", "/"):
        response = await http.request("GET", path)
        assert "Origin" in response.headers.get("Vary", ""), path


async def test_cors_on_errors_and_writes(http: Http) -> None:
    response = await http.request(
        "GET", f"/api/v2/videos/{UNKNOWN}", headers={"Origin": ALLOWED_ORIGIN}
    )
    assert response.code == 404
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    created = await http.send(
        "POST", "/api/v2/videos/", submission(), headers={"Origin": ALLOWED_ORIGIN}
    )
    assert created.code == 201
    assert created.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


async def test_cors_never_wildcard(http: Http) -> None:
    for origin in (ALLOWED_ORIGIN, OTHER_ORIGIN, "*"):
        response = await http.request("GET", "/health", headers={"Origin": origin})
        assert response.headers.get("Access-Control-Allow-Origin") != "*"


@pytest.mark.parametrize(
    "path", ["/api/v2/videos/", "/api/v2/events/stream", f"/api/v2/videos/{UNKNOWN}"]
)
async def test_preflight_allowed(http: Http, path: str) -> None:
    response = await http.request(
        "OPTIONS",
        path,
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-xsrftoken, last-event-id",
        },
    )
    assert response.code == 204, response.body
    h = response.headers
    assert h["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert h["Access-Control-Allow-Credentials"] == "true"
    methods = {m.strip() for m in h["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "DELETE", "OPTIONS"} <= methods
    allowed = {x.strip().lower() for x in h["Access-Control-Allow-Headers"].split(",")}
    assert {"last-event-id", "x-xsrftoken", "x-csrf-token", "content-type"} <= allowed
    assert int(h["Access-Control-Max-Age"]) > 0
    assert "Origin" in h["Vary"]


async def test_preflight_refused_origin_is_403_json(http: Http) -> None:
    response = await http.request(
        "OPTIONS",
        "/api/v2/videos/",
        headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert_json_error(response, 403, "cors_origin_denied")
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_preflight_refused_method_or_header(http: Http) -> None:
    method = await http.request(
        "OPTIONS",
        "/api/v2/videos/",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "PATCH"},
    )
    assert_json_error(method, 403)
    header = await http.request(
        "OPTIONS",
        "/api/v2/videos/",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-evil",
        },
    )
    assert_json_error(header, 403)


def test_normalize_origin() -> None:
    assert normalize_origin("HTTPS://App.Example:443") == "https://app.example"
    assert normalize_origin("http://localhost:5173/") == "http://localhost:5173"
    assert normalize_origin("http://h:80") == "http://h"
    assert normalize_origin("null") is None
    assert normalize_origin("ftp://x") is None
    assert normalize_origin("http://h:99999") is None


async def test_cors_on_the_event_stream(edge: RunningServer) -> None:
    allowed = await SSEClient.open(edge.port, headers={"Origin": ALLOWED_ORIGIN})
    refused = await SSEClient.open(edge.port, headers={"Origin": OTHER_ORIGIN})
    try:
        assert allowed.status == 200
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert refused.status == 200
        assert "access-control-allow-origin" not in refused.headers
        for client in (allowed, refused):
            assert "Origin" in client.headers["vary"]
            assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
    finally:
        await allowed.close()
        await refused.close()
