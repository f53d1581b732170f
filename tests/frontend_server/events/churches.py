"""Channels with videos for the channel-subscription tests ("follow a church"): created through
the real video API service, their events published with their channel, and what a filter should
carry read back from JetStream."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from culto.errors import NotFound
from mesh import EventPublisher, EventReader, MeshConnection
from mesh.events import StoredEvent
from schemas import ErrorEventDTO, VideoStatusEventDTO
from schemas.identity import Visibility
from schemas.videos import TranscriptInput, VideoCreate, VideoDTO
from services.identity.accounts import Accounts
from tests.support import AdminApi, admin_api, eventually


@dataclass
class Church:
    """A channel, the videos created in it (oldest first) and an admin's video API client."""

    id: str
    videos: list[str]
    api: AdminApi


async def new_church(
    accounts: Accounts, mesh: MeshConnection, visibility: Visibility, videos: int = 2
) -> Church:
    """A channel with ``videos`` sermons submitted through the video API (each QUEUED: its
    first ``video.status`` is stored with the channel)."""
    channel = await accounts.add_channel(f"church {visibility.value}", visibility)
    church = Church(channel.id, [], await admin_api(mesh))
    for _ in range(videos):
        await submit(church)
    return church


async def submit(church: Church, title: str = "Culto") -> str:
    """One more sermon of ``church`` (through the API: a record and a QUEUED event)."""
    body = VideoCreate(
        transcript=TranscriptInput(content="Sermão de domingo."), title=title, channel_id=church.id
    )
    created: list[VideoDTO] = []

    async def attempt() -> bool:
        try:
            created.append(await church.api.create(body))
        except NotFound:
            return False  # the API role's directory learns of a new channel a moment later
        return True

    await eventually(attempt, what="the API role knowing the channel")
    church.videos.append(created[0].id)
    return created[0].id


async def status(pub: EventPublisher, video: str, channel: str, progress: int = 5) -> int:
    """A ``video.status`` of ``video`` carrying ``channel``; its sequence."""
    event = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress)
    return (await pub.publish(event, channel_id=channel)).seq


async def error(pub: EventPublisher, video: str, channel: str) -> int:
    """An ``error`` event of ``video`` carrying ``channel``; its sequence."""
    event = ErrorEventDTO(video_id=video, code="c", message="m", retryable=True)
    return (await pub.publish(event, channel_id=channel)).seq


async def stored(
    mesh: MeshConnection,
    after: int,
    until: int,
    *,
    channels: Collection[str] = (),
    videos: Collection[str] = (),
    types: Collection[str] = (),
) -> list[StoredEvent]:
    """JetStream's events in ``(after, until]`` carrying one of ``channels`` or about one of
    ``videos`` (of ``types``; empty: all)."""
    found: list[StoredEvent] = []
    async for batch in EventReader(mesh).replay(["culto.events.>"], after, until=until):
        found += [
            e
            for e in batch
            if e.seq <= until
            and (e.channel_id in channels or e.video_id in videos)
            and (not types or e.event_type in types)
        ]
    return found


async def snapshot(
    mesh: MeshConnection, channels: dict[str, list[str]], videos: Collection[str] = ()
) -> list[int]:
    """The sequences of a new connection's current state: the latest event of each type of
    each video named, and of each video of each channel that carries that channel."""
    wanted = {v for vs in channels.values() for v in vs} | set(videos)
    latest = await EventReader(mesh).latest(sorted(wanted))
    return [e.seq for e in latest if e.video_id in videos or e.channel_id in channels]
