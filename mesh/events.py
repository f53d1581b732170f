"""Typed, idempotent publishing of video events and tolerant decoding of stored ones.

Every event carries the channel of its video in the ``Culto-Channel`` header, so the edge can
tell who may read it without looking the video up (docs/contracts.md §9 "Event streams"). Publishers
pass the record's channel (:func:`channel_of`); readers take it from the header, and an event
without a valid one (stored before channels existed) belongs to the default channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from nats.js.api import PubAck
from pydantic import ValidationError

from culto.errors import InvalidInput
from mesh.connection import MeshConnection
from mesh.errors import nats_errors
from mesh.retry import retry_within
from mesh.subjects import EVENTS_STREAM, FENCE_SUBJECT, event_subject, parse_event_subject
from schemas.events import EVENT_TYPES, VideoEvent, VideoStatusEventDTO, parse_event
from schemas.identity import CHANNEL_ID_PATTERN, DEFAULT_CHANNEL_ID
from schemas.videos import VideoStatus

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
TOMBSTONE = "video.deleted"
"""The one event a deleted video keeps in the stream (live and resuming clients learn of it)."""
CHANNEL_HEADER = "Culto-Channel"
"""The channel of the event's video (see the module docstring)."""
_CHANNEL_ID = re.compile(CHANNEL_ID_PATTERN)


def channel_of(record_channel: str | None) -> str:
    """The channel an event of a video record belongs to (no channel: the default one)."""
    return record_channel or DEFAULT_CHANNEL_ID


def _valid_channel(channel_id: str) -> str:
    if not _CHANNEL_ID.fullmatch(channel_id):
        raise InvalidInput(f"invalid channel id {channel_id[:70]!r}")
    return channel_id


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Where an event landed; ``duplicate`` when the msg-id had been stored already."""

    seq: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event read back from ``CULTO_EVENTS`` with its stream sequence.

    ``data`` is the JSON exactly as stored, so the frontend can frame it without re-encoding.
    ``channel_id`` is the channel of its video (from the ``Culto-Channel`` header).
    ``parsed`` is the validated model when the decoder kept it; :attr:`event` parses ``data``
    (already validated: its canonical encoding) on first use otherwise. A reader that keeps
    many stored events (``mesh.replay``'s cache) keeps them without their models, a few times
    smaller, since the edge only ever frames ``data``.
    """

    seq: int
    subject: str
    video_id: str
    event_type: str
    channel_id: str
    data: bytes
    parsed: VideoEvent | None = field(default=None, compare=False, repr=False)
    time: datetime | None = None

    @property
    def event(self) -> VideoEvent:
        """The event's model (parsed from ``data`` on first use when not kept)."""
        model = self.parsed
        if model is None:
            model = parse_event(self.data)
            object.__setattr__(self, "parsed", model)  # a cache of a pure function of `data`
        return model


class EventPublisher:
    """Publishes events to ``culto.events.<video_id>.<type>``.

    Args:
        mesh: The process's connection.
    """

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    async def publish(
        self, event: VideoEvent, *, channel_id: str, msg_id: str | None = None
    ) -> PublishResult:
        """Store one event of a video of ``channel_id``; with ``msg_id`` a retry inside the
        duplicate window is a no-op.

        Raises:
            InvalidInput: if the event's video id is not a valid subject token, or
                ``channel_id`` not a valid channel id.
            MeshError: if JetStream does not acknowledge.
        """
        subject = event_subject(event.video_id, event.type)
        # Always a msg-id: retried through a leader election, the event is still stored once.
        headers = {CHANNEL_HEADER: _valid_channel(channel_id), MSG_ID_HEADER: msg_id or uuid4().hex}
        data = event.model_dump_json().encode()
        what = f"publishing {event.type} for {event.video_id}"

        async def once() -> PubAck:
            with nats_errors(what):
                return await self._mesh.js.publish(
                    subject, data, stream=EVENTS_STREAM, headers=headers
                )

        ack = await retry_within(once, what=what)
        return PublishResult(seq=ack.seq, duplicate=bool(ack.duplicate) and msg_id is not None)

    async def purge_video(self, video_id: str) -> None:
        """Remove every stored event of ``video_id`` but its ``video.deleted`` tombstone (a
        deleted video's progress, summary and errors must not come back in any replay).

        One purge per event type, filtered on the video's subject: the tombstone, published
        first, stays whatever else lands meanwhile, and so do other videos' events (their
        sequences, the ids clients resume from, are untouched).

        Raises:
            InvalidInput: ``video_id`` is not a valid subject token.
            MeshError: JetStream refused the purge.
        """
        for event_type in EVENT_TYPES:
            if event_type == TOMBSTONE:
                continue
            subject = event_subject(video_id, event_type)
            with nats_errors(f"purging the events of {video_id}"):
                await self._mesh.jsm.purge_stream(EVENTS_STREAM, subject=subject)

    async def publish_status(
        self,
        video_id: str,
        status: VideoStatus,
        progress: int,
        message: str,
        *,
        channel_id: str,
        msg_id: str,
    ) -> PublishResult:
        """Publish a ``video.status`` event (always with a msg-id: status reports are retried)."""
        event = VideoStatusEventDTO(
            video_id=video_id, status=status, progress=progress, message=message
        )
        return await self.publish(event, channel_id=channel_id, msg_id=msg_id)


def decode_event(
    seq: int,
    subject: str,
    data: bytes,
    time: datetime | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    keep_model: bool = True,
) -> StoredEvent | None:
    """Decode a stored event; a malformed one is logged and ``None`` is returned (skip it).

    ``headers`` are the message's (for its channel; see :func:`stored_channel`). Without
    ``keep_model`` the validated model is dropped (:attr:`StoredEvent.event` parses it again
    when asked): for events kept long and framed from ``data``.
    """
    parsed = parse_event_subject(subject)
    if parsed is None:
        if subject == FENCE_SUBJECT:
            return None  # an identity fence mark, not an event (a reader of the whole stream)
        log.warning("skipping event seq=%s on unexpected subject %r", seq, subject[:120])
        return None
    try:
        event = parse_event(data)
    except ValidationError as exc:
        log.warning("skipping malformed event seq=%s on %s: %s", seq, subject, _first_error(exc))
        return None
    if event.video_id != parsed[0] or event.type != parsed[1]:
        log.warning("skipping event seq=%s: body does not match subject %s", seq, subject)
        return None
    # Re-encoded from the validated DTO, never relayed as stored: fields a publisher added
    # (forged or from a newer version) do not reach a browser. Our own publishers write this
    # very encoding, so honest events come out byte for byte as they went in.
    canonical = event.model_dump_json().encode()
    channel = stored_channel(headers)
    model = event if keep_model else None
    return StoredEvent(seq, subject, parsed[0], parsed[1], channel, canonical, model, time)


def stored_channel(headers: Mapping[str, str] | None) -> str:
    """The channel named by a stored event's headers; the default channel when the header is
    missing (stored before channels existed) or not a channel id."""
    value = headers.get(CHANNEL_HEADER) if headers else None
    if value is None or not _CHANNEL_ID.fullmatch(value):
        return DEFAULT_CHANNEL_ID
    return value


_V1_TOKENS = 9
"""``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>``"""
_V2_TOKENS = 11
"""``$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>``
(and possibly a random token after it)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def js_position(reply: str) -> tuple[int, datetime] | None:
    """A JetStream delivery's stream sequence and storage time, from its reply subject (ADR-15);
    ``None`` if ``reply`` is not one.

    What the live feed needs and no more: nats-py's ``Msg.metadata`` builds three objects per
    message, a fifth of the feed's own cost at thousands of events/s.
    """
    tokens = reply.split(".")
    count = len(tokens)
    if count == _V1_TOKENS:
        seq, stamp = tokens[5], tokens[7]
    elif count >= _V2_TOKENS:
        seq, stamp = tokens[7], tokens[9]
    else:
        return None
    if tokens[0] != "$JS" or tokens[1] != "ACK" or not seq.isdecimal() or not stamp.isdecimal():
        return None
    seconds, nanos = divmod(int(stamp), 1_000_000_000)
    # Truncated to microseconds, as a stored message's Nats-Time-Stamp is read
    # (mesh.direct_get.parse_time): the two read paths give the same time.
    return int(seq), _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg', '')}" if loc else str(first.get("msg", ""))
