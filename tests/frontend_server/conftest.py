"""Fixtures of the HTTP edge: the real video API service, a real frontend server on a free port,
and a small cookie-keeping HTTP client."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.ioloop import IOLoop

from culto.settings import Settings
from frontend_server.server import RunningServer, serve_frontend
from mesh.connection import MeshConnection
from services.api.service import VideoApiService

ALLOWED_ORIGIN = "https://app.example"
OTHER_ORIGIN = "https://evil.example"


class Http:
    """``AsyncHTTPClient`` against one server, keeping cookies like a browser would."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.client = AsyncHTTPClient(force_instance=True)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        cookies: bool = True,
    ) -> HTTPResponse:
        """Send one request; never raises on HTTP errors."""
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        if cookies and self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        response = await self.client.fetch(
            self.base_url + path,
            method=method,
            body=body,
            headers=hdrs,
            raise_error=False,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=15,
        )
        for raw in response.headers.get_list("Set-Cookie"):
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    async def csrf(self) -> str:
        """Fetch a token (and the ``_xsrf`` cookie)."""
        response = await self.request("GET", "/api/v2/csrf")
        assert response.code == 200, response.body
        token: str = json.loads(response.body)["csrf_token"]
        return token

    async def send(
        self, method: str, path: str, json_body: Any = None, **kwargs: Any
    ) -> HTTPResponse:
        """A state-changing request with a valid XSRF token."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers["X-XSRFToken"] = await self.csrf()
        return await self.request(method, path, json_body=json_body, headers=headers, **kwargs)

    def close(self) -> None:
        self.client.close()


def body_json(response: HTTPResponse) -> Any:
    """The JSON body (asserting it is JSON)."""
    assert response.body is not None
    return json.loads(response.body)


def assert_json_error(
    response: HTTPResponse, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is ``status`` with a ``{"error": {"code", "message"}}`` body and no trace."""
    assert response.code == status, (response.code, response.body)
    assert response.headers["Content-Type"].startswith("application/json")
    text = response.body.decode()
    assert "Traceback" not in text and 'File "' not in text
    err: dict[str, Any] = json.loads(text)["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    if code is not None:
        assert err["code"] == code, err
    return err


@pytest.fixture
def edge_settings(settings: Settings) -> Settings:
    """Settings of the edge under test: a free port, one extra CORS origin."""
    return settings.model_copy(update={"port": 0, "cors_origins": (ALLOWED_ORIGIN,)})


def _enter(io_loop: IOLoop, cm: AbstractAsyncContextManager[Any]) -> Any:
    return io_loop.run_sync(cm.__aenter__)


def _exit(io_loop: IOLoop, cm: AbstractAsyncContextManager[Any]) -> None:
    async def leave() -> None:
        await cm.__aexit__(None, None, None)

    io_loop.run_sync(leave)


@pytest.fixture
def api_service(
    io_loop: IOLoop, mesh: MeshConnection, settings: Settings
) -> Iterator[VideoApiService]:
    """The real video API service answering on ``culto.api.videos.*``."""
    service = VideoApiService(mesh, settings)
    _enter(io_loop, service)
    yield service
    _exit(io_loop, service)


@pytest.fixture
def edge(
    io_loop: IOLoop, mesh: MeshConnection, edge_settings: Settings, api_service: VideoApiService
) -> Iterator[RunningServer]:
    """A running frontend (REST, SSE, ops) in front of the real API service."""
    cm = serve_frontend(edge_settings, mesh)
    server: RunningServer = _enter(io_loop, cm)
    yield server
    _exit(io_loop, cm)


@pytest.fixture
def http(io_loop: IOLoop, edge: RunningServer) -> Iterator[Http]:
    """A cookie-keeping client of ``edge``."""
    client = Http(edge.url)
    yield client
    client.close()


StartEdge = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
def start_edge(
    io_loop: IOLoop, mesh: MeshConnection, edge_settings: Settings
) -> Iterator[StartEdge]:
    """Start extra frontends with setting overrides (``await start_edge(port=0, ...)``); each is
    stopped after the test. They use ``mesh``; start ``api_service`` too when they need it."""
    started: list[AbstractAsyncContextManager[RunningServer]] = []

    async def start(**overrides: Any) -> RunningServer:
        cm = serve_frontend(edge_settings.model_copy(update=overrides), mesh)
        server = await cm.__aenter__()
        started.append(cm)
        return server

    yield start
    for cm in reversed(started):
        _exit(io_loop, cm)
