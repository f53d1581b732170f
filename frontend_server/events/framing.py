"""Per-transport framing of what the hub sends (docs/contracts.md §7 SSE, §10 WebSocket), no I/O.

A connection's :class:`~frontend_server.events.conn.Framing` picks the encoder; the hub encodes a
live event once per transport and shares the bytes among that transport's clients.
"""

from __future__ import annotations

from collections.abc import Callable

from frontend_server.events.conn import Framing
from frontend_server.events.sse.wire import encode_event
from frontend_server.events.ws.wire import WS_SEPARATOR, encode_message, encode_ws_event
from mesh.events import StoredEvent
from schemas.cursors import WsReset
from schemas.events import StreamResetEventDTO

RESET_EVENT = "stream.reset"


def sse_event(event: StoredEvent) -> bytes:
    """The SSE frame of a stored event (its id is its stream sequence)."""
    return encode_event(event.data, event=event.event_type, id=event.seq)


ENCODERS: dict[Framing, Callable[[StoredEvent], bytes]] = {
    Framing.SSE: sse_event,
    Framing.WS: encode_ws_event,
}


def frame_event(framing: Framing, event: StoredEvent) -> bytes:
    """``event`` framed for ``framing``."""
    return ENCODERS[framing](event)


def frame_reset(framing: Framing, dto: StreamResetEventDTO) -> bytes:
    """A ``stream.reset`` (SSE, no id) or ``{"op":"reset",…}`` (WebSocket) message."""
    if framing is Framing.SSE:
        return encode_event(dto.model_dump_json(), event=RESET_EVENT)
    reset = WsReset(
        requested=dto.requested,
        first_available=dto.first_available,
        last=dto.last,
        reason=dto.reason,
    )
    return encode_message(reset).encode() + WS_SEPARATOR
