"""What a WebSocket follows besides its type filter: named videos and followed channels.

A socket follows a :class:`SocketFilter` (some videos and some channels) or, written ``None``
where a filter is expected, every video its caller may read. ``subscribe`` adds to it,
``unsubscribe`` takes away; the hand-off (:mod:`frontend_server.events.ws.session`) works out
what was kept and what was added, and the kept part decides which history events the client
has already been sent (:meth:`SocketFilter.matches`).
"""

from __future__ import annotations

from dataclasses import dataclass

from frontend_server.events.conn import Subscription


@dataclass(frozen=True, slots=True)
class SocketFilter:
    """Named videos and followed channels (both empty: nothing)."""

    videos: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, sub: Subscription) -> SocketFilter | None:
        """The filter of a hub subscription (``None``: a wide one, every readable video)."""
        if sub.wide:
            return None
        return cls(sub.videos or frozenset(), sub.channels or frozenset())

    @property
    def empty(self) -> bool:
        """Follows nothing."""
        return not self.videos and not self.channels

    def __or__(self, other: SocketFilter) -> SocketFilter:
        return SocketFilter(self.videos | other.videos, self.channels | other.channels)

    def __and__(self, other: SocketFilter) -> SocketFilter:
        return SocketFilter(self.videos & other.videos, self.channels & other.channels)

    def __sub__(self, other: SocketFilter) -> SocketFilter:
        return SocketFilter(self.videos - other.videos, self.channels - other.channels)

    def matches(self, video_id: str, channel_id: str) -> bool:
        """Whether an event of ``video_id`` carrying ``channel_id`` is followed (an empty
        filter matches nothing)."""
        return video_id in self.videos or channel_id in self.channels

    def subscription(self, types: list[str], after: int | None = None) -> Subscription:
        """The hub subscription of this filter (validated: ``InvalidInput`` for bad ids)."""
        return Subscription.parse(self.videos, types, after, self.channels)


EVERYTHING: SocketFilter | None = None
"""Every video the caller may read (as a target or what is kept)."""
