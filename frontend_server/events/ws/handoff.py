"""Step 4 of a WebSocket subscription change: the history written to the socket before its
connection goes live (:mod:`frontend_server.events.ws.session` has the whole hand-off).

The session has opened the new filter's hub connection at the head ``H`` and told the client
``subscribed``; here the kept videos' events the old connection had not sent (after ``L``) and
the added videos' history (after ``since``, or their current state) are read
(:class:`~frontend_server.events.ws.history.SocketHistory`, authorised event by event) and
written, a batch at a time, paced by the socket. The connection's own live events (``> H``) wait
in its queue meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import BaseModel

from access.principals import Credential
from culto.errors import HistoryTrimmed
from frontend_server.events.access import HubAccess
from frontend_server.events.conn import CloseReason, Connection, Framing, Sink, Subscription
from frontend_server.events.history import Reset
from frontend_server.events.ws.codes import CLOSE_FOR, CloseCode
from frontend_server.events.ws.filter import SocketFilter
from frontend_server.events.ws.history import SocketHistory, resume_groups
from frontend_server.events.ws.wire import encode_ws_event


class Outbox(Sink, Protocol):
    """The transport of one socket (:class:`~frontend_server.events.ws.socket.WsStream`): also
    the hub's direct sink of the socket's connection."""

    async def send(self, data: bytes) -> bool:
        """Frames (:func:`encode_ws_event`), awaiting the socket; ``False`` if it closed."""

    async def send_message(self, message: BaseModel) -> None:
        """One control message."""

    def close(self, code: int, reason: str) -> None:
        """Close the socket with ``code``."""


class HandOffHistory:
    """Writes a change's history to one socket (see the module docstring).

    Args:
        history: Reads the history.
        access: The hub's policy questions (each event is authorised).
        outbox: The socket.
        credential: The caller's credential as presented (a followed channel's videos are
            listed with it).
        batch_timeout: Seconds a client may take to accept one batch; then it is closed as slow.
        end: Closes the socket with a code and reason (the session's).
        following: Whether the session still follows through a connection (a later change or
            a close ends this history).
    """

    __slots__ = (
        "_access",
        "_batch_timeout",
        "_credential",
        "_end",
        "_following",
        "_history",
        "_outbox",
    )

    def __init__(
        self,
        *,
        history: SocketHistory,
        access: HubAccess,
        outbox: Outbox,
        credential: Credential | None,
        batch_timeout: float,
        end: Callable[[CloseCode, str], None],
        following: Callable[[Connection], bool],
    ) -> None:
        self._history = history
        self._access = access
        self._outbox = outbox
        self._credential = credential
        self._batch_timeout = batch_timeout
        self._end = end
        self._following = following

    async def send(
        self,
        conn: Connection,
        types: list[str],
        kept: SocketFilter | None,
        last: int | None,
        added: SocketFilter | None,
        since: int | Mapping[str, int] | None,
        head: int,
    ) -> None:
        """Step 4: what was kept (``None``: everything) after ``last``, then what was added
        (``None``: every video but the kept ones) after ``since`` (per video: a mapping). An
        added video or channel overlapping what was kept (a video of a followed channel) is
        complete already: its kept events are not sent twice. ``head`` is where ``conn`` was
        opened: no history above it (the hub sends that, live)."""
        if last is not None and (kept is None or not kept.empty):
            every = Subscription.parse((), types, last)
            await self._send_history(
                conn, every if kept is None else kept.subscription(types, last), head
            )
        exclude = kept or SocketFilter()
        if added is None:
            point = since if isinstance(since, int) else None
            if point is not None:  # every video: history only with a resume point
                point = await self._resume_point(conn, point, head)
            if point is not None:
                every = Subscription.parse((), types, point)
                await self._send_history(conn, every, head, exclude=exclude)
            return
        for part, point in resume_groups(added, since):
            if point is not None:
                point = await self._resume_point(conn, point, head)
            await self._send_history(conn, part.subscription(types, point), head, exclude=exclude)

    async def _resume_point(self, conn: Connection, since: int, head: int) -> int | None:
        """``since``, or ``None`` (the current state follows) after sending a ``reset`` when
        the stream cannot resume there."""
        point = await self._history.resume_point(since, head)
        if isinstance(point, int):
            return point
        if conn.close_reason is None and self._following(conn):
            await self._outbox.send(point.frame(Framing.WS))
        return None

    async def _send_history(
        self,
        conn: Connection,
        sub: Subscription,
        head: int,
        *,
        exclude: SocketFilter | None = None,
    ) -> None:
        history = self._history.events(
            self._access,
            conn.principal,
            sub,
            head,
            exclude=exclude or SocketFilter(),
            credential=self._credential,
        )
        try:
            async with contextlib.aclosing(history) as batches:
                async for batch in batches:
                    if conn.close_reason is not None or not self._following(conn):
                        return
                    data = b"".join(encode_ws_event(e) for e in batch)
                    try:
                        sent = await asyncio.wait_for(self._outbox.send(data), self._batch_timeout)
                    except TimeoutError:
                        self._end(*CLOSE_FOR[CloseReason.SLOW])
                        return
                    if not sent:
                        return  # the socket closed: its session ends
        except HistoryTrimmed as gone:
            # Retention trimmed what was still to be sent: a reset, then the current state.
            requested = sub.last_event_id or 0
            reset = Reset(requested, gone.first_available, head, "trimmed")
            await self._outbox.send(reset.frame(Framing.WS))
            state = dataclasses.replace(sub, last_event_id=None)
            await self._send_history(conn, state, head, exclude=exclude)
