"""A black-box client of the site, as a browser or a program would use it, over HTTPS through
the proxy: REST calls with a bearer token, and event followers (SSE and WebSocket) that resume
where they were after any disconnect — SSE with ``Last-Event-ID``, the WebSocket with
``since`` — recording every event received and every resume.

Only tornado and the standard library: the image test does not install the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect

Frame = tuple[int, str, str]
"""``(sequence, event type, JSON data)`` of one event."""

RESUME_DELAY = 0.3
"""Seconds before a follower reconnects (an EventSource waits ``retry``: 3 s)."""


@dataclass(frozen=True)
class Site:
    """The public origin (``https://localhost:PORT``), its CA, and a bearer token."""

    origin: str
    ca_pem: str
    token: str = ""

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """One REST call; the status and the JSON body (``None`` when empty)."""
        status, _, parsed = await self.exchange(method, path, body, headers)
        return status, parsed

    async def exchange(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, list[str], Any]:
        """One call; the status, the ``Set-Cookie`` headers and the JSON body."""
        request = HTTPRequest(
            self.origin + path,
            method=method,
            headers={**self.headers(), "Content-Type": "application/json", **(headers or {})},
            body=None if body is None else json.dumps(body),
            ssl_options=self.context(),
            request_timeout=30,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as exc:
            return 0, [], {"error": {"code": "connection", "message": str(exc)}}
        cookies = response.headers.get_list("Set-Cookie")
        raw = response.body or b""
        try:
            return response.code, cookies, json.loads(raw) if raw else None
        except ValueError:
            return response.code, cookies, {"raw": raw[:200].decode("utf-8", "replace")}

    async def sign_in_once(self, once: str) -> tuple[int, Any]:
        """What the page does with ``/login#once=…``: an XSRF token, then the one-time login;
        the login's status and, when it succeeded, ``/api/v2/auth/me`` with the new session."""
        _, cookies, body = await self.exchange("GET", "/api/v2/csrf")
        jar = {c.split(";", 1)[0].split("=", 1)[0]: c.split(";", 1)[0] for c in cookies}
        headers = {"X-XSRFToken": body["csrf_token"], "Origin": self.origin}
        headers["Cookie"] = "; ".join(jar.values())
        status, cookies, _ = await self.exchange("POST", "/api/v2/auth/login", {"once": once},
                                                 headers)  # fmt: skip
        if status != 204:
            return status, None
        jar.update({c.split(";", 1)[0].split("=", 1)[0]: c.split(";", 1)[0] for c in cookies})
        _, _, me = await self.exchange("GET", "/api/v2/auth/me", None,
                                       {"Cookie": "; ".join(jar.values())})  # fmt: skip
        return status, me


@dataclass
class Follower:
    """Common bookkeeping of an event follower."""

    name: str
    frames: list[Frame] = field(default_factory=list)
    connects: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return self.frames[-1][0] if self.frames else 0

    @property
    def resumes(self) -> int:
        return max(self.connects - 1, 0)


@dataclass
class SseFollower(Follower):
    """``GET /api/v2/events/stream`` from ``Last-Event-ID: 0`` (all history), resumed with the
    last id received, until cancelled."""

    async def run(self, site: Site) -> None:
        while True:
            try:
                await self._stream(site)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            await asyncio.sleep(RESUME_DELAY)

    async def _stream(self, site: Site) -> None:
        parts = urlsplit(site.origin)
        reader, writer = await asyncio.open_connection(
            parts.hostname, parts.port, ssl=site.context(), limit=2**22
        )
        try:
            head = [
                "GET /api/v2/events/stream HTTP/1.1",
                f"Host: {parts.netloc}",
                "Accept: text/event-stream",
                f"Last-Event-ID: {self.last_seq}",
                *(f"{k}: {v}" for k, v in site.headers().items()),
            ]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            status_line, headers = await _read_head(reader)
            if " 200 " not in status_line:
                raise ValueError(f"stream refused: {status_line}")
            self.connects += 1
            chunked = headers.get("transfer-encoding", "") == "chunked"
            await self._frames(_body(reader, chunked))
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def _frames(self, lines: Any) -> None:
        fields: dict[str, str] = {}
        async for line in lines:
            if line == "":
                if "id" in fields and "data" in fields:
                    frame = (int(fields["id"]), fields.get("event", "message"), fields["data"])
                    self.frames.append(frame)
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                fields[key] = value.removeprefix(" ")


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip().lower()
    return status_line, headers


async def _body(reader: asyncio.StreamReader, chunked: bool) -> Any:
    """The body's text lines (chunked or not) until the stream ends."""
    pending = b""
    while True:
        if chunked:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
        else:
            data = await reader.read(65536)
            if not data:
                return
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8").rstrip("\r")


@dataclass
class WsFollower(Follower):
    """``/api/v2/events/ws``: subscribed to every video from ``since`` (0 at first), resumed
    with the highest sequence received, until cancelled."""

    async def run(self, site: Site) -> None:
        while True:
            try:
                await self._socket(site)
            except (OSError, WebSocketClosedError, HTTPClientError, ValueError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            await asyncio.sleep(RESUME_DELAY)

    async def _socket(self, site: Site) -> None:
        url = "wss://" + site.origin.removeprefix("https://") + "/api/v2/events/ws"
        request = HTTPRequest(
            url,
            headers={**site.headers(), "Origin": site.origin},
            ssl_options=site.context(),
            request_timeout=30,
        )
        socket = await websocket_connect(request)
        try:
            since = max((seq for seq, _, _ in self.frames), default=0)
            socket.write_message(json.dumps({"op": "subscribe", "videos": [], "since": since}))
            self.connects += 1
            while (message := await socket.read_message()) is not None:
                body = json.loads(message)
                if body.get("op") == "event":
                    event = body["event"]
                    self.frames.append((body["seq"], event["type"], json.dumps(event)))
                elif body.get("op") in ("error", "reset"):
                    self.errors.append(json.dumps(body)[:200])
        finally:
            socket.close()
