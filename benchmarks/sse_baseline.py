"""The baseline of the fan-out benchmark: the edge as the seed designed it.

sse-starlette's ``EventSourceResponse`` served by uvicorn, one core NATS subscription on
``culto.events.>`` per process, and an ``asyncio.Queue`` per client (bounded like the
frontend's buffer: a full queue drops the event, which the client never sees again). It has no
authentication, no authorization and no replay (core NATS keeps no history): everything it
skips only makes it cheaper, so the ratios against it are conservative.

Run by ``bench_sse.py --role baseline``; needs the ``bench`` tox environment (sse-starlette,
uvicorn), never a product dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

QUEUE_SIZE = 1000
"""Frames a client may lag behind before events are dropped for it (the frontend's default
``SSE_CLIENT_BUFFER``)."""


class Fanout:
    """Clients by video id, fed by one core subscription."""

    def __init__(self) -> None:
        self.by_video: dict[str, set[asyncio.Queue[tuple[str, str]]]] = {}
        self.clients = 0
        self.dropped = 0

    async def on_msg(self, msg: object) -> None:
        """``culto.events.<video>.<type>``: queue the payload for the video's clients."""
        _, _, video, event_type = msg.subject.split(".", 3)  # type: ignore[attr-defined]
        queues = self.by_video.get(video)
        if not queues:
            return
        item = (event_type, msg.data.decode())  # type: ignore[attr-defined]
        for queue in queues:
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self.dropped += 1

    async def events(self, video: str, request: object) -> AsyncIterator[dict[str, str]]:
        """One client's stream: what its queue receives, until it leaves."""
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(QUEUE_SIZE)
        self.by_video.setdefault(video, set()).add(queue)
        self.clients += 1
        try:
            while True:
                event_type, data = await queue.get()
                yield {"event": event_type, "data": data}
        finally:
            self.clients -= 1
            self.by_video[video].discard(queue)


def make_app(fanout: Fanout, nats_url: str) -> object:
    """The Starlette application: the stream and a health route counting clients."""
    import nats
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def stream(request: Request) -> EventSourceResponse:
        video = request.query_params.get("video_id", "")
        return EventSourceResponse(fanout.events(video, request))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"connected_clients": fanout.clients, "dropped": fanout.dropped})

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        nc = await nats.connect(nats_url, pending_size=512 * 1024 * 1024)
        await nc.subscribe("culto.events.>", cb=fanout.on_msg, pending_msgs_limit=1_000_000)
        yield
        await nc.close()

    return Starlette(
        routes=[
            Route("/api/v2/events/stream", stream),
            Route("/api/v2/events/health", health),
        ],
        lifespan=lifespan,
    )


async def serve(nats_url: str, use_uvloop: bool) -> None:
    """Listen on a free port, print ``READY <port>``, serve until stdin closes."""
    import socket

    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8192)
    config = uvicorn.Config(
        make_app(Fanout(), nats_url),  # type: ignore[arg-type]
        log_level="warning",
        access_log=False,
        backlog=8192,
        loop="uvloop" if use_uvloop else "asyncio",
        timeout_keep_alive=600,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn has no event for it)
        await asyncio.sleep(0.05)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.should_exit = True
    server.force_exit = True
    await asyncio.wait_for(task, 10)
