"""Short replays read once for every client resuming from the same point (real nats-server)."""

from __future__ import annotations

import asyncio

from frontend_server.events.shared import MAX_EVENTS, SharedReplays
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.subjects import event_filters
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID


async def _publish(pub: EventPublisher, video: str, n: int) -> list[int]:
    seqs = []
    for progress in range(n):
        event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress % 100)
        seqs.append((await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq)
    return seqs


async def test_one_read_serves_every_client_of_the_same_point(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    video = new_video_id()
    seqs = await _publish(pub, video, 12)
    shared = SharedReplays(EventReader(mesh))
    filters = tuple(event_filters([video]))
    after, head = seqs[1], seqs[-1]
    reads = await asyncio.gather(*(shared.read(filters, after, head) for _ in range(20)))
    assert shared.shared == 19  # one read, shared by the other nineteen
    for result in reads:
        assert result is not None
        events, reach = result
        assert reach == head and [e.seq for e in events] == seqs[2:]
    # A later client with a lower horizon gets the same read: it stops at its own horizon.
    again = await shared.read(filters, after, seqs[5])
    assert again is not None and again[1] == head and shared.shared == 20


async def test_a_long_replay_is_not_shared(mesh: MeshConnection) -> None:
    pub = EventPublisher(mesh)
    video = new_video_id()
    seqs = await _publish(pub, video, MAX_EVENTS + 1)
    shared = SharedReplays(EventReader(mesh))
    assert await shared.read(tuple(event_filters([video])), seqs[0] - 1, seqs[-1]) is None
