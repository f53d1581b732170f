"""The SSE endpoint over real HTTP (Tornado on an unused port) and a real nats-server."""

from __future__ import annotations

from culto.settings import Settings
from mesh import EventPublisher, MeshConnection
from schemas import VideoStatusEventDTO, new_video_id
from tests.frontend_server.sse_client import SSEClient, serve_events


async def _status(pub: EventPublisher, video: str, progress: int) -> int:
    event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress)
    return (await pub.publish(event)).seq


async def test_smoke_live(mesh: MeshConnection, settings: Settings) -> None:
    pub = EventPublisher(mesh)
    vid = new_video_id()
    async with serve_events(mesh, settings) as srv:
        client = await SSEClient.open(srv.port, query=[("video_id", vid)])
        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        seq = await _status(pub, vid, 10)
        frames = await client.until_seq(seq)
        assert [f.seq for f in frames] == [seq]
        assert client.retry == 3000
        await client.close()
