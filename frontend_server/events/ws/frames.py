"""RFC 6455 framing, no I/O: server frames written whole, client frames read robustly.

The server sends unmasked, unfragmented frames without extensions (no compression is
negotiated): a frame is a 2-, 4- or 10-byte head and the payload, so an event's frame is built
once and written as is to every socket that follows it.

:class:`FrameReader` parses what a client sends, fed with whatever the socket returned (any
split). It enforces what the RFC requires of a client and what this server allows:

* every client frame is masked; reserved bits are zero (no extension was negotiated);
* opcodes: continuation, text, binary, close, ping, pong (others: 1002);
* control frames are unfragmented and at most 125 bytes; they may come between the fragments of
  a message;
* a continuation only inside a fragmented message, a new data frame never inside one (1002);
* a message (all its fragments) is at most ``max_size`` bytes (1009, found from the frame heads,
  before the payload is buffered); text is UTF-8 (1007), checked when the message is whole;
* a close frame's payload is empty or a valid code (1002 otherwise) and a UTF-8 reason (1007).

A violation raises :class:`ProtocolError` carrying the close code to answer with.
"""

from __future__ import annotations

import struct
from enum import IntEnum

__all__ = [
    "FrameReader",
    "Opcode",
    "ProtocolError",
    "close_frame",
    "server_frame",
]


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 §5.2)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class ProtocolError(Exception):
    """The client broke the protocol: close with ``code``.

    Attributes:
        code: 1002 protocol error, 1007 invalid UTF-8, 1009 message too big.
        reason: A short text for the close frame.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


_DATA = frozenset({Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY})
_CONTROL = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})
_MAX_CONTROL = 125


def server_frame(opcode: Opcode, payload: bytes = b"") -> bytes:
    """One unmasked, final frame."""
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        return bytes((first, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


def close_frame(code: int | None = None, reason: str = "") -> bytes:
    """A close frame; the reason is cut to fit a control frame (123 bytes of UTF-8)."""
    if code is None:
        return server_frame(Opcode.CLOSE)
    text = reason.encode()[: _MAX_CONTROL - 2].decode(errors="ignore").encode()
    return server_frame(Opcode.CLOSE, struct.pack("!H", code) + text)


def valid_close_code(code: int) -> bool:
    """Codes a peer may send (RFC 6455 §7.4: 1004 to 1006 and 1015 are never sent)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def unmask(mask: bytes, data: bytes) -> bytes:
    """``data`` XOR the repeated 4-byte ``mask`` (as big integers: one pass in C)."""
    size = len(data)
    if not size:
        return b""
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


class FrameReader:
    """Client frames in, whole messages and control frames out (see the module docstring).

    Feed bytes with :meth:`feed`, then call :meth:`next` until it returns ``None``. Slotted and
    empty between messages (an idle socket keeps no buffer).

    Args:
        max_size: Largest message, all fragments together.
    """

    __slots__ = ("_buf", "_fragments", "_kind", "_size", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buf: bytearray | None = None
        self._fragments: list[bytes] | None = None  # of a fragmented message, in order
        self._kind = Opcode.TEXT  # the fragmented message's opcode
        self._size = 0  # its bytes so far

    @property
    def buffered(self) -> int:
        """Bytes received and not parsed yet."""
        return len(self._buf) if self._buf is not None else 0

    def feed(self, data: bytes) -> None:
        """Bytes as the socket returned them."""
        if not data:
            return
        if self._buf is None:
            self._buf = bytearray(data)
        else:
            self._buf += data

    def next(self) -> tuple[Opcode, bytes] | None:
        """The next whole message (``TEXT``/``BINARY``, payload joined) or control frame
        (``CLOSE``/``PING``/``PONG``, its payload); ``None`` until more bytes arrive.

        Raises:
            ProtocolError: the bytes break the protocol (the reader is then unusable).
        """
        while True:
            frame = self._frame()
            if frame is None:
                return None
            fin, opcode, payload = frame
            message = self._assemble(fin, opcode, payload)
            if message is not None:
                return message

    def _frame(self) -> tuple[bool, Opcode, bytes] | None:
        buf = self._buf
        if buf is None or len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        if first & 0x70:
            raise ProtocolError(1002, "reserved bits set without an extension")
        try:
            opcode = Opcode(first & 0x0F)
        except ValueError:
            raise ProtocolError(1002, f"unknown opcode {first & 0x0F}") from None
        if not second & 0x80:
            raise ProtocolError(1002, "client frames must be masked")
        fin = bool(first & 0x80)
        size, at = second & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                return None
            size, at = struct.unpack_from("!H", buf, 2)[0], 4
        elif size == 127:
            if len(buf) < 10:
                return None
            size, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if size >> 63:
                raise ProtocolError(1002, "frame length out of range")
        self._check_head(fin, opcode, size)
        end = at + 4 + size
        if len(buf) < end:
            return None
        payload = unmask(bytes(buf[at : at + 4]), bytes(buf[at + 4 : end]))
        if end == len(buf):
            self._buf = None
        else:
            del buf[:end]
        return fin, opcode, payload

    def _check_head(self, fin: bool, opcode: Opcode, size: int) -> None:
        """Refuse a frame from its head, before buffering its payload."""
        if opcode in _CONTROL:
            if not fin or size > _MAX_CONTROL:
                raise ProtocolError(1002, "control frames are final and at most 125 bytes")
            return
        if opcode is Opcode.CONTINUATION:
            if self._fragments is None:
                raise ProtocolError(1002, "continuation frame outside a fragmented message")
            total = self._size + size
        else:
            if self._fragments is not None:
                raise ProtocolError(1002, "new message inside a fragmented message")
            total = size
        if total > self.max_size:
            raise ProtocolError(1009, f"message over {self.max_size} bytes")

    def _assemble(self, fin: bool, opcode: Opcode, payload: bytes) -> tuple[Opcode, bytes] | None:
        if opcode in _CONTROL:
            if opcode is Opcode.CLOSE:
                _check_close(payload)
            return opcode, payload
        if opcode is not Opcode.CONTINUATION:
            if fin:
                return _checked(opcode, payload)
            self._fragments, self._kind, self._size = [payload], opcode, len(payload)
            return None
        assert self._fragments is not None  # _check_head refused it otherwise
        self._fragments.append(payload)
        self._size += len(payload)
        if not fin:
            return None
        whole = b"".join(self._fragments)
        self._fragments, self._size = None, 0
        return _checked(self._kind, whole)


def _checked(opcode: Opcode, payload: bytes) -> tuple[Opcode, bytes]:
    if opcode is Opcode.TEXT:
        try:
            payload.decode()
        except UnicodeDecodeError:
            raise ProtocolError(1007, "text message is not UTF-8") from None
    return opcode, payload


def _check_close(payload: bytes) -> None:
    if not payload:
        return
    if len(payload) == 1:
        raise ProtocolError(1002, "close frame with a one-byte payload")
    code = struct.unpack_from("!H", payload)[0]
    if not valid_close_code(code):
        raise ProtocolError(1002, f"invalid close code {code}")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError(1007, "close reason is not UTF-8") from None


def close_code(payload: bytes) -> int | None:
    """The code of a (checked) close frame's payload; ``None`` when it carries none."""
    return struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else None
