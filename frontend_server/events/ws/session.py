"""One WebSocket's subscriptions: live re-subscription with no gap and no duplicate.

The socket holds at most one hub :class:`~frontend_server.events.conn.Connection`, for its current
filter (its videos, or every readable video, and one type filter). The hub only ever serves
*live* events on it: every connection is opened with ``last_event_id`` = the hub's head ``H``
read in the same synchronous step, so the hub sends no history, and everything above ``H`` is
queued. History is sent here, before the connection is attached to the socket (``EventHub.attach``:
from then on the hub writes the socket from its dispatch), through
:class:`~frontend_server.events.ws.history.SocketHistory` (authorised event by event).

A change (``subscribe``/``unsubscribe``) is one hand-off, run to completion before the next
message is handled (one at a time; the socket goes on reading frames and pongs meanwhile):

1. Authorise the added videos (404 as an ``error`` message; nothing changes).
2. Detach the old connection; ``L`` = the last sequence written for it. Everything of the old
   filter up to ``L`` is in the socket's output, in order.
3. Read ``H`` and connect the new filter from ``H`` (live events ``> H`` queue up from now).
4. Send ``subscribed``, then (:mod:`~frontend_server.events.ws.handoff`) the kept videos'
   events in ``(L, H]`` (usually none), then the added videos' history: every event in
   ``(since, H]``, or without ``since`` their current state (the latest event of each type),
   as a new SSE connection gets.
5. Attach the connection: live events ``> H``.

Per video, sequences are therefore ascending with no gap and no duplicate; across videos,
an added video's history may carry sequences lower than ones already sent for others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum

from pydantic import ValidationError

from access.policy import Principal
from access.principals import Credential
from culto.buckets import TokenBuckets
from culto.errors import CultoError, InvalidInput, MeshError, Unauthenticated
from frontend_server.events.access import HubAccess
from frontend_server.events.cursors import CursorAcks
from frontend_server.events.hub import (
    CloseReason,
    Connection,
    EventHub,
    Framing,
    Subscription,
)
from frontend_server.events.ws.codes import CLOSE_FOR, MAX_ERRORS, CloseCode, VideoLookup
from frontend_server.events.ws.filter import SocketFilter
from frontend_server.events.ws.handoff import HandOffHistory, Outbox
from frontend_server.events.ws.history import SocketHistory, resume_points
from frontend_server.security.limits import WS_BURST, WS_MESSAGES_PER_SECOND
from schemas.cursors import (
    WS_CLIENT_ADAPTER,
    WsAck,
    WsClientMessage,
    WsError,
    WsSubscribe,
    WsSubscribed,
    WsUnsubscribe,
)
from schemas.timestamps import utc_now

log = logging.getLogger(__name__)


class SocketState(Enum):
    """Where a socket is in its life."""

    IDLE = "idle"
    """Open, following nothing (before the first ``subscribe``, or after unsubscribing all)."""
    LIVE = "live"
    """Following its filter through a hub connection."""
    CLOSED = "closed"
    """Closed or closing: messages are ignored."""


class EventSocket:
    """The subscriptions of one WebSocket (see the module docstring).

    Args:
        hub: The replica's hub.
        access: The hub's policy questions (authorises added videos before a hand-off).
        principal: The authenticated caller.
        client_key: Whose replay slot it uses (the user id).
        outbox: The socket.
        lookup: Channels of videos, from the video API.
        cursors: Acknowledged cursors.
        history: Reads the history a change sends.
        batch_timeout: Seconds a client may take to accept one batch of history.
    """

    def __init__(
        self,
        *,
        hub: EventHub,
        access: HubAccess,
        principal: Principal,
        credential: Credential | None,
        client_key: str,
        outbox: Outbox,
        lookup: VideoLookup,
        cursors: CursorAcks,
        history: SocketHistory,
        batch_timeout: float,
    ) -> None:
        self._hub = hub
        self._access = access
        self.principal = principal
        self.credential = credential
        # One bucket per socket: a client cannot flood the edge (or the cursor bucket through
        # acks) faster than this, whatever it sends.
        self._rate = TokenBuckets(WS_MESSAGES_PER_SECOND, WS_BURST)
        self._key = client_key
        self._outbox = outbox
        self._lookup = lookup
        self._cursors = cursors
        self._history = history
        self._batch_timeout = batch_timeout
        self.state = SocketState.IDLE
        self._conn: Connection | None = None
        self._channels: dict[str, str | None] = {}
        self._opened_at = 0
        self._history_floor: int | None = None
        self._in_history = False
        self._stopped_at: int | None = None
        self.errors = 0

    @property
    def position(self) -> int | None:
        """Where this socket may resume with ``since`` and lose nothing (the 1001's ``since``;
        ``None``: nowhere yet). While a change's history is sent, the lowest point it started
        from (the kept videos' last event, the added ones' ``since``); else the last event
        sent, or the head the filter was opened at."""
        conn = self._conn
        if conn is None:
            return self._stopped_at
        if self._in_history:
            return self._history_floor
        if conn.resets:  # the stream was recreated: its new ids start again
            return conn.last_sent_seq
        return max(conn.last_sent_seq, self._opened_at)

    # -- messages ----------------------------------------------------------------------------

    def admit(self) -> WsError | None:
        """Called as each message arrives (before it waits its turn): ``None`` if it may be
        handled, else the refusal to send (over the message rate; it counts as a bad message,
        the tenth closes the socket)."""
        if self._rate.take("socket")[0]:
            return None
        self.errors += 1
        if self.errors >= MAX_ERRORS:
            self._end(CloseCode.POLICY, f"{MAX_ERRORS} bad messages")
        return WsError(
            code="rate_limited",
            message=f"more than {WS_MESSAGES_PER_SECOND:g} messages per second; slow down",
        )

    async def handle(self, raw: str | bytes) -> None:
        """Act on one client message; a bad one is answered with an ``error`` message."""
        if self.state is SocketState.CLOSED:
            return
        message: WsClientMessage | None = None
        try:
            message = WS_CLIENT_ADAPTER.validate_json(raw)
            self._refresh()
            if isinstance(message, WsSubscribe):
                await self._subscribe(message)
            elif isinstance(message, WsUnsubscribe):
                await self._unsubscribe(message)
            else:
                await self._ack(message)
        except ValidationError as exc:
            await self._refuse("invalid_message", _first_error(exc))
        except MeshError as exc:
            log.warning("WebSocket request failed: %s", exc.message)
            if self.state is SocketState.IDLE and isinstance(message, WsSubscribe):
                # The subscribe could not open its filter (NATS is failing over): an open
                # socket carrying nothing would leave the client stuck. 1013: reconnect and
                # resume (with the socket's position, when it had one).
                code, reason = CLOSE_FOR[CloseReason.NATS_DISCONNECTED]
                at = self._stopped_at
                self._end(code, reason if at is None else f"{reason}; since={at}")
                return
            await self._refuse(exc.code, exc.message, misbehaving=False)
        except CultoError as exc:
            await self._refuse(exc.code, exc.message)

    def close(self) -> None:
        """The socket closed: stop following."""
        self.state = SocketState.CLOSED
        self._stop()

    def ended(self, reason: CloseReason) -> None:
        """The hub dropped the socket's connection (its owner is this session): close the
        socket with the reason's code, unless the session let it go itself (a hand-off) or the
        socket is gone (``CLIENT_GONE``)."""
        if reason is CloseReason.CLIENT_GONE or self._conn is None:
            return
        self._conn = None
        failed = (CloseCode.INTERNAL, "stream failed: reconnect and resume with since")
        self._end(*CLOSE_FOR.get(reason, failed))

    def _refresh(self) -> None:
        fresh = self._access.refresh(self.principal)
        if fresh is None:
            expires = self.principal.expires_at
            if expires is not None and expires <= utc_now():
                self._end(*CLOSE_FOR[CloseReason.EXPIRED])
            else:
                self._end(*CLOSE_FOR[CloseReason.REVOKED])
            raise Unauthenticated("this credential was revoked or has expired")
        self.principal = fresh

    async def _ack(self, message: WsAck) -> None:
        seq = message.seq
        if self._in_history:
            # A cursor holds one position: while an added video's older history is sent, the
            # highest seq received is not one (resuming there would skip the rest of it), so
            # the ack stores the socket's position instead (at least once, never a gap).
            seq = min(seq, self._history_floor or 0)
        await self._cursors.ack(self.principal, self.credential, message.cursor, seq)

    async def _refuse(self, code: str, message: str, *, misbehaving: bool = True) -> None:
        if self.state is SocketState.CLOSED:
            return
        if misbehaving:
            self.errors += 1
        await self._outbox.send_message(WsError(code=code, message=message))
        if self.errors >= MAX_ERRORS:
            self._end(CloseCode.POLICY, f"{MAX_ERRORS} bad messages")

    def _end(self, code: CloseCode, reason: str) -> None:
        if self.state is not SocketState.CLOSED:
            self.state = SocketState.CLOSED
            self._outbox.close(code, reason)

    # -- subscription changes -------------------------------------------------------------

    async def _subscribe(self, message: WsSubscribe) -> None:
        since: int | Mapping[str, int] | None = message.since
        if isinstance(since, dict):
            unknown = set(since) - set(message.videos)
            if not message.videos or unknown:
                raise InvalidInput(
                    "since: per-video positions name only videos of this subscribe",
                    code="invalid_message",
                )
        if since is None and message.cursor is not None:
            user = self.principal.user_id
            if user is None:
                raise Unauthenticated("a cursor needs a signed-in caller")
            since = await self._cursors.position(user, message.cursor)
        current = self._current()
        types = message.types if message.types is not None else self._types()
        asked = SocketFilter(frozenset(message.videos), frozenset(message.channels))
        target: SocketFilter | None
        added: SocketFilter | None
        if current is None:  # already every video: nothing to add
            target, added = None, SocketFilter()
        elif asked.empty:
            target, added = None, None  # every video: all but the current ones are added
        else:
            target, added = current | asked, asked - current
        await self._change(target, types, added, since)

    async def _unsubscribe(self, message: WsUnsubscribe) -> None:
        current = self._current()
        asked = SocketFilter(frozenset(message.videos), frozenset(message.channels))
        if asked.empty:
            await self._change(SocketFilter(), self._types(), SocketFilter(), None)
            return
        if current is None:
            raise InvalidInput(
                "this socket follows every readable video: unsubscribe with no videos, then"
                " subscribe to the ones wanted",
                code="not_subscribed",
            )
        await self._change(current - asked, self._types(), SocketFilter(), None)

    def _current(self) -> SocketFilter | None:
        """What the socket follows (``None``: every readable video)."""
        if self._conn is None:
            return SocketFilter()
        return SocketFilter.of(self._conn.sub)

    def _types(self) -> list[str]:
        types = self._conn.sub.types if self._conn is not None else None
        return sorted(types or ())

    async def _change(
        self,
        target: SocketFilter | None,
        types: list[str],
        added: SocketFilter | None,
        since: int | Mapping[str, int] | None,
    ) -> None:
        """Hand off to ``target`` (``None``: every video; empty: nothing); ``added`` (``None``:
        every video but the current ones) gets history after ``since`` (per video: a
        mapping)."""
        # Validated before anything stops: a bad id or type changes nothing.
        if target is None or target.empty:
            Subscription.parse((), types)
        else:
            target.subscription(types)
        channels = {**self._channels, **await self._authorize(added)}
        previous = self._current()
        kept = previous if target is None else target & (previous or SocketFilter())
        last = self._stop()
        if self.state is SocketState.CLOSED:
            return  # the socket closed while the change was authorised: follow nothing
        self.state = SocketState.IDLE
        if target is not None and target.empty:
            await self._outbox.send_message(WsSubscribed(videos=[], head=self._hub.head))
            return
        videos = target.videos if target is not None else frozenset[str]()
        head = self._hub.head  # read and connect in one synchronous step: horizon == head
        sub = (
            Subscription.parse((), types, head)
            if target is None
            else target.subscription(types, head)
        )
        conn = self._hub.connect(
            sub,
            principal=self.principal,
            video_channels={v: channels.get(v) for v in videos},
            client_key=self._key,
            framing=Framing.WS,
            credential=self.credential,
        )
        self._conn, self.state, self._opened_at = conn, SocketState.LIVE, head
        self._channels = {v: channels.get(v) for v in videos}
        self.principal = conn.principal
        await self._outbox.send_message(
            WsSubscribed(
                videos=sorted(videos),
                channels=sorted(target.channels if target is not None else ()),
                all=target is None,
                head=head,
            )
        )
        floors = [last] if last is not None and (kept is None or not kept.empty) else []
        if added is None or not added.empty:
            floors += resume_points(since, added.videos if added is not None else None)
        self._history_floor, self._in_history = min(floors, default=None), True
        try:
            await self._handoff().send(conn, types, kept, last, added, since, head)
        finally:
            self._in_history = False
        if self._conn is conn:
            # Live (no task of its own): the hub writes the socket from its dispatch, and
            # tells this session (``ended``) if it drops the connection — at once if it did
            # during the history (access lost, too slow, NATS gone): the socket is closed with
            # its code instead of staying open on a dead subscription.
            self._hub.attach(conn, self._outbox, self)

    def _handoff(self) -> HandOffHistory:
        """Step 4's writer, made for one change and not kept: an idle socket holds nothing of
        it (measured: one kept per socket cost 0.4 KiB of RSS per idle WebSocket)."""
        return HandOffHistory(
            history=self._history,
            access=self._access,
            outbox=self._outbox,
            credential=self.credential,
            batch_timeout=self._batch_timeout,
            end=self._end,
            following=self._follows,
        )

    def _follows(self, conn: Connection) -> bool:
        return self._conn is conn

    async def _authorize(self, added: SocketFilter | None) -> dict[str, str | None]:
        """The channels of the added videos, once the caller may read each of them and each
        added channel.

        Raises:
            NotFound: a video or channel the caller may not read, or that does not exist.
        """
        if added is None or added.empty:
            return {}
        if added.channels:
            self._access.authorize(self.principal, {}, added.channels)
        if not added.videos or self.principal.reads_everything():
            return {}
        channels = await self._lookup(sorted(added.videos))
        self._access.authorize(self.principal, channels)
        return channels

    def _stop(self) -> int | None:
        """Stop following; how far the client got (``None``: nothing was followed).

        The connection was opened at the head ``H`` (:attr:`_opened_at`): the hub sends it
        only events above ``H`` — live, or in catch-up rounds after its queue overflowed while
        this socket sent history — and ``last_sent_seq`` is exactly the last one it wrote to
        the socket (frames are in the socket's output, in order, once counted). It is below
        ``H`` only if nothing was sent; then the client stands at ``H``. (The hub's
        ``horizon`` is no measure: a catch-up round moves it before sending up to it.)
        """
        conn, self._conn = self._conn, None
        if conn is None:
            return None
        self._hub.disconnect(conn)
        opened = 0 if conn.resets else self._opened_at  # recreated: the old head means nothing
        self._stopped_at = max(conn.last_sent_seq, opened)
        return self._stopped_at


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid message"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    text = str(first.get("msg", "invalid"))
    return f"{where}: {text}" if where else text
