"""History for WebSocket subscription changes: stored events, authorised one by one.

A WebSocket's hub connection is always opened live at the hub's head (see
:mod:`frontend_server.events.ws.session`), so what a change needs from the past — the added videos'
events after ``since``, or their current state, and the kept videos' events the old pump had not
sent — is read here, with the same rule as the hub's own replay: an event reaches the client
only if its caller may read the event's channel (``HubAccess.may_read``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import cast

from access.policy import Principal
from access.principals import Credential
from frontend_server.events.access import HubAccess
from frontend_server.events.conn import Subscription
from frontend_server.events.follow import ChannelVideos, no_channel_videos
from frontend_server.events.history import Reset, current_state, resume_point
from frontend_server.events.ws.filter import SocketFilter
from mesh.events import StoredEvent
from mesh.replay import EventReader


class SocketHistory:
    """Reads history for one application's sockets.

    Args:
        reader: The application's reader (its bound on concurrent replays is shared by every
            socket).
        channel_videos: Lists a followed channel's newest videos (an added channel's current
            state), as the hub does.
    """

    def __init__(
        self, reader: EventReader, channel_videos: ChannelVideos = no_channel_videos
    ) -> None:
        self._reader = reader
        self._channel_videos = channel_videos

    async def resume_point(self, since: int, head: int) -> int | Reset:
        """``since`` if the stream still holds what follows it, else the ``reset`` to send
        (retention trimmed it, or it is beyond the stream's end), as for SSE."""
        return await resume_point(self._reader, since, head)

    async def events(
        self,
        access: HubAccess,
        principal: Principal,
        sub: Subscription,
        until: int,
        *,
        exclude: SocketFilter | None = None,
        credential: Credential | None = None,
    ) -> AsyncGenerator[list[StoredEvent], None]:
        """Stored events of ``sub`` that ``principal`` may read, ascending, none above
        ``until``: with ``sub.last_event_id`` every one after it, else the latest of each type
        of each named video and of each followed channel's newest videos (a wide ``sub`` has
        none; a channel's videos are listed with the caller's ``credential``). Events
        ``exclude`` matches (what the socket kept: sent already) are skipped.

        Raises:
            MeshError: if JetStream (or, for a channel's current state, the video API) fails.
        """
        skip = exclude or SocketFilter()
        after = sub.last_event_id
        if after is None:
            if not sub.wide:
                latest = await current_state(
                    self._reader, self._channel_videos, sub, until, credential
                )
                yield _readable(access, principal, sub, latest, until, skip)
            return
        if after >= until:
            return
        replay = cast(
            AsyncGenerator[list[StoredEvent], None],
            self._reader.replay(list(sub.filters), after, until=until, gapless=True),
        )
        async with contextlib.aclosing(replay) as batches:
            async for batch in batches:
                readable = _readable(access, principal, sub, batch, until, skip)
                if readable:
                    yield readable


def _readable(
    access: HubAccess,
    principal: Principal,
    sub: Subscription,
    events: list[StoredEvent],
    until: int,
    exclude: SocketFilter,
) -> list[StoredEvent]:
    return [
        e
        for e in events
        if e.seq <= until
        and sub.matches(e.video_id, e.channel_id)
        and not exclude.matches(e.video_id, e.channel_id)
        and access.may_read(principal, e.channel_id)
    ]


def resume_points(since: int | Mapping[str, int] | None, added: frozenset[str] | None) -> list[int]:
    """The resume points a change's added videos start from."""
    if since is None:
        return []
    if isinstance(since, int):
        return [since]
    return [p for video, p in since.items() if added is None or video in added]


def resume_groups(
    added: SocketFilter, since: int | Mapping[str, int] | None
) -> list[tuple[SocketFilter, int | None]]:
    """What a subscribe added, grouped by where it resumes (``None``: its current state), so
    videos at one position share one replay. Per-video positions name videos only: followed
    channels get their current state."""
    if added.empty:
        return []
    if not isinstance(since, Mapping):
        return [(added, since)]
    groups: dict[int | None, set[str]] = {}
    for video in sorted(added.videos):
        groups.setdefault(since.get(video), set()).add(video)
    parts = [(SocketFilter(videos=frozenset(v)), point) for point, v in groups.items()]
    if added.channels:
        parts.append((SocketFilter(channels=added.channels), None))
    return parts
