"""The hub's index of connections: who receives a live event, in O(matching clients).

Groups (a connection is in exactly one kind, see :class:`~frontend_server.events.conn.Placement`):

* ``by_video[v]``: connections that named video ``v`` (their readability was checked before
  the stream started; a live event reaches them only if it carries the channel checked then).
* ``followers[c]``: connections that follow channel ``c`` (``?channel_id=``; readable when they
  joined, and kept so by :class:`~frontend_server.events.access.AccessGuard`). Every event
  carrying ``c`` reaches them, whichever video it is about: videos created later included, a
  video moved to another channel no longer (its events carry the new channel).
* ``admins``: unfiltered connections of principals that read every channel.
* ``public``: every other unfiltered connection that reads every public channel (anonymous
  ones included).
* ``by_channel[c]``: unfiltered connections that read channel ``c`` without getting it through
  ``public``: the private channels they read (and a channel-bound token's public channel).

An event of channel ``C`` of video ``v`` goes to the union of ``by_video[v]``, ``followers[C]``,
``admins``, ``public`` (if ``C`` is public) and ``by_channel[C]``. A connection in ``public`` is
indexed under ``by_channel`` for private channels only, and a connection that names videos or
channels is in none of the wide groups; one that both names ``v`` and follows ``C`` is skipped
in ``by_video[v]`` for events of ``C`` (``EventHub._dispatch``). So the groups are disjoint for
any one event: nobody receives an event twice.

Which channels are public is the index's own snapshot (:attr:`StreamIndex.public_channels`),
changed only together with the placements that depend on it (``EventHub`` re-checks its
connections in one synchronous step), so the groups never overlap even while a channel changes
visibility. An event of a channel unknown to the snapshot reaches admins and explicit
subscribers only.
"""

from __future__ import annotations

from collections.abc import Collection

from frontend_server.events.conn import NOWHERE, Connection, Placement

_Group = set[Connection]


class StreamIndex:
    """Connections grouped for dispatch (see the module docstring)."""

    __slots__ = ("admins", "by_channel", "by_video", "followers", "public", "public_channels")

    def __init__(self) -> None:
        self.by_video: dict[str, _Group] = {}
        self.followers: dict[str, _Group] = {}
        self.by_channel: dict[str, _Group] = {}
        self.public: _Group = set()
        self.admins: _Group = set()
        self.public_channels: frozenset[str] = frozenset()

    def add(self, conn: Connection, placement: Placement) -> None:
        """Index ``conn``: by its videos and followed channels if it named some, else at
        ``placement``."""
        sub = conn.sub
        if sub.wide:
            self._place(conn, placement)
            return
        for video in sub.videos or ():
            self.by_video.setdefault(video, set()).add(conn)
        for channel in sub.channels or ():
            self.followers.setdefault(channel, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        """Forget ``conn`` everywhere (idempotent)."""
        for video in conn.sub.videos or ():
            _discard(self.by_video, video, conn)
        for channel in conn.sub.channels or ():
            _discard(self.followers, channel, conn)
        self._unplace(conn)

    def move(self, conn: Connection, placement: Placement) -> None:
        """Re-index an unfiltered connection in place (its principal gained or lost channels)."""
        if conn.sub.wide and placement != conn.placement:
            self._unplace(conn)
            self._place(conn, placement)

    def wide_groups(self, channel_id: str) -> list[Collection[Connection]]:
        """The non-empty groups an event of ``channel_id`` goes to whatever its video: its
        channel's followers and the unfiltered groups (disjoint; a new list, which the caller
        may extend)."""
        groups: list[Collection[Connection]] = []
        following = self.followers.get(channel_id)
        if following:
            groups.append(following)
        if self.admins:
            groups.append(self.admins)
        if self.public and channel_id in self.public_channels:
            groups.append(self.public)
        own = self.by_channel.get(channel_id)
        if own:
            groups.append(own)
        return groups

    def named(self, video_id: str, channel_id: str) -> list[Connection]:
        """The connections that named ``video_id`` and receive its event carrying
        ``channel_id`` through that name: those authorised under that very channel (an event
        carrying another is not what they were allowed to read; admins excepted), and not
        following ``channel_id`` (those get it from its followers' group, once)."""
        group = self.by_video.get(video_id)
        if not group:
            return []
        return [
            c
            for c in group
            if (c.everything or c.video_channels.get(video_id) == channel_id)
            and channel_id not in c.follows
        ]

    def _place(self, conn: Connection, placement: Placement) -> None:
        conn.placement = placement
        if placement.admin:
            self.admins.add(conn)
        if placement.public:
            self.public.add(conn)
        for channel in placement.channels:
            self.by_channel.setdefault(channel, set()).add(conn)

    def _unplace(self, conn: Connection) -> None:
        placement, conn.placement = conn.placement, NOWHERE
        self.admins.discard(conn)
        self.public.discard(conn)
        for channel in placement.channels:
            _discard(self.by_channel, channel, conn)


def _discard(groups: dict[str, _Group], key: str, conn: Connection) -> None:
    group = groups.get(key)
    if group is not None:
        group.discard(conn)
        if not group:
            del groups[key]  # no empty sets left behind by departed clients
