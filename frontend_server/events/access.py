"""Who may receive what on the event streams, and ending the streams that lose access.

Every decision goes through ``access.policy`` (``Principal.reads_channel`` / ``require``); this
module only works out *which* questions to ask it, so that dispatch stays a set lookup:

* :class:`HubAccess` places an unfiltered connection in the index (which channels it reads,
  :class:`~frontend_server.events.conn.Placement`), checks a filtered one's videos before its
  stream starts, and rules on single history events (replay and snapshot).
* :class:`AccessGuard` follows the replica's :class:`~mesh.directory.Directory` and the clock.
  Identity changes are coalesced (one re-check per burst, :data:`RECHECK_DELAY` later) and then
  every affected connection is re-evaluated in one synchronous step: a revoked or expired
  credential, a deleted user, a lost role or a channel turned private ends the stream
  (``REVOKED``); a connection that gained channels is re-indexed in place. Anonymous unfiltered
  connections are never ended: they follow visibility changes in place. Every second, streams
  whose credential expired end (``EXPIRED``).

Revocation written on any replica reaches every replica's directory through the KV watch
within milliseconds, so open streams end well within the 5 s of docs/contracts.md §9.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from access.policy import Action, ChannelView, Principal, require
from frontend_server.events.conn import NOWHERE, CloseReason, Connection, Placement
from frontend_server.events.index import StreamIndex
from frontend_server.security.auth import Authenticator
from mesh.directory import Change, ChangeKind
from schemas.timestamps import utc_now

log = logging.getLogger(__name__)

RECHECK_DELAY = 0.02
"""Seconds to wait after an identity change for more of the same burst (a re-watch delivers
every entry again) before re-checking connections once."""
EXPIRY_INTERVAL = 1.0
"""Seconds between checks for expired credentials."""

_ANY_PUBLIC = ChannelView(id="", public=True)
"""A public channel no principal has any tie to ("" is no valid channel id): a principal that
may read it reads every public channel (everyone but a token bound to one channel)."""


class HubAccess:
    """The hub's questions to the policy, answered from the replica's directory.

    Args:
        authenticator: Resolves principals and channels (``refresh``, ``channel``).
    """

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self._channels = authenticator.directory.channels

    def refresh(self, principal: Principal) -> Principal | None:
        """``principal`` as the directory sees it now; ``None`` once it lost its credential."""
        return self.authenticator.refresh(principal)

    def may_read(self, principal: Principal, channel_id: str | None) -> bool:
        """Whether ``principal`` reads events of ``channel_id`` (``None``/unknown: admins only)."""
        if principal.reads_everything():
            return True
        view = self.authenticator.channel(channel_id)
        return view is not None and principal.reads_channel(view)

    def authorize(
        self,
        principal: Principal,
        video_channels: Mapping[str, str | None],
        channels: Iterable[str] = (),
    ) -> None:
        """Before a filtered stream starts: every named video and channel must be readable.

        ``video_channels`` maps each video to its channel (``None``: no such video, which
        only a principal reading everything may name). A followed channel that does not
        exist is refused like one the caller may not read, with the same words (no oracle),
        admins included: there is nothing to follow.

        Raises:
            Unauthenticated: 401 for an anonymous caller.
            NotFound: 404 for a signed-in one (existence is not revealed).
        """
        for followed in sorted(channels):
            # No such channel (view None) is decided exactly as an unreadable one.
            view = self.authenticator.channel(followed)
            require(principal, Action.READ, view, what=f"channel {followed}")
        if principal.reads_everything():
            return
        for video, channel_id in sorted(video_channels.items()):
            view = self.authenticator.channel(channel_id)
            require(principal, Action.READ, view, what=f"video {video}")

    def placement(self, principal: Principal) -> Placement:
        """Where an unfiltered connection of ``principal`` belongs in the index."""
        if principal.reads_everything():
            return Placement(admin=True)
        follows_public = principal.reads_channel(_ANY_PUBLIC)
        chosen = []
        for channel_id in self._candidates(principal):
            view = self.authenticator.channel(channel_id)
            if view is None or (view.public and follows_public):
                continue  # unknown, or reached through the public group already
            if principal.reads_channel(view):
                chosen.append(channel_id)
        return Placement(public=follows_public, channels=frozenset(chosen))

    def _candidates(self, principal: Principal) -> Iterable[str]:
        # Besides being an admin, a role (or the channel a token is bound to) is the only tie
        # to a channel that the public group does not cover (access.policy._reads): asking
        # the policy about those is enough, and keeps a re-check cheap with many channels.
        if principal.admin:
            return list(self._channels)
        ties = set(principal.roles)
        if principal.token_channel is not None:
            ties.add(principal.token_channel)
        return ties

    def public_channels(self) -> frozenset[str]:
        """The ids of the channels that are public now."""
        views = (self.authenticator.channel(c) for c in list(self._channels))
        return frozenset(v.id for v in views if v is not None and v.public)

    def recheck(self, conn: Connection, lost_public: frozenset[str]) -> Placement | None:
        """``conn``'s placement for its (refreshed) principal; ``None`` if it lost access.

        Args:
            lost_public: Channels that were public at the previous check and are private now.
        """
        principal = conn.principal
        if not conn.sub.wide:
            readable = all(self.may_read(principal, c) for c in conn.video_channels.values())
            follows = all(self.may_read(principal, c) for c in conn.follows)
            return NOWHERE if readable and follows else None
        new = self.placement(principal)
        if principal.authenticated and _lost(conn.placement, new, lost_public, self):
            return None
        return new


def _lost(old: Placement, new: Placement, lost_public: frozenset[str], access: HubAccess) -> bool:
    """Whether a connection placed at ``old`` no longer reads something it streamed."""
    if (old.admin and not new.admin) or (old.public and not new.public):
        return True
    public_now = access.public_channels() if old.channels - new.channels else frozenset()
    for channel_id in old.channels - new.channels:
        if not (new.public and channel_id in public_now):
            return True  # not merely moved into the public group
    return old.public and any(c not in new.channels for c in lost_public)


@dataclass
class _Pending:
    """Identity changes seen since the last re-check."""

    everyone: bool = False
    users: set[str] = field(default_factory=set)
    credentials: set[str] = field(default_factory=set)

    def add(self, change: Change) -> None:
        kind, key = change.kind, change.key
        if kind is ChangeKind.CHANNEL:
            self.everyone = True  # visibility (or existence) concerns every stream
        elif kind is ChangeKind.USER:
            self.users.add(key)
        elif kind is ChangeKind.MEMBER:
            self.users.add(key.partition(".")[2])  # <channel>.<user>
        elif kind is ChangeKind.TOKEN:
            self.credentials.add(f"token:{key}")
        elif kind is ChangeKind.SESSION:
            self.credentials.add(f"session:{key}")

    def affects(self, principal: Principal) -> bool:
        return (
            self.everyone
            or principal.credential in self.credentials
            or (principal.user_id is not None and principal.user_id in self.users)
        )


class AccessGuard:
    """Ends (or re-indexes) the hub's connections as identities change and credentials expire.

    Args:
        access: The hub's policy questions.
        index: The hub's index (re-indexed in place, and its public-channel snapshot).
        clients: The hub's live connections (read only).
        drop: Ends a connection with a reason (the hub's own ``_drop``).
    """

    def __init__(
        self,
        access: HubAccess,
        index: StreamIndex,
        clients: set[Connection],
        drop: Callable[[Connection, CloseReason], None],
    ) -> None:
        self._access = access
        self._index = index
        self._clients = clients
        self._drop = drop
        self._pending = _Pending()
        self._recheck_timer: asyncio.TimerHandle | None = None
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._running = False
        self.revoked = 0
        access.authenticator.directory.on_change(self._on_change)

    def start(self) -> None:
        """Take the current visibility of channels and start checking expiry."""
        self._running = True
        self._index.public_channels = self._access.public_channels()
        self._expiry_timer = asyncio.get_running_loop().call_later(EXPIRY_INTERVAL, self._expire)

    def stop(self) -> None:
        """Stop following (the directory keeps the listener, which then does nothing)."""
        self._running = False
        for timer in (self._recheck_timer, self._expiry_timer):
            if timer is not None:
                timer.cancel()
        self._recheck_timer = self._expiry_timer = None

    def _on_change(self, change: Change) -> None:
        if not self._running:
            return
        self._pending.add(change)
        if self._recheck_timer is None:
            loop = asyncio.get_running_loop()
            self._recheck_timer = loop.call_later(RECHECK_DELAY, self._recheck)

    def settle(self) -> None:
        """Apply the identity changes waiting for their batched re-check now (the identity
        fence does, before it releases events the directory was not known current for)."""
        if self._recheck_timer is not None:
            self._recheck_timer.cancel()
            self._recheck()

    def _recheck(self) -> None:
        """Re-evaluate affected connections; synchronous, so dispatch sees the index either
        before or after, never half re-indexed."""
        self._recheck_timer = None
        pending, self._pending = self._pending, _Pending()
        public_now = self._access.public_channels()
        known = self._access.authenticator.directory.channels
        before = self._index.public_channels
        lost_public = frozenset(c for c in before - public_now if c in known)
        if public_now != before:
            pending.everyone = True
        self._index.public_channels = public_now
        ended = 0
        for conn in list(self._clients):
            if pending.affects(conn.principal) and not self._still_allowed(conn, lost_public):
                ended += 1
        if ended:
            self.revoked += ended
            log.info("ended %d event stream(s) that lost access", ended)

    def _still_allowed(self, conn: Connection, lost_public: frozenset[str]) -> bool:
        fresh = self._access.refresh(conn.principal)
        if fresh is None:
            self._drop(conn, _ended(conn.principal))
            return False
        conn.principal = fresh
        conn.everything = fresh.reads_everything()
        placement = self._access.recheck(conn, lost_public)
        if placement is None:
            self._drop(conn, CloseReason.REVOKED)
            return False
        self._index.move(conn, placement)
        return True

    def _expire(self) -> None:
        now = utc_now()
        for conn in list(self._clients):
            expires = conn.principal.expires_at
            if expires is not None and expires <= now:
                self._drop(conn, CloseReason.EXPIRED)
        if self._running:
            loop = asyncio.get_running_loop()
            self._expiry_timer = loop.call_later(EXPIRY_INTERVAL, self._expire)


def _ended(principal: Principal) -> CloseReason:
    expires = principal.expires_at
    return (
        CloseReason.EXPIRED
        if expires is not None and expires <= utc_now()
        else (CloseReason.REVOKED)
    )
