"""The live feed's reading of a JetStream reply subject (``mesh.events.js_position``) agrees
with nats-py's own ``Msg.Metadata`` on both forms (ADR-15) and refuses anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.msg import Msg

from mesh.events import js_position

_COUNTS = st.integers(min_value=0, max_value=2**63 - 1)
_STAMPS = st.integers(min_value=0, max_value=4_102_444_800 * 10**9)  # up to 2100
_NAMES = st.text("ABCXYZ_-0123456789", min_size=1, max_size=12)


@given(_NAMES, _NAMES, _COUNTS, _COUNTS, _COUNTS, _STAMPS, _COUNTS)
def test_v1_replies_read_as_nats_py_reads_them(
    stream: str, consumer: str, delivered: int, sseq: int, cseq: int, ns: int, pending: int
) -> None:
    reply = f"$JS.ACK.{stream}.{consumer}.{delivered}.{sseq}.{cseq}.{ns}.{pending}"
    _agree(reply)


@given(_NAMES, _NAMES, _COUNTS, _STAMPS, st.booleans())
def test_v2_replies_read_as_nats_py_reads_them(
    stream: str, domain: str, sseq: int, ns: int, token: bool
) -> None:
    reply = f"$JS.ACK.{domain}.ACCHASH.{stream}.cons.1.{sseq}.7.{ns}.0" + (".tok" if token else "")
    _agree(reply)


def _agree(reply: str) -> None:
    """The same sequence; the same time but for nats-py's float rounding (we truncate to the
    microsecond, exactly, as a stored message's time stamp is read)."""
    meta = Msg.Metadata._from_reply(reply)
    position = js_position(reply)
    assert position is not None
    seq, stamp = position
    assert seq == meta.sequence.stream
    assert stamp.tzinfo is not None
    assert abs(stamp - meta.timestamp) <= timedelta(microseconds=1)
    ns = int(reply.split(".")[7 if len(reply.split(".")) == 9 else 9])
    assert stamp.microsecond == ns // 1000 % 1_000_000


def test_the_time_is_truncated_to_the_microsecond() -> None:
    position = js_position("$JS.ACK.S.C.1.5.5.1700000000123456999.0")
    assert position == (5, datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC))


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "_INBOX.abc",
        "$JS.ACK.S.C.1.2.3",  # too short
        "$JS.NAK.S.C.1.2.3.4.5",  # not an ack subject
        "$JS.ACK.S.C.1.x.3.4.5",  # a sequence that is not a number
        "$JS.ACK.S.C.1.2.3.-4.5",
        "$JS.ACK.S.C.1.².3.4.5",  # a digit int() refuses
    ],
)
def test_anything_else_is_refused(reply: str) -> None:
    assert js_position(reply) is None
