"""The RFC 6455 reader and writer, property-tested (hypothesis): whatever the fragmentation,
the interleaved control frames, the masks and how the bytes are split into reads, the reader
returns exactly the messages sent; and no byte sequence makes it fail otherwise than with a
close code."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontend_server.events.ws.frames import (
    FrameReader,
    Opcode,
    ProtocolError,
    close_frame,
    server_frame,
    unmask,
)

MAX = 4096


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes = b"") -> bytes:
    """A masked client frame (``mask`` random when empty); any opcode, for bad ones too."""
    mask = mask or os.urandom(4)
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    return head + mask + unmask(mask, payload)


def read_all(reader: FrameReader, data: bytes, cuts: list[int]) -> list[tuple[Opcode, bytes]]:
    """Feed ``data`` split at ``cuts``, collecting everything the reader returns."""
    out: list[tuple[Opcode, bytes]] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        reader.feed(data[start:cut])
        start = max(start, cut)
        while (item := reader.next()) is not None:
            out.append(item)
    return out


texts = st.text(max_size=300).map(str.encode)
binaries = st.binary(max_size=300)
controls = st.sampled_from([Opcode.PING, Opcode.PONG]).flatmap(
    lambda op: st.binary(max_size=125).map(lambda p: (op, p))
)


@st.composite
def conversations(draw: st.DrawFn) -> tuple[bytes, list[tuple[Opcode, bytes]], list[int]]:
    """Messages fragmented at random, control frames between fragments, random splits."""
    wire, expected = b"", []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from([Opcode.TEXT, Opcode.BINARY]))
        payload = draw(texts if kind is Opcode.TEXT else binaries)
        pieces = draw(st.integers(1, 4))
        bounds = sorted(draw(st.lists(st.integers(0, len(payload)), min_size=pieces - 1,
                                      max_size=pieces - 1)))  # fmt: skip
        parts = [payload[a:b] for a, b in zip([0, *bounds], [*bounds, len(payload)], strict=True)]
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            wire += client_frame(kind if n == 0 else Opcode.CONTINUATION, part, fin=last)
            if last:
                expected.append((kind, payload))
            for op, body in draw(st.lists(controls, max_size=2)):
                wire += client_frame(op, body)
                expected.append((op, body))
    cuts = draw(st.lists(st.integers(0, len(wire)), max_size=8))
    # Control frames come out when read, messages when their last fragment is: the order in
    # which `expected` was built.
    return wire, expected, cuts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations())
def test_messages_come_out_whole_whatever_the_fragmentation_and_splits(
    case: tuple[bytes, list[tuple[Opcode, bytes]], list[int]],
) -> None:
    wire, expected, cuts = case
    reader = FrameReader(MAX)
    assert read_all(reader, wire, cuts) == expected
    assert reader.buffered == 0


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=5))
def test_any_bytes_give_messages_or_a_close_code(data: bytes, cuts: list[int]) -> None:
    reader = FrameReader(64)
    try:
        read_all(reader, data, cuts)
    except ProtocolError as exc:
        assert exc.code in (1002, 1007, 1009)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3), st.binary(min_size=1, max_size=40))
def test_a_message_over_the_limit_is_1009_from_the_heads(pieces: int, chunk: bytes) -> None:
    reader = FrameReader(len(chunk) * (pieces + 1) - 1)  # one byte short of the whole message
    wire = client_frame(Opcode.BINARY, chunk, fin=pieces == 0)
    for n in range(pieces):
        wire += client_frame(Opcode.CONTINUATION, chunk, fin=n == pieces - 1)
    # Only the heads are needed to refuse: the last frame's payload is never waited for.
    with pytest.raises(ProtocolError) as refused:
        read_all(reader, wire[: len(wire) - len(chunk)], [])
    assert refused.value.code == 1009


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (bytes((0x81, 0x05)) + b"hello", 1002),  # not masked
        (bytes((0xC1, 0x80)) + b"\0\0\0\0", 1002),  # RSV1 without an extension
        (bytes((0x83, 0x80)) + b"\0\0\0\0", 1002),  # reserved opcode
        (client_frame(Opcode.CONTINUATION, b"x"), 1002),  # nothing to continue
        (client_frame(Opcode.PING, b"x", fin=False), 1002),  # fragmented control frame
        (client_frame(Opcode.PING, b"x" * 126), 1002),  # control frame over 125 bytes
        (client_frame(Opcode.TEXT, b"a", fin=False) + client_frame(Opcode.TEXT, b"b"), 1002),
        (client_frame(Opcode.TEXT, b"\xff\xfe"), 1007),  # not UTF-8
        (client_frame(Opcode.CLOSE, b"\x03"), 1002),  # one-byte close payload
        (client_frame(Opcode.CLOSE, struct.pack("!H", 1005)), 1002),  # never sent on the wire
        (client_frame(Opcode.CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
        (client_frame(Opcode.TEXT, b"x" * (MAX + 1)), 1009),
    ],
)
def test_protocol_violations_have_their_close_code(wire: bytes, code: int) -> None:
    with pytest.raises(ProtocolError) as refused:
        read_all(FrameReader(MAX), wire, [])
    assert refused.value.code == code


def test_a_text_split_inside_a_character_is_whole_once_joined() -> None:
    text = "Sermão".encode()
    wire = client_frame(Opcode.TEXT, text[:5], fin=False)
    wire += client_frame(Opcode.CONTINUATION, text[5:])
    assert read_all(FrameReader(MAX), wire, [3, 9]) == [(Opcode.TEXT, text)]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_server_frames_are_final_unmasked_and_sized(size: int) -> None:
    frame = server_frame(Opcode.TEXT, b"x" * size)
    assert frame[0] == 0x81 and not frame[1] & 0x80
    head = 2 if size < 126 else 4 if size < 65536 else 10
    assert len(frame) == head + size


def test_close_frames_carry_the_code_and_fit_a_control_frame() -> None:
    frame = close_frame(1008, "é" * 100)  # 200 bytes of UTF-8: cut, on a character boundary
    assert frame[0] == 0x88 and frame[1] <= 125
    assert struct.unpack("!H", frame[2:4])[0] == 1008
    frame[4:].decode()
    assert close_frame() == bytes((0x88, 0))
