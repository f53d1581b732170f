"""A small SSE test client over raw asyncio sockets (HTTP/1.1, chunked or not).

It parses frames exactly as a browser would (``field: value`` lines, blank line dispatches;
comments and ``retry`` are recorded) so tests see what an ``EventSource`` would see.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from access.credentials import split_token
from culto_app.settings import Settings
from frontend_server.config import HubConfig
from frontend_server.events.follow import catalog_channel_videos
from frontend_server.events.hub import EventHub
from frontend_server.events.sse.handler import (
    EventsHealthHandler,
    EventStreamHandler,
    StreamDeps,
)
from frontend_server.security.auth import Authenticator
from frontend_server.security.limits import ClientLimits, RateLimitConfig
from mesh.catalog_client import VideoApiClient
from mesh.connection import MeshConnection
from mesh.directory import Directory
from mesh.replay import EventReader
from tests.support import Member, eventually


@dataclass(frozen=True)
class Frame:
    """One dispatched SSE event."""

    id: str | None
    event: str | None
    data: str

    @property
    def seq(self) -> int:
        assert self.id is not None, f"frame without id: {self}"
        return int(self.id)

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SSEClient:
    """An open event stream (or a refused request: see ``status`` and ``body``)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int
    headers: dict[str, str]
    body: bytes = b""
    retry: int | None = None
    comments: list[str] = field(default_factory=list)
    last_id: str | None = None
    ended: bool = False
    clean_end: bool = False
    wire: str = ""
    """Everything the stream carried so far, as sent (frames, comments, heartbeats)."""
    _chunked: bool = False
    _chunk_left: int = 0
    _text: str = ""
    _pending: dict[str, list[str]] = field(default_factory=dict)
    _frames: list[Frame] = field(default_factory=list)
    # A read may end inside a multi-byte character (Portuguese text): decode incrementally.
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")()
    )

    @classmethod
    async def open(
        cls,
        port: int,
        *,
        path: str = "/api/v2/events/stream",
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        auth: dict[str, str] | None = None,
        rcvbuf: int | None = None,
        timeout: float = 10.0,
    ) -> SSEClient:
        """Connect and read the status line and headers (and the body of a non-200).

        ``auth``: credential headers (a test member's ``.auth``), added to ``headers``.
        """
        target = path + ("?" + urlencode(query) if query else "")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Set before connect so the advertised window stays small (stalled-client tests).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**22)
        extra = {**(headers or {}), **(auth or {})}
        host = extra.pop("Host", f"127.0.0.1:{port}")  # a test may name another host
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        client = cls(reader, writer, status, hdrs)
        client._chunked = hdrs.get("transfer-encoding", "").lower() == "chunked"
        if status != 200 or not hdrs.get("content-type", "").startswith("text/event-stream"):
            client.body = await asyncio.wait_for(client._read_all(), timeout)
            await client.close()
        return client

    def error(self) -> dict[str, Any]:
        """The JSON error body of a refused request."""
        body: dict[str, Any] = json.loads(self.body)
        return body

    async def _read_all(self) -> bytes:
        out = b""
        if "content-length" in self.headers:
            return await self.reader.readexactly(int(self.headers["content-length"]))
        while (chunk := await self._read_body()) is not None:
            out += chunk
        return out

    async def _read_body(self) -> bytes | None:
        """The next piece of the body, or ``None`` at its end."""
        if not self._chunked:
            data = await self.reader.read(65536)
            return data or None
        if self._chunk_left == 0:
            size_line = await self.reader.readline()
            if not size_line:
                return None
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await self.reader.readline()
                self.clean_end = True  # the terminating chunk: the server ended on purpose
                return None
            self._chunk_left = size
        data = await self.reader.read(min(self._chunk_left, 65536))
        if not data:
            return None
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            await self.reader.readexactly(2)
        return data

    async def next(self, timeout: float = 10.0) -> Frame | None:
        """The next event frame, or ``None`` once the stream ended."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._frames:
            if self.ended:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("no SSE frame in time")
            try:
                data = await asyncio.wait_for(self._read_body(), remaining)
            except (ConnectionError, asyncio.IncompleteReadError):
                data = None
            if data is None:
                self.ended = True
                self.writer.close()
                continue
            text = self._decoder.decode(data)
            self.wire += text
            self._feed(text)
        return self._frames.pop(0)

    async def collect(
        self, count: int, timeout: float = 10.0, *, heartbeats: bool = False
    ) -> list[Frame]:
        """Read until ``count`` frames (heartbeats skipped unless asked for) or the end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        out: list[Frame] = []
        while len(out) < count:
            frame = await self.next(max(0.001, deadline - loop.time()))
            if frame is None:
                break
            if frame.event == "heartbeat" and not heartbeats:
                continue
            out.append(frame)
        return out

    async def until_end(self, timeout: float = 10.0) -> list[Frame]:
        """Every remaining event frame (heartbeats dropped) until the server ends the stream."""
        return await self.collect(10**9, timeout)

    async def until_seq(self, seq: int, timeout: float = 10.0) -> list[Frame]:
        """Event frames until one with id >= ``seq`` (inclusive)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        out: list[Frame] = []
        while True:
            frame = await self.next(max(0.001, deadline - loop.time()))
            if frame is None:
                raise AssertionError(f"stream ended before seq {seq}; got {len(out)} frames")
            if frame.id is None:
                continue
            out.append(frame)
            if frame.seq >= seq:
                return out

    def _feed(self, text: str) -> None:
        self._text += text
        # Normalise line ends as the SSE spec does, then process complete lines only.
        self._text = self._text.replace("\r\n", "\n").replace("\r", "\n")
        *lines, self._text = self._text.split("\n")
        for line in lines:
            if line == "":
                if "data" in self._pending:
                    ident = self._pending.get("id", [None])[-1]
                    if ident is not None:
                        self.last_id = ident
                    self._frames.append(
                        Frame(
                            ident,
                            self._pending.get("event", [None])[-1],
                            "\n".join(self._pending["data"]),
                        )
                    )
                self._pending = {}
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "retry":
                self.retry = int(value)
            else:
                self._pending.setdefault(name, []).append(value)

    async def close(self) -> None:
        """Drop the connection."""
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def get_json(port: int, path: str) -> tuple[int, Any]:
    """A plain GET returning ``(status, parsed JSON body)``."""
    response = await SSEClient.open(port, path=path, headers={"Connection": "close"})
    return response.status, response.error()


async def known_token(app: Application, member: Member) -> None:
    """Wait until ``app``'s directory knows ``member``'s token (the KV watch is asynchronous)."""
    parts = split_token(member.token)
    assert parts is not None
    directory: Directory = app.settings["authenticator"].directory
    await eventually(lambda: parts[0] in directory.tokens, what="the edge knowing a new token")


@dataclass
class EventServer:
    """A Tornado server mounting only the two event handlers, on an unused port."""

    hub: EventHub
    port: int
    http: HTTPServer
    directory: Directory


@contextlib.asynccontextmanager
async def serve_events(
    mesh: MeshConnection,
    settings: Settings,
    *,
    hub_config: HubConfig | None = None,
    reader: EventReader | None = None,
) -> AsyncIterator[EventServer]:
    """Run a hub and the event handlers on the current loop for the duration of a test.

    Callers are authenticated as on the real edge (bearer tokens, session cookies) against the
    identity buckets of ``mesh``; named videos are looked up through the video API service, so
    a test naming videos as a non-admin (or following channels) needs the video API service.
    """
    config = hub_config or settings.edge_config().hub
    cookie_secret = settings.edge_config().cookie_secret
    async with Directory(mesh) as directory:
        authenticator = Authenticator(directory, cookie_secret)
        api = VideoApiClient(mesh)
        hub = EventHub(
            mesh,
            config,
            authenticator=authenticator,
            reader=reader,
            channel_videos=catalog_channel_videos(api),
        )
        await hub.open()
        deps = StreamDeps(hub=hub, config=config, limits=ClientLimits(RateLimitConfig()), api=api)
        app = Application(
            [
                (r"/api/v2/events/stream", EventStreamHandler, {"deps": deps}),
                (r"/api/v2/events/health", EventsHealthHandler, {"hub": hub}),
            ],
            compress_response=True,  # the stream handler must opt out of gzip itself
            cookie_secret=cookie_secret,
            authenticator=authenticator,
        )
        sockets = bind_sockets(0, "127.0.0.1")
        http = HTTPServer(app)
        http.add_sockets(sockets)
        try:
            yield EventServer(hub, sockets[0].getsockname()[1], http, directory)
        finally:
            http.stop()
            await hub.close()
            await asyncio.wait_for(http.close_all_connections(), 10)
