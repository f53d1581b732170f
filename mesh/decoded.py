"""Stored events kept decoded by sequence, for :class:`~mesh.replay.EventReader`.

A reconnect storm replays the same few events to many clients, and decoding (validating,
re-encoding) one costs more than sending it: ~35 µs against ~1 µs for a hit (a status event, on
the 2 shared cores of the benchmarks). The events are kept without their Pydantic models
(``StoredEvent.parsed``: the edge frames ``data``; a service that asks for ``.event`` has it
parsed again), about 660 bytes a status event instead of ~2 KiB, and bounded by count and by
memory: a summary is tens of KiB.
"""

from __future__ import annotations

from culto.bounded import BoundedCache
from mesh.direct_get import DirectMsg
from mesh.events import CHANNEL_HEADER, StoredEvent, decode_event, stored_channel

DECODED_CACHE = 2048
"""Stored events kept decoded (the newest read): a reconnect storm replays the same few
events to many clients, and decoding (validating, re-encoding) one costs more than sending it."""
DECODED_CACHE_BYTES = 2 << 20
"""And at most this much memory, estimated (:func:`_cost`): a summary is tens of KiB."""

ENTRY_BYTES = 480
"""Memory of a kept event besides its body and subject (measured for a status event: the
object, its video id, type, channel and time, the dict slot and the sequence)."""


class DecodedEvents:
    """Decoded events by sequence, the newest (insertion order evicts the oldest): at most
    ``size`` of them and ``max_bytes`` of memory (estimated, :func:`_cost`).

    Kept without their models (``StoredEvent.parsed``: the edge frames ``data``), about a third
    of the memory: a full cache is ~1.3 MiB of status events, not ~4.5 MiB. A hit is used only
    if the message decodes to the very event kept (same subject, bytes, time and channel): a
    recreated stream reuses sequences for other events. The bytes are compared with the
    canonical body kept; a message stored in another encoding (``_Odd``) keeps its own.
    """

    __slots__ = ("_kept",)

    def __init__(self, size: int = DECODED_CACHE, max_bytes: int = DECODED_CACHE_BYTES) -> None:
        self._kept: BoundedCache[int, StoredEvent | _Odd] = BoundedCache(size, max_bytes)

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def bytes(self) -> int:
        """The estimated memory of what is kept."""
        return self._kept.bytes

    def get(self, msg: DirectMsg) -> StoredEvent | None:
        hit = self._kept.get(msg.seq)
        if hit is not None:
            if isinstance(hit, StoredEvent):
                if _same(hit, msg):
                    return hit
            elif hit.identity == _identity(msg):
                return hit.event
        event = _decode(msg)
        if event is not None and event.data == msg.data:
            kept: StoredEvent | _Odd = event
        else:
            kept = _Odd(_identity(msg), event)
        self._kept.put(msg.seq, kept, _cost(kept))
        return event


_Identity = tuple[str, bytes, object, str | None]


class _Odd:
    """A kept message whose stored bytes are not its canonical body (or that is malformed)."""

    __slots__ = ("event", "identity")

    def __init__(self, identity: _Identity, event: StoredEvent | None) -> None:
        self.identity = identity
        self.event = event


def _cost(value: StoredEvent | _Odd) -> int:
    """The estimated memory a kept value holds."""
    if isinstance(value, StoredEvent):
        return ENTRY_BYTES + len(value.data) + len(value.subject)
    event = value.event
    body = len(event.data) if event is not None else 0
    return 2 * ENTRY_BYTES + body + len(value.identity[0]) + len(value.identity[1])


def _same(event: StoredEvent, msg: DirectMsg) -> bool:
    """Whether ``msg`` decodes to ``event`` (whose bytes are the message's, see ``_Odd``): the
    decoding depends on nothing else than the subject, the bytes, the time and the channel."""
    if msg.data != event.data or msg.subject != event.subject or msg.time != event.time:
        return False
    header = msg.headers.get(CHANNEL_HEADER)
    return header == event.channel_id or stored_channel(msg.headers) == event.channel_id


def _identity(msg: DirectMsg) -> _Identity:
    """What tells one stored message from another under the same sequence (not the
    request-specific headers of a direct get: those differ per answer)."""
    return msg.subject, msg.data, msg.time, msg.headers.get(CHANNEL_HEADER)


def _decode(msg: DirectMsg) -> StoredEvent | None:
    # A direct get returns the stored headers (Culto-Channel among them) with its own.
    return decode_event(msg.seq, msg.subject, msg.data, msg.time, msg.headers, keep_model=False)
