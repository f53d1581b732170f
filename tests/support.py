"""What the tests share besides fixtures: a cookie-keeping HTTP client, JSON-error checks and
the one polling helper (for conditions that have no event to await)."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from ops.server import RunningServer

StartEdge = Callable[..., Awaitable[RunningServer]]
"""``await start_edge(**setting_overrides)``: another frontend, stopped after the test."""

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


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = 10.0,
    *,
    interval: float = 0.01,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` (sync or async) until it is true; ``TimeoutError`` naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(interval)
