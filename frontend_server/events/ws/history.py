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
from frontend_server.events.access import HubAccess
from frontend_server.events.conn import Subscription
from frontend_server.events.history import Reset, resume_point
from mesh.events import StoredEvent
from mesh.replay import EventReader


class SocketHistory:
    """Reads history for one application's sockets.

    Args:
        reader: The application's reader (its bound on concurrent replays is shared by every
            socket).
    """

    def __init__(self, reader: EventReader) -> None:
        self._reader = reader

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
        exclude: frozenset[str] = frozenset(),
    ) -> AsyncGenerator[list[StoredEvent], None]:
        """Stored events of ``sub`` that ``principal`` may read, ascending, none above
        ``until``: with ``sub.last_event_id`` every one after it, else the latest of each type
        of each named video (an unfiltered ``sub`` has none). Videos in ``exclude`` are skipped.

        Raises:
            MeshError: if reading JetStream fails.
        """
        after = sub.last_event_id
        if after is None:
            if sub.videos is not None:
                latest = await self._reader.latest(sub.videos, sub.types or (), up_to=until)
                yield _readable(access, principal, latest, until, exclude)
            return
        if after >= until:
            return
        replay = cast(
            AsyncGenerator[list[StoredEvent], None],
            self._reader.replay(list(sub.filters), after, until=until, gapless=True),
        )
        async with contextlib.aclosing(replay) as batches:
            async for batch in batches:
                readable = _readable(access, principal, batch, until, exclude)
                if readable:
                    yield readable


def _readable(
    access: HubAccess,
    principal: Principal,
    events: list[StoredEvent],
    until: int,
    exclude: frozenset[str],
) -> list[StoredEvent]:
    return [
        e
        for e in events
        if e.seq <= until and e.video_id not in exclude and access.may_read(principal, e.channel_id)
    ]


def resume_points(since: int | Mapping[str, int] | None, added: frozenset[str] | None) -> list[int]:
    """The resume points a change's added videos start from."""
    if since is None:
        return []
    if isinstance(since, int):
        return [since]
    return [p for video, p in since.items() if added is None or video in added]


def resume_groups(
    added: frozenset[str], since: int | Mapping[str, int] | None
) -> list[tuple[list[str], int | None]]:
    """The added videos grouped by where they resume (``None``: their current state), so
    videos at one position share one replay."""
    if not isinstance(since, Mapping):
        return [(sorted(added), since)] if added else []
    groups: dict[int | None, list[str]] = {}
    for video in sorted(added):
        groups.setdefault(since.get(video), []).append(video)
    return [(videos, point) for point, videos in groups.items()]
