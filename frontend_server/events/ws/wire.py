"""WebSocket message framing (docs/contracts.md §10), with no I/O: the server's JSON text messages,
each as one whole text frame (:mod:`frontend_server.events.ws.frames`).

An event is ``{"op":"event","seq":N,"event":{…}}``, built around the stored JSON without
decoding it (stored events are canonical compact JSON, see ``mesh.events.decode_event``), and
framed once: the hub shares the frame among every socket that follows the event, and a batch of
frames is written as it is.
"""

from __future__ import annotations

from pydantic import BaseModel

from frontend_server.events.ws.frames import Opcode, server_frame
from mesh.events import StoredEvent


def encode_ws_event(event: StoredEvent) -> bytes:
    """The event message for ``event``, as a text frame."""
    payload = b'{"op":"event","seq":%d,"event":%s}' % (event.seq, event.data)
    return server_frame(Opcode.TEXT, payload)


def encode_message(message: BaseModel) -> bytes:
    """A control message (``subscribed``, ``reset``, ``error``) as a text frame."""
    return server_frame(Opcode.TEXT, message.model_dump_json().encode())
