"""Server-Sent Events framing (the ``text/event-stream`` wire format), with no I/O.

A frame is a block of ``field: value`` lines ended by a blank line. ``data`` may span lines (each
becomes its own ``data:`` line and the browser joins them with ``\\n``); ``id`` and ``event``
cannot, because a newline there would let a value inject fields of its own.
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


def encode_event(
    data: bytes | str,
    *,
    event: str | None = None,
    id: int | str | None = None,  # the SSE field is called "id"
    retry: int | None = None,
) -> bytes:
    """One SSE frame.

    Args:
        data: The payload; line breaks (CRLF, CR, LF) split it into several ``data:`` lines.
        event: The event name (``event:`` field); ``None`` leaves the browser's default.
        id: The event id; a client resumes after it with ``Last-Event-ID``.
        retry: Reconnection delay in milliseconds for the browser.

    Returns:
        The frame as UTF-8 bytes, ending with the blank line.

    Raises:
        ValueError: if ``event`` or ``id`` contains a line break (or ``id`` a NUL), or
            ``retry`` is negative.
    """
    parts: list[bytes] = []
    if id is not None:
        text = str(id)
        if _LINE_BREAK.search(text) or "\x00" in text:
            raise ValueError("an SSE id cannot contain a line break or NUL")
        parts.append(b"id: " + text.encode())
    if event is not None:
        if _LINE_BREAK.search(event):
            raise ValueError("an SSE event name cannot contain a line break")
        parts.append(b"event: " + event.encode())
    if retry is not None:
        parts.append(_retry_line(retry))
    raw = data.encode() if isinstance(data, str) else data
    parts.extend(b"data: " + line for line in _LINE_BREAK_BYTES.split(raw))
    return b"\n".join(parts) + b"\n\n"


def frame_chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk (``Transfer-Encoding: chunked``): hex size, CRLF, data,
    CRLF. ``data`` must not be empty (an empty chunk ends the body)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class SharedChunks:
    """:func:`frame_chunk` that frames a frame once for all the clients it goes to.

    The hub writes one event's frame object to each matching client in turn (one flush), so
    remembering the last input by identity frames it once per event, not once per client.
    """

    __slots__ = ("_chunk", "_data")

    def __init__(self) -> None:
        self._data = b""
        self._chunk = b""

    def __call__(self, data: bytes) -> bytes:
        """``frame_chunk(data)``, reused while ``data`` is the same object as last time."""
        if data is not self._data:
            self._chunk = frame_chunk(data)
            self._data = data
        return self._chunk


def encode_comment(text: str = "ping") -> bytes:
    """A comment frame (``: ping``), ignored by browsers; keeps proxies from timing out."""
    lines = _LINE_BREAK.split(text)
    return "".join(f": {line}\n" for line in lines).encode() + b"\n"


def encode_retry(ms: int) -> bytes:
    """A frame that only sets the browser's reconnection delay."""
    return _retry_line(ms) + b"\n\n"


def _retry_line(ms: int) -> bytes:
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
        raise ValueError("SSE retry must be a non-negative integer of milliseconds")
    return b"retry: %d" % ms
