"""Pure SSE framing: field order, multi-line data, injection refused."""

from __future__ import annotations

import pytest

from frontend_server.events.sse.wire import (
    SharedChunks,
    encode_comment,
    encode_event,
    encode_retry,
    frame_chunk,
)


def test_event_with_id_and_name() -> None:
    frame = encode_event(b'{"type":"video.status"}', event="video.status", id=1042)
    assert frame == b'id: 1042\nevent: video.status\ndata: {"type":"video.status"}\n\n'


def test_data_only_str() -> None:
    assert encode_event("hello") == b"data: hello\n\n"


def test_empty_data_is_one_empty_data_line() -> None:
    assert encode_event(b"") == b"data: \n\n"


@pytest.mark.parametrize("data", ["a\nb\nc", "a\r\nb\r\nc", "a\rb\rc", "a\nb\r\nc"])
def test_every_line_break_splits_data(data: str) -> None:
    assert encode_event(data) == b"data: a\ndata: b\ndata: c\n\n"


def test_trailing_newline_keeps_an_empty_data_line() -> None:
    # The browser joins data lines with "\n", so "x\n" must round-trip to "x\n".
    assert encode_event("x\n") == b"data: x\ndata: \n\n"


def test_utf8() -> None:
    assert encode_event("ação", event="é") == "event: é\ndata: ação\n\n".encode()


def test_retry_inside_event() -> None:
    assert encode_event("x", id="7", retry=3000) == b"id: 7\nretry: 3000\ndata: x\n\n"


@pytest.mark.parametrize("bad", ["1\n2", "1\r", "a\r\nevent: x", "a\x00"])
def test_id_injection_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        encode_event("x", id=bad)


@pytest.mark.parametrize("bad", ["a\nid: 9", "a\r", "a\r\n"])
def test_event_injection_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        encode_event("x", event=bad)


def test_comment() -> None:
    assert encode_comment() == b": ping\n\n"
    assert encode_comment("a\nb") == b": a\n: b\n\n"


def test_retry() -> None:
    assert encode_retry(3000) == b"retry: 3000\n\n"
    with pytest.raises(ValueError):
        encode_retry(-1)
    with pytest.raises(ValueError):
        encode_retry(True)


def test_frame_chunk_is_one_http_chunk() -> None:
    frame = encode_event("x" * 300, id=7)
    assert frame_chunk(frame) == b"%x\r\n" % len(frame) + frame + b"\r\n"
    assert frame_chunk(b"a") == b"1\r\na\r\n"


def test_shared_chunks_frame_each_frame_once() -> None:
    chunks = SharedChunks()
    a, b = encode_event("a", id=1), encode_event("b", id=2)
    first = chunks(a)
    assert first == frame_chunk(a)
    assert chunks(a) is first  # the same frame for the next client: framed once
    assert chunks(b) == frame_chunk(b)
    assert chunks(bytes(bytearray(a))) == first  # an equal copy is framed again, alike
