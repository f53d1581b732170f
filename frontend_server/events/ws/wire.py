"""WebSocket message framing (docs/contracts.md §10), with no I/O: the server's JSON text messages.

An event is ``{"op":"event","seq":N,"event":{…}}``, built around the stored JSON without
decoding it (stored events are canonical compact JSON, see ``mesh.events.decode_event``).
"""

from __future__ import annotations

from pydantic import BaseModel

from mesh.events import StoredEvent

WS_SEPARATOR = b"\n"
"""Ends every encoded event: the hub joins a client's pending events into one ``send``, and the
WebSocket sink splits them here (compact JSON has no raw newline, escaped ones are ``\\n``)."""


def encode_ws_event(event: StoredEvent) -> bytes:
    """The event message for ``event``, ended by :data:`WS_SEPARATOR`."""
    data = event.data
    if b"\n" in data or b"\r" in data:
        # Not our publishers' encoding, but JSON all the same: a raw line break can only be
        # whitespace between tokens (never inside a string), so dropping it keeps the value.
        data = data.replace(b"\r", b"").replace(b"\n", b"")
    return b'{"op":"event","seq":%d,"event":%s}\n' % (event.seq, data)


def encode_message(message: BaseModel) -> str:
    """A control message (``subscribed``, ``reset``, ``error``) as JSON text."""
    return message.model_dump_json()
