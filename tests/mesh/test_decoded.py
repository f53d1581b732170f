"""EventReader's cache of decoded events (``mesh.decoded.DecodedEvents``): bounded by count and
by memory, kept without models, a hit only for the very message decoded (no NATS needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mesh.decoded import ENTRY_BYTES, DecodedEvents
from mesh.direct_get import DirectMsg
from mesh.events import CHANNEL_HEADER
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID

pytestmark = pytest.mark.timeout(10)

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
BIG = 1 << 30


def message(seq: int, video: str, progress: int = 1, channel: str | None = None) -> DirectMsg:
    body = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=progress)
    headers = {"Nats-Sequence": str(seq)}  # a direct get's own headers differ per answer
    if channel is not None:
        headers[CHANNEL_HEADER] = channel
    subject = f"culto.events.{video}.video.status"
    return DirectMsg(seq, subject, body.model_dump_json().encode(), headers, WHEN)


def again(msg: DirectMsg) -> DirectMsg:
    """The same stored message in another answer: equal, never the same objects."""
    headers = {**msg.headers, "Nats-Sequence": f"{msg.seq} "}
    return DirectMsg(msg.seq, msg.subject[:], bytes(bytearray(msg.data)), headers, msg.time)


def test_a_hit_is_the_very_event_kept_without_its_model() -> None:
    cache = DecodedEvents(8, BIG)
    msg = message(1, new_video_id(), channel="ch1")
    event = cache.get(msg)
    assert event is not None and event.parsed is None  # kept without the model
    assert cache.get(again(msg)) is event
    # The model is still there when asked for, parsed from the canonical body.
    assert isinstance(event.event, VideoStatusEventDTO) and event.event.progress == 1
    assert (event.channel_id, event.video_id, event.seq) == ("ch1", msg.subject.split(".")[2], 1)


def test_another_message_under_the_same_sequence_is_decoded_anew() -> None:
    """A recreated stream reuses sequences: subject, body, time and channel all count."""
    cache = DecodedEvents(8, BIG)
    video = new_video_id()
    first = cache.get(message(1, video, channel="ch1"))
    for other in (
        message(1, video, progress=2, channel="ch1"),  # another body
        message(1, new_video_id(), channel="ch1"),  # another subject
        message(1, video, channel="ch2"),  # another channel
    ):
        decoded = cache.get(other)
        assert decoded is not None and decoded is not first
        assert cache.get(again(other)) is decoded
    moved = DirectMsg(1, other.subject, other.data, other.headers, datetime.now(UTC))
    assert cache.get(moved) is not cache.get(other)  # another time
    assert len(cache) == 1


def test_a_missing_channel_header_is_the_default_channel_and_still_hits() -> None:
    cache = DecodedEvents(8, BIG)
    msg = message(1, new_video_id())
    event = cache.get(msg)
    assert event is not None and event.channel_id == DEFAULT_CHANNEL_ID
    assert cache.get(again(msg)) is event


def test_a_body_in_another_encoding_is_compared_raw() -> None:
    """Stored bytes that are not the canonical encoding (extra spaces, unknown fields) are
    re-encoded for clients; the cache compares the raw bytes it was given."""
    cache = DecodedEvents(8, BIG)
    msg = message(1, new_video_id())
    raw = msg.data.replace(b",", b", ")
    spaced = DirectMsg(1, msg.subject, raw, msg.headers, msg.time)
    event = cache.get(spaced)
    assert event is not None and event.data == msg.data  # canonical, not the stored bytes
    assert cache.get(again(spaced)) is event
    assert cache.get(msg) is not event  # the canonical bytes are another stored message


def test_malformed_messages_are_remembered_as_skipped() -> None:
    cache = DecodedEvents(8, BIG)
    msg = message(1, new_video_id())
    broken = DirectMsg(1, msg.subject, b'{"type": "video.status"}', msg.headers, msg.time)
    assert cache.get(broken) is None and cache.get(again(broken)) is None
    assert len(cache) == 1
    assert cache.get(msg) is not None


def test_bounded_by_count_evicting_the_oldest() -> None:
    cache = DecodedEvents(3, BIG)
    video = new_video_id()
    msgs = [message(seq, video, progress=seq) for seq in range(1, 6)]
    events = [cache.get(m) for m in msgs]
    assert len(cache) == 3
    for msg, event in zip(msgs[2:], events[2:], strict=True):
        assert cache.get(again(msg)) is event  # the newest three are kept
    assert cache.get(again(msgs[0])) is not events[0]  # the oldest was evicted


def test_bounded_by_memory() -> None:
    """A few large events (summaries are tens of KiB) do not hold the count's worth of memory;
    one larger than the whole cache is decoded but not kept."""
    video = new_video_id()
    long = VideoStatusEventDTO(video_id=video, status="PROCESSING", progress=1, message="x" * 5000)
    subject = f"culto.events.{video}.video.status"
    body = long.model_dump_json().encode()
    size = ENTRY_BYTES + len(body) + len(subject)
    cache = DecodedEvents(100, 3 * size)
    msgs = [DirectMsg(seq, subject, body, {}, WHEN) for seq in range(1, 6)]
    events = [cache.get(m) for m in msgs]
    assert len(cache) == 3 and cache.bytes == 3 * size
    assert cache.get(again(msgs[-1])) is events[-1]
    assert cache.get(again(msgs[0])) is not events[0]
    small = DecodedEvents(100, size - 1)
    assert small.get(msgs[0]) is not None
    assert len(small) == 0 and small.bytes == 0


def test_the_memory_estimate_follows_evictions_and_replacements() -> None:
    cache = DecodedEvents(2, BIG)
    video = new_video_id()
    for seq in range(1, 10):
        cache.get(message(seq, video))
        cache.get(message(seq, video, progress=7))  # replaced under the same sequence
    msg = message(9, video, progress=7)
    assert len(cache) == 2
    assert cache.bytes == 2 * (ENTRY_BYTES + len(msg.data) + len(msg.subject))


def test_decoding_events_keeps_no_strings_of_theirs() -> None:
    """pydantic-core's JSON string cache (process-wide, up to 16,384 strings) is not filled by
    stored events, whose values are nearly all new: decoding thousands keeps nothing."""
    import gc
    import tracemalloc

    cache = DecodedEvents(1, BIG)  # each message decoded, none kept but the last
    video = new_video_id()
    for seq in range(1, 200):
        cache.get(message(seq, video, progress=seq % 100))
    gc.collect()
    tracemalloc.start()
    try:
        for seq in range(200, 5200):
            body = VideoStatusEventDTO(
                video_id=video, status="PROCESSING", progress=1, message=f"m{seq}"
            )
            raw = body.model_dump_json().encode()
            cache.get(DirectMsg(seq, f"culto.events.{video}.video.status", raw, {}, WHEN))
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 64 * 1024  # with the cache of strings: ~300 KiB for 5,000 events
