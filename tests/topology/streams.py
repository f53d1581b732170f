"""SSE consumers that resume with ``Last-Event-ID`` across frontends, as browsers would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from mesh.subjects import event_filters
from tests.frontend_server.sse_client import SSEClient

Frame = tuple[int, str, str]
"""``(id, event type, data)`` as received by a client or as stored in JetStream."""


async def open_stream(
    port: int, query: list[tuple[str, str]], last_id: int | None, timeout: float = 5.0
) -> SSEClient:
    """Open ``/api/v2/events/stream`` (the socket is closed on any failure).

    Raises:
        OSError: if the frontend does not accept connections.
        TimeoutError: if it does not answer with headers in time.
    """
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, limit=2**22), timeout
    )
    try:
        target = "/api/v2/events/stream" + ("?" + urlencode(query) if query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream"]
        if last_id is not None:
            lines.append(f"Last-Event-ID: {last_id}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except BaseException:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        raise
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in header_lines if ":" in line)
    }
    client = SSEClient(reader, writer, int(status_line.split()[1]), headers)
    client._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    return client


@dataclass
class StreamClient:
    """A resuming SSE consumer, as a browser's ``EventSource`` would behave (but faster).

    Args:
        name: For reports.
        home: Index of the frontend it connects to first.
        videos: Video filter (``None``: all videos).
        types: Event-type filter (``None``: all types).
    """

    name: str
    home: int
    videos: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    frames: list[Frame] = field(default_factory=list)
    connects: list[tuple[float, int]] = field(default_factory=list)
    """``(monotonic time, frontend index)`` of every stream that opened with 200."""
    refused: int = 0
    last_id: int | None = 0
    """Resume point; 0 at first, so even the first connection replays the whole history."""

    @property
    def query(self) -> list[tuple[str, str]]:
        """The stream's query string."""
        query = [("video_id", v) for v in self.videos or ()]
        if self.types:
            query.append(("types", ",".join(self.types)))
        return query

    @property
    def filters(self) -> list[str]:
        """JetStream filter subjects equivalent to the query."""
        return event_filters(self.videos or (), self.types or ())

    def resumed_on(self, frontend: int, after: float) -> float | None:
        """When the client first streamed from ``frontend`` after ``after`` (monotonic)."""
        return next((t for t, fe in self.connects if fe == frontend and t >= after), None)

    async def run(self, ports: list[int], alive: list[bool]) -> None:
        """Stream until cancelled, reconnecting with ``Last-Event-ID`` after any end."""
        target = self.home
        while True:
            if not alive[target]:
                target = (target + 1) % len(ports)
            try:
                client = await open_stream(ports[target], self.query, self.last_id)
            except (OSError, TimeoutError):
                self.refused += 1
                target = (target + 1) % len(ports)  # that frontend is gone: try the other
                await asyncio.sleep(0.05)
                continue
            try:
                if client.status != 200:
                    self.refused += 1  # 503 while its NATS connection is down: try elsewhere
                    target = (target + 1) % len(ports)
                    await asyncio.sleep(0.1)
                    continue
                self.connects.append((time.monotonic(), target))
                await self._consume(client)
            finally:
                await client.close()

    async def _consume(self, client: SSEClient) -> None:
        while True:
            try:
                # Heartbeats come every second: a silent stream is a dead one.
                frame = await client.next(timeout=5)
            except TimeoutError:
                return
            if frame is None:
                return
            if frame.id is None:
                continue
            self.frames.append((frame.seq, frame.event or "message", frame.data))
            self.last_id = frame.seq
