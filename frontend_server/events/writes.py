"""The hub's write path: queued frames to sockets, once per burst of events.

Dispatch only appends the shared frame to each matching client's queue and calls
:meth:`Writes.wake`. A live client behind a :class:`~frontend_server.events.conn.DirectSink`
(a detached socket) is then marked dirty, and once per burst of events (one ``call_soon``
after the feed's callbacks, so a burst read from NATS in one go is coalesced) :meth:`Writes.flush`
writes each dirty client's whole queue in one write, straight to its socket: no task switch,
future or coroutine per client and event. A write the socket does not take at once blocks that
client (its frames wait in its bounded queue) until the transport drains it. Other sinks (tests)
are written by the client's own task (:meth:`Writes.pump`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import cast

from frontend_server.events.conn import CloseReason, Connection, DirectSink, Framing, Sink

HEARTBEAT = 0
"""Queue entries with sequence 0 are heartbeats: never skipped, never counted."""
RESET = -1
"""A ``stream.reset`` queued because the stream was recreated: sent, and the ids that follow
start again (the new stream's are lower than what was sent)."""


class Writes:
    """Writes connections' queues (see the module docstring).

    Args:
        sent_by_type: The hub's counter of frames sent, by event type.
        drop: Ends a connection whose socket failed (the hub's).
        write_timeout: Seconds a write may stay pending before the client is dropped as slow
            (it stopped reading, or its network vanished without a FIN).
    """

    __slots__ = (
        "_dirty",
        "_drop",
        "_flush_handle",
        "_sent_by_type",
        "_write_timeout",
        "ws_frames_sent",
    )

    def __init__(
        self,
        sent_by_type: Counter[str],
        drop: Callable[[Connection, CloseReason], None],
        write_timeout: float = 30.0,
    ) -> None:
        self._sent_by_type = sent_by_type
        self._drop = drop
        self._write_timeout = write_timeout
        self._dirty: list[Connection] = []  # live direct clients with frames to write
        self._flush_handle: asyncio.Handle | None = None
        self.ws_frames_sent = 0
        """Live frames written to WebSocket connections (their ``messages_sent`` figure)."""

    def take(self, client: Connection) -> bytes:
        """The whole queue as one write (one write per wake-up, whatever the backlog); frames
        at or below ``last_sent_seq`` were sent by replay/snapshot already and are skipped."""
        queue = client.queue
        if len(queue) == 1:  # the common case when live: no list, no join
            seq, event_type, frame = queue[0]
            queue.clear()
            if seq != HEARTBEAT:
                if seq <= client.last_sent_seq:
                    if seq != RESET:
                        return b""
                    client.last_sent_seq = 0
                    return frame
                client.last_sent_seq = seq
                self._sent_by_type[event_type] += 1
            return frame
        out: list[bytes] = []
        last = client.last_sent_seq
        sent = self._sent_by_type
        for seq, event_type, frame in queue:
            if seq != HEARTBEAT:
                if seq <= last:
                    if seq != RESET:
                        continue
                    last = 0  # the new stream's ids start again
                else:
                    last = seq
                    sent[event_type] += 1
            out.append(frame)
        queue.clear()
        client.last_sent_seq = last
        return b"".join(out)

    def wake(self, client: Connection) -> None:
        """``client``'s queue just became non-empty: have it written."""
        if client.direct is None:
            resolve(client.waiter)  # its task writes (or history is still going on)
        elif not client.blocked:
            self._dirty.append(client)
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write every dirty client once (after a burst of events: coalesced)."""
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for client in dirty:
            self.write(client)

    def write(self, client: Connection) -> None:
        """Write ``client``'s queue to its direct sink now, unless a write is pending."""
        direct = client.direct
        if direct is None or client.blocked or not client.queue:
            return  # gone, or a write is pending (its completion writes the rest)
        if client.framing is not _SSE:
            self.ws_frames_sent += len(client.queue)
        data = self.take(client)
        if not data:
            return
        pending = direct.push(data)
        if pending is not None:
            client.blocked = True
            pending.add_done_callback(partial(self._unblocked, client))
            # Write deadline: a client that stopped reading must not hold its slot forever.
            client.stall_timer = asyncio.get_running_loop().call_later(
                self._write_timeout, self._stalled, client
            )

    def _stalled(self, client: Connection) -> None:
        client.stall_timer = None
        if client.blocked and client.close_reason is None:  # the write deadline passed
            self._drop(client, CloseReason.SLOW)

    def _unblocked(self, client: Connection, done: asyncio.Future[None]) -> None:
        client.blocked = False
        if client.stall_timer is not None:
            client.stall_timer.cancel()
            client.stall_timer = None
        if done.cancelled() or done.exception() is not None:
            self._drop(client, CloseReason.CLIENT_GONE)  # the connection failed
        else:
            self.write(client)

    async def pump(self, client: Connection, sink: Sink) -> None:
        """Write live frames until the connection ends (history is out: anything queued
        meanwhile goes first)."""
        if getattr(sink, "push", None) is not None:
            # From here on the hub writes this client from its dispatch (see flush).
            client.direct = cast(DirectSink, sink)
            self.write(client)
            while client.close_reason is None:
                await _sleep(client)
            return
        while client.close_reason is None:
            if not client.queue:
                await _sleep(client)
                continue
            data = self.take(client)
            if data:
                await sink.send(data)


async def _sleep(client: Connection) -> None:
    waiter = client.waiter = asyncio.get_running_loop().create_future()
    try:
        await waiter
    finally:
        client.waiter = None


def resolve(waiter: asyncio.Future[None] | None) -> None:
    """Wake a writer sleeping on ``waiter`` (if any)."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


_SSE = Framing.SSE
