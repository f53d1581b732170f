"""Following channels: which videos a late joiner's snapshot covers.

A channel filter (``?channel_id=``, ``{"op":"subscribe","channels":[…]}``) needs no list of
videos to be followed live or replayed: every stored event carries its video's channel
(``Culto-Channel``), so the hub indexes followers by channel and history keeps the events that
carry a followed channel. Only the *current state* sent to a new connection needs to know the
channel's videos: the :data:`SNAPSHOT_VIDEOS` newest of each channel, from the video catalog
(one list request per channel, newest first, as ``GET /api/v2/videos/?channel_id=`` answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection

from access.principals import Credential
from mesh.catalog_client import VideoApiClient
from schemas.videos import VideoListQuery

SNAPSHOT_VIDEOS = 200
"""Videos per followed channel whose current state a new connection receives (the newest; a
list page's maximum). Older videos' events still flow live and in replay."""

ChannelVideos = Callable[[Collection[str], Credential | None], Awaitable[list[str]]]
"""The newest videos of each of some channels (at most :data:`SNAPSHOT_VIDEOS` each) that the
holder of a credential (``None``: anonymous) may read."""


async def no_channel_videos(channels: Collection[str], credential: Credential | None) -> list[str]:
    """A lister that knows no videos (a hub without a video catalog: no channel snapshot)."""
    return []


def catalog_channel_videos(api: VideoApiClient, limit: int = SNAPSHOT_VIDEOS) -> ChannelVideos:
    """A lister asking the video API service (the catalog every API replica keeps in memory)
    with the caller's own credential: the service lists only what the caller may read (and
    every event of the snapshot is authorised again, one by one, at the edge)."""

    async def newest(channel: str, credential: Credential | None) -> list[str]:
        page = await api.list(VideoListQuery(channel_id=channel, limit=limit), credential)
        return [video.id for video in page.items]

    async def list_videos(channels: Collection[str], credential: Credential | None) -> list[str]:
        pages = await asyncio.gather(*(newest(c, credential) for c in sorted(channels)))
        return [video for page in pages for video in page]

    return list_videos
