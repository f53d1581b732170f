"""Bad input always gives a JSON error with a fitting 4xx: never a 500, never a traceback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets

from culto.errors import Conflict, CultoError, MeshTimeout, MeshUnavailable, NotFound
from culto_app.roles import api_services
from culto_app.settings import Settings
from frontend_server.app import make_app
from frontend_server.events.hub import EventHub
from frontend_server.security.auth import Authenticator
from mesh.catalog_client import VideoApiClient
from mesh.connection import MeshConnection
from mesh.directory import Directory
from mesh.identity.client import IdentityClient
from ops.http import describe, error_body, status_for
from ops.server import RunningServer
from services.identity.accounts import Accounts
from tests.frontend_server.api.test_videos import submission
from tests.support import Http, Member, StartEdge, assert_json_error, make_member

UNKNOWN = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"


async def _post_raw(http: Http, body: bytes, ctype: str = "application/json") -> Any:
    token = await http.csrf()
    return await http.request(
        "POST", "/api/v2/videos/", body=body, headers={"X-XSRFToken": token, "Content-Type": ctype}
    )


@pytest.mark.parametrize(
    "raw", [b"{", b"not json", b"{'single': 1}", b'{"a":1,}', b"\xff\xfe\x00", b"   "]
)
async def test_bad_json_is_400(http: Http, raw: bytes) -> None:
    err = assert_json_error(await _post_raw(http, raw), 400, "invalid_json")
    assert "JSON" in err["message"] or "empty" in err["message"]


@pytest.mark.parametrize("raw", [b"[]", b"1", b'"x"', b"null"])
async def test_json_not_an_object_is_400(http: Http, raw: bytes) -> None:
    assert_json_error(await _post_raw(http, raw), 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"title": "no source"}, "body"),
        ({"youtube_id": "short"}, "youtube_id"),
        ({"youtube_id": "abc.def*>gh"}, "youtube_id"),
        ({"url": "not a url"}, "url"),
        ({"youtube_id": "dQw4w9WgXcQ", "surprise": 1}, "surprise"),
        (
            {"youtube_id": "dQw4w9WgXcQ", "transcript": {"format": "pdf", "content": "x"}},
            "transcript.format",
        ),
        (
            {"youtube_id": "dQw4w9WgXcQ", "transcript": {"format": "txt", "content": ""}},
            "transcript.content",
        ),
        ({"youtube_id": "dQw4w9WgXcQ", "channel_id": "a.b"}, "channel_id"),
        ({"youtube_id": "dQw4w9WgXcQ", "title": "x" * 501}, "title"),
        ({"youtube_id": 12345678901}, "youtube_id"),
    ],
)
async def test_validation_errors_are_422_naming_the_field(
    http: Http, body: dict[str, Any], field: str
) -> None:
    err = assert_json_error(await _post_raw(http, json.dumps(body).encode()), 422)
    assert err["code"] == "validation_error"
    assert field in err["message"], err
    assert err["details"]["errors"][0]["field"]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=201", "limit=abc", "status=DONE", "channel_id=a.b", "cursor=" + "x" * 300],
)
async def test_bad_list_query_is_422(http: Http, query: str) -> None:
    err = assert_json_error(await http.request("GET", f"/api/v2/videos/?{query}"), 422)
    assert query.split("=")[0] in err["message"]


async def test_bad_cursor_is_a_4xx(http: Http) -> None:
    response = await http.request("GET", "/api/v2/videos/?cursor=garbage")
    assert 400 <= response.code < 500
    assert_json_error(response, response.code)


async def test_unknown_video_and_unknown_endpoint(http: Http) -> None:
    assert_json_error(await http.request("GET", f"/api/v2/videos/{UNKNOWN}"), 404, "not_found")
    assert_json_error(await http.request("GET", "/api/v2/nothing"), 404, "not_found")
    assert_json_error(await http.request("GET", "/static/missing.js"), 404)
    escape = await http.request("GET", "/static/../app.py")
    assert escape.code in (403, 404)
    assert_json_error(escape, escape.code)


async def test_method_not_allowed_is_405(http: Http) -> None:
    response = await http.send("PUT", "/api/v2/videos/", {"x": 1})
    assert_json_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_json_error(await http.request("POST", "/health", json_body={}), 405)


async def test_service_side_size_limit_is_413(
    start_edge: StartEdge, mesh: MeshConnection, edge_settings: Settings, accounts: Accounts
) -> None:
    small = edge_settings.model_copy(update={"max_transcript_bytes": 2000})
    admin = await make_member(accounts, admin=True)
    # Its own service: the shared fixture's limit is the 5 MB default.
    async with api_services(mesh, small.api_config()):
        server = await start_edge(max_transcript_bytes=2000)
        client = Http(server.url)
        try:
            # The service's own limit (CULTO_MAX_TRANSCRIPT_BYTES) comes back as a 413 ...
            body = submission(transcript={"format": "txt", "content": "palavra " * 500})
            sent = await client.send("POST", "/api/v2/videos/", body, headers=admin.auth)
            err = assert_json_error(sent, 413)
            assert err["code"] == "transcript_too_large"
            # ... and a body far beyond it is refused at the edge with a 413.
            huge = submission(transcript={"format": "txt", "content": "x" * 200_000})
            sent = await client.send("POST", "/api/v2/videos/", huge, headers=admin.auth)
            assert_json_error(sent, 413)
        finally:
            client.close()


async def test_nothing_is_a_500(http: Http) -> None:
    weird_paths = [
        "/api/v2/videos/%00",
        "/api/v2/videos/%ff",
        "/api/v2/videos/" + "%E2%80%AE" * 5,
        "/api/v2/videos/?limit=%ff",
        "/api/v2/videos/?status=%00bogus",
        "/api/v2/videos/" + UNKNOWN + "/extra",
        "/api/v2/events/stream?video_id=..",
        "/api/v2/events/stream?video_id=*",
        "/api/v2/events/stream?types=nope",
        "/api/v2/events/stream?last_event_id=-1",
    ]
    for path in weird_paths:
        response = await http.request("GET", path)
        assert 400 <= response.code < 500, (path, response.code, response.body)
        assert_json_error(response, response.code)
    for method in ("POST", "DELETE"):
        for path in weird_paths[:6]:
            response = await http.send(method, path, {"youtube_id": None})
            assert 400 <= response.code < 500, (method, path, response.code)
            assert_json_error(response, response.code)


class _BrokenApi:
    """Fails like a bug would, with internals in the message."""

    async def list(self, query: Any, credential: Any) -> Any:
        raise RuntimeError("secret /srv/culto/internal.py line 42")

    async def get(self, video_id: str, credential: Any) -> Any:
        raise CultoError("internal detail: KV revision 17")

    async def create(self, body: Any, credential: Any) -> Any:
        raise MeshTimeout("video API create: NATS did not answer in time; retry shortly")

    async def delete(self, video_id: str, credential: Any) -> None:
        raise KeyError("boom")


@pytest.fixture
def broken_edge(
    io_loop: IOLoop, mesh: MeshConnection, edge_settings: Settings, accounts: Accounts
) -> Iterator[tuple[str, Member]]:
    api = cast(VideoApiClient, _BrokenApi())
    config = edge_settings.edge_config()
    admin = io_loop.run_sync(lambda: make_member(accounts, admin=True))
    directory = Directory(mesh)
    io_loop.run_sync(directory.open)
    authenticator = Authenticator(directory, config.cookie_secret)
    app = make_app(
        config,
        mesh=mesh,
        api_client=api,
        identity_client=IdentityClient(mesh),
        hub=EventHub(mesh, config.hub, authenticator=authenticator),
        directory=directory,
        authenticator=authenticator,
    )
    app.settings["serve_traceback"] = True  # even then, no traceback may leave
    server = HTTPServer(app)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}", admin
    server.stop()
    io_loop.run_sync(server.close_all_connections)
    io_loop.run_sync(directory.close)


async def test_bugs_are_500_json_without_internals(broken_edge: tuple[str, Member]) -> None:
    url, admin = broken_edge
    client = Http(url)
    try:
        for response in (
            await client.request("GET", "/api/v2/videos/"),
            await client.request("GET", f"/api/v2/videos/{UNKNOWN}"),
            await client.send("DELETE", f"/api/v2/videos/{UNKNOWN}"),
        ):
            err = assert_json_error(response, 500, "internal_error")
            text = response.body.decode()
            assert "secret" not in text and "revision" not in text and "boom" not in text
            assert err["message"] == "internal server error"
        timeout = await client.send("POST", "/api/v2/videos/", submission(), headers=admin.auth)
        assert_json_error(timeout, 504, "mesh_timeout")
    finally:
        client.close()


def test_status_table() -> None:
    assert status_for(NotFound("x")) == 404
    assert status_for(Conflict("x")) == 409
    assert status_for(MeshUnavailable("x")) == 503
    assert status_for(MeshTimeout("x")) == 504
    assert status_for(CultoError("x")) == 500
    assert describe(ValueError("internal"), 500)[2] == "internal server error"
    assert json.loads(error_body("c", "m")) == {"error": {"code": "c", "message": "m"}}


# -- hostile requests (issue 9, defect 10) -----------------------------------------------------


async def test_deeply_nested_json_is_400_not_500(http: Http) -> None:
    # Regression: json.loads raised RecursionError, which became a 500.
    response = await _post_raw(http, b"[" * 100_000 + b"]" * 100_000)
    assert_json_error(response, 400, "invalid_json")


async def test_nul_in_a_static_path_is_404_not_500(http: Http) -> None:
    # Regression: os.stat raised ValueError("embedded null byte"), which became a 500.
    assert_json_error(await http.request("GET", "/static/app%00.js"), 404)


async def _raw_exchange(port: int, request: bytes) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /api/v2/videos/ HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    ],
)
async def test_requests_tornado_refuses_itself_get_a_json_body(
    edge: RunningServer, request_bytes: bytes
) -> None:
    # Regression: Tornado answered these before any handler with a bare 400 and no body.
    head, body = await _raw_exchange(edge.port, request_bytes)
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert b"application/json" in head
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request" and error["message"]


async def test_huge_headers_get_a_json_431(edge: RunningServer) -> None:
    # Regression: Tornado dropped the connection without any answer past its header limit.
    request = (
        b"GET /api/v2/videos/ HTTP/1.1\r\nHost: x\r\n"
        + b"X-Padding: "
        + b"a" * (100 * 1024)
        + b"\r\n\r\n"
    )
    head, body = await _raw_exchange(edge.port, request)
    assert head.startswith(b"HTTP/1.1 431 "), head
    error = json.loads(body)["error"]
    assert error["code"] == "headers_too_large" and error["message"]


async def test_ordinary_headers_still_pass(http: Http) -> None:
    headers = {"X-Padding": "a" * 8000}
    assert (await http.request("GET", "/api/v2/videos/", headers=headers)).code == 200


_HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


async def test_a_connection_flood_from_one_address_gets_a_json_429(start_edge: StartEdge) -> None:
    # Issue 11, finding 4: new connections per second per address are bounded.
    server = await start_edge(max_connections_per_second=2)  # a burst of 8, then 2 a second
    answers = [(await _raw_exchange(server.port, _HEALTH))[0] for _ in range(12)]
    refused = [head for head in answers if head.startswith(b"HTTP/1.1 429 ")]
    assert refused and len(refused) <= 4, [a.split(b"\r\n")[0] for a in answers]
    assert answers[0].startswith(b"HTTP/1.1 200 ")
