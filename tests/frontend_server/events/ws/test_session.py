"""The WebSocket session without a socket or NATS (frontend_server/events/ws/session.py).

``EventSocket`` is driven through its public interface (``admit``, ``handle``, ``ended``,
``close``, ``position``) and writes to a fake outbox that decodes every frame it is given, so
each test reads the exact message sequence a client would. The hub is a small fake that
authorises and registers connections as ``EventHub.connect`` does and writes live events to the
attached outbox; history comes from the real ``SocketHistory`` over an in-memory event list
(session_rig.py). The queue of messages in front of the session: test_socket_queue.py.
Each test names the rule of docs/contracts.md §10 (or of the session's docstring) it checks.
"""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import timedelta

import pytest

from culto.buckets import TokenBuckets
from frontend_server.events.conn import CloseReason
from frontend_server.events.ws import session as session_module
from frontend_server.events.ws.codes import MAX_ERRORS, CloseCode
from frontend_server.events.ws.session import SocketState
from frontend_server.security.limits import WS_BURST
from schemas.timestamps import utc_now
from tests.frontend_server.events.fakes import error
from tests.frontend_server.events.ws.session_rig import (
    OTHER,
    PRIV,
    PUB,
    Rig,
    event_seqs,
    subscribed,
)

pytestmark = pytest.mark.timeout(5)

# -- subscribe ------------------------------------------------------------------------------


async def test_subscribe_answers_subscribed_then_the_current_state_then_live() -> None:
    """§10 "subscribed … head"; without since, the current state as a new SSE connection
    gets it (§7); then live, ascending."""
    rig = Rig()
    video = rig.video()
    rig.stored(video, 2)
    failed = rig.store.store(error(video), PRIV).seq
    latest = rig.stored(video)[0]
    got = await rig.send(op="subscribe", videos=[video])
    assert subscribed(got) == {
        "op": "subscribed",
        "videos": [video],
        "channels": [],
        "all": False,
        "head": latest,
    }
    assert event_seqs(got) == [failed, latest]  # the latest of each type, ascending
    assert got[1]["event"]["type"] == "error"
    assert rig.session.state is SocketState.LIVE and rig.session.position == latest
    seq = rig.live(video)
    assert rig.outbox.seqs() == [seq] and rig.session.position == seq


async def test_since_replays_what_the_added_videos_missed() -> None:
    """§10: a subscribe with since replays the added videos' history after it, then live."""
    rig = Rig()
    video, other = rig.video(), rig.video()
    seqs = rig.stored(video, 2)
    rig.stored(other)
    more = rig.stored(video, 2)
    got = await rig.send(op="subscribe", videos=[video], since=seqs[0])
    assert event_seqs(got) == [seqs[1], *more]


async def test_per_video_since_is_an_exact_resume_point_for_each_video() -> None:
    """§10: since may be per video, {"<video id>": seq}: each video's highest seq received."""
    rig = Rig()
    a, b, c = rig.video(), rig.video(), rig.video()
    for _ in range(3):
        rig.stored(a)
        rig.stored(b)
    rig.stored(c)  # no position: its current state
    a_seqs = [e.seq for e in rig.store.events if e.video_id == a]
    b_seqs = [e.seq for e in rig.store.events if e.video_id == b]
    since = {a: a_seqs[1], b: b_seqs[0]}
    got = await rig.send(op="subscribe", videos=[a, b, c], since=since)
    assert event_seqs(got, a) == a_seqs[2:]
    assert event_seqs(got, b) == b_seqs[1:]
    assert event_seqs(got, c) == [rig.store.last]


async def test_per_video_since_naming_another_video_is_refused_and_changes_nothing() -> None:
    """§10: per-video positions name videos of this subscribe only."""
    rig = Rig()
    video = rig.video()
    for message in (
        {"op": "subscribe", "videos": [video], "since": {rig.video(): 1}},
        {"op": "subscribe", "since": {video: 1}},  # no videos named
    ):
        got = await rig.send(**message)
        assert [(m["op"], m["code"]) for m in got] == [("error", "invalid_message")]
    assert not rig.hub.conns and rig.session.state is SocketState.IDLE


async def test_a_trimmed_since_is_reset_then_the_current_state() -> None:
    """§10 {"op":"reset",…as stream.reset…}: a since retention trimmed is said in-band (no
    seq), then the current state follows; nothing is silently skipped."""
    rig = Rig()
    video = rig.video()
    rig.stored(video, 5)
    rig.store.trim(4)
    got = await rig.send(op="subscribe", videos=[video], since=1)
    assert [m["op"] for m in got] == ["subscribed", "reset", "event"]
    reset = got[1]
    assert (reset["requested"], reset["first_available"], reset["last"]) == (1, 4, 5)
    assert reset["reason"] == "trimmed" and "seq" not in reset
    assert event_seqs(got) == [5]


async def test_a_since_beyond_a_recreated_stream_is_an_unknown_id_reset() -> None:
    rig = Rig()
    video = rig.video()
    rig.stored(video, 2)
    got = await rig.send(op="subscribe", videos=[video], since=40)
    assert [m["op"] for m in got] == ["subscribed", "reset", "event"]
    assert got[1]["reason"] == "unknown_id" and got[1]["requested"] == 40


async def test_an_unreadable_channel_is_refused_as_an_unknown_one_and_changes_nothing() -> None:
    """§10: a channel the caller may not read is an error not_found, word for word as an
    unknown one, and changes nothing."""
    rig = Rig()
    video = rig.video()
    await rig.send(op="subscribe", videos=[video])
    conn = rig.hub.live
    answers = []
    for channel in (OTHER, "no-such-channel"):
        [answer] = await rig.send(op="subscribe", channels=[channel])
        assert (answer["op"], answer["code"]) == ("error", "not_found")
        answers.append(answer["message"].replace(channel, "C"))
    assert answers[0] == answers[1]
    # An unreadable video: the same answer, and the socket still follows what it did.
    [answer] = await rig.send(op="subscribe", videos=[rig.video(OTHER)])
    assert answer["code"] == "not_found"
    assert rig.hub.live is conn and conn.close_reason is None and len(rig.hub.conns) == 1
    assert rig.outbox.closed is None


async def test_adding_a_video_keeps_the_first_without_gap_or_duplicate() -> None:
    """The hand-off (module docstring, steps 2-5): the kept video's events the old
    connection had not written are sent once, the added one's history after since, then both
    live; nothing twice (§10 "without duplicates")."""
    rig = Rig()
    first, added = rig.video(), rig.video()
    early = rig.stored(added, 2)
    await rig.send(op="subscribe", videos=[first])
    sent = rig.live(first)
    unsent = rig.stored(first)  # stored, not yet written by the old connection
    got = await rig.send(op="subscribe", videos=[added], since=0)
    assert subscribed(got)["videos"] == sorted([first, added])
    assert event_seqs(got, first) == unsent  # (L, H] of what was kept, not `sent` again
    assert event_seqs(got, added) == early
    assert rig.hub.conns[0].close_reason is CloseReason.CLIENT_GONE  # the old one let go
    live = [rig.live(first), rig.live(added)]
    assert rig.outbox.seqs() == live and rig.outbox.closed is None
    assert sent not in event_seqs(got)


async def test_a_video_of_a_followed_channel_is_not_sent_twice() -> None:
    """§10: what the socket already followed (a video of an added channel) is not sent
    again."""
    rig = Rig()
    video, sibling = rig.video(PRIV), rig.video(PRIV)
    rig.stored(video, 2)
    theirs = rig.stored(sibling, 2)
    await rig.send(op="subscribe", videos=[video], since=0)
    got = await rig.send(op="subscribe", channels=[PRIV], since=0)
    assert subscribed(got)["channels"] == [PRIV]
    assert event_seqs(got) == theirs  # the channel's other video only


async def test_subscribing_to_everything_sends_history_only_with_since() -> None:
    """§10: neither videos nor channels: every readable video."""
    rig = Rig()
    mine, public, hidden = rig.video(PRIV), rig.video(PUB), rig.video(OTHER)
    for video in (mine, public, hidden):
        rig.stored(video)
    got = await rig.send(op="subscribe")
    assert subscribed(got)["all"] is True and event_seqs(got) == []
    await rig.send(op="unsubscribe")
    got = await rig.send(op="subscribe", since=0)
    assert event_seqs(got, mine) and event_seqs(got, public) and not event_seqs(got, hidden)


async def test_a_cursor_resumes_after_its_acknowledged_position() -> None:
    """§10: reconnecting with the cursor resumes after the last acknowledged sequence."""
    rig = Rig()
    video = rig.video()
    seqs = rig.stored(video, 3)
    rig.cursors.positions[(rig.user, "tab")] = seqs[0]
    got = await rig.send(op="subscribe", videos=[video], cursor="tab")
    assert event_seqs(got) == seqs[1:]


# -- unsubscribe ----------------------------------------------------------------------------


async def test_unsubscribe_narrows_then_empties_the_socket() -> None:
    """§10 unsubscribe: named videos, or everything (no videos, no channels)."""
    rig = Rig()
    a, b = rig.video(), rig.video()
    await rig.send(op="subscribe", videos=[a, b])
    got = await rig.send(op="unsubscribe", videos=[a])
    assert subscribed(got)["videos"] == [b] and event_seqs(got) == []
    rig.live(a)
    assert rig.outbox.seqs() == []  # no longer followed
    seq = rig.live(b)
    got = await rig.send(op="unsubscribe")
    assert got == [{"op": "subscribed", "videos": [], "channels": [], "all": False, "head": seq}]
    assert rig.session.state is SocketState.IDLE and rig.session.position == seq
    assert not rig.hub.attached


async def test_unsubscribing_a_video_while_following_everything_is_refused() -> None:
    rig = Rig()
    await rig.send(op="subscribe")
    [answer] = await rig.send(op="unsubscribe", videos=[rig.video()])
    assert (answer["op"], answer["code"]) == ("error", "not_subscribed")
    assert rig.hub.live.close_reason is None


# -- bad messages, the rate, acks -----------------------------------------------------------


async def test_bad_messages_are_answered_then_the_tenth_closes_1008() -> None:
    """§10 {"op":"error","code","message"}; a socket that keeps sending bad messages is
    closed with 1008."""
    rig = Rig()
    bad: list[str | bytes] = ["{", '{"op":"nope"}', b"\xff", json.dumps({"op": "ack"})]
    answers = []
    for raw in bad:
        await rig.session.handle(raw)
        answers += rig.outbox.take()
    assert [(m["op"], m["code"]) for m in answers] == [("error", "invalid_message")] * 4
    assert all(m["message"] for m in answers)
    got = await rig.send(op="subscribe", videos=[rig.video()], types=["no.such.type"])
    assert got[0]["op"] == "error" and got[0]["code"] == "invalid_input"
    for _ in range(MAX_ERRORS - 6):
        await rig.session.handle("{")
    assert rig.outbox.closed is None
    await rig.session.handle("{")
    assert rig.outbox.closed == (CloseCode.POLICY, f"{MAX_ERRORS} bad messages")
    assert rig.session.state is SocketState.CLOSED
    assert await rig.send(op="subscribe") == []  # a closed socket ignores messages


async def test_over_the_message_rate_each_message_is_refused_then_1008(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """§9 quotas: 50 messages per second (bursts of 200), then rate_limited errors, then
    close 1008. The clock stands still: only the burst is available."""
    monkeypatch.setattr(
        session_module, "TokenBuckets", functools.partial(TokenBuckets, clock=lambda: 0.0)
    )
    rig = Rig()
    assert all(rig.session.admit() is None for _ in range(WS_BURST))
    refusals = [rig.session.admit() for _ in range(MAX_ERRORS)]
    assert all(r is not None and r.code == "rate_limited" for r in refusals)
    assert rig.outbox.closed == (CloseCode.POLICY, f"{MAX_ERRORS} bad messages")


async def test_an_ack_during_history_stores_the_position_not_the_highest_seq() -> None:
    """While an added video's older history is sent, the highest seq received is no resume
    point: an ack stores the socket's position instead (at least once, never a gap)."""
    rig = Rig()
    video = rig.video()
    seqs = rig.stored(video, 4)
    rig.outbox.hold = asyncio.Event()
    subscribing = asyncio.ensure_future(
        rig.session.handle(json.dumps({"op": "subscribe", "videos": [video], "since": seqs[0]}))
    )
    for _ in range(5):
        await asyncio.sleep(0)
    assert rig.session.position == seqs[0]
    await rig.session.handle(json.dumps({"op": "ack", "cursor": "tab", "seq": seqs[-1]}))
    rig.outbox.hold.set()
    await subscribing
    await rig.session.handle(json.dumps({"op": "ack", "cursor": "tab", "seq": seqs[-1]}))
    assert rig.cursors.acks == [("tab", seqs[0]), ("tab", seqs[-1])]


# -- how a socket ends ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (CloseReason.REVOKED, CloseCode.FORBIDDEN),
        (CloseReason.EXPIRED, CloseCode.EXPIRED),
        (CloseReason.SLOW, CloseCode.SLOW),
        (CloseReason.SHUTDOWN, CloseCode.GOING_AWAY),
        (CloseReason.NATS_DISCONNECTED, CloseCode.TRY_AGAIN),
        (CloseReason.FAILED, CloseCode.INTERNAL),
    ],
)
async def test_the_hub_ending_the_connection_closes_with_its_code(
    reason: CloseReason, code: CloseCode
) -> None:
    """§9/§10: losing access closes with 4003, expiry 4001, too slow 4008, shutdown 1001,
    NATS gone 1013, a failed history 1011."""
    rig = Rig()
    await rig.send(op="subscribe", videos=[rig.video()])
    rig.hub.drop(rig.hub.live, reason)
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == code
    assert rig.session.state is SocketState.CLOSED


async def test_the_client_leaving_or_a_hand_off_closes_nothing() -> None:
    rig = Rig()
    await rig.send(op="subscribe", videos=[rig.video()])
    await rig.send(op="subscribe", videos=[rig.video()])  # the first connection is let go
    rig.hub.drop(rig.hub.live, CloseReason.CLIENT_GONE)
    assert rig.outbox.closed is None
    rig.session.close()
    assert rig.session.state is SocketState.CLOSED and not rig.hub.attached
    assert rig.outbox.closed is None  # the socket closed itself: nothing to send


async def test_access_lost_during_the_history_closes_with_its_code_at_attach() -> None:
    rig = Rig()
    video = rig.video()
    rig.stored(video, 4)
    rig.outbox.hold = asyncio.Event()
    subscribing = asyncio.ensure_future(
        rig.session.handle(json.dumps({"op": "subscribe", "videos": [video], "since": 0}))
    )
    for _ in range(5):
        await asyncio.sleep(0)
    rig.hub.drop(rig.hub.conns[-1], CloseReason.REVOKED)  # while the history is written
    rig.outbox.hold.set()
    await subscribing
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.FORBIDDEN
    assert rig.outbox.seqs() == [1, 2]  # the batch in flight, nothing after


async def test_a_client_that_does_not_take_its_history_is_closed_4008() -> None:
    rig = Rig(batch_timeout=0.01)
    video = rig.video()
    rig.stored(video, 3)
    rig.outbox.hold = asyncio.Event()  # never set
    await rig.session.handle(json.dumps({"op": "subscribe", "videos": [video], "since": 0}))
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.SLOW


async def test_a_revoked_credential_closes_4003_at_its_next_message() -> None:
    rig = Rig()
    await rig.send(op="subscribe", videos=[rig.video()])
    rig.directory.revoke_token(rig.principal)
    assert await rig.send(op="ack", cursor="tab", seq=1) == []
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.FORBIDDEN
    assert rig.cursors.acks == []


async def test_an_expired_credential_closes_4001_at_its_next_message() -> None:
    rig = Rig()
    expired = rig.directory.add_token(rig.user, expires_at=utc_now() - timedelta(seconds=1))
    rig.session = rig.new_session(expired)
    assert await rig.send(op="subscribe", videos=[rig.video()]) == []
    assert rig.outbox.closed is not None and rig.outbox.closed[0] == CloseCode.EXPIRED


async def test_nats_down_at_subscribe_closes_1013_with_the_position_to_resume() -> None:
    """An open socket carrying nothing would leave the client stuck: 1013, and the
    ``since`` it resumes from (its position) when it has one."""
    rig = Rig()
    video = rig.video()
    await rig.send(op="subscribe", videos=[video])
    seq = rig.live(video)
    rig.hub.down = True
    assert await rig.send(op="subscribe", videos=[rig.video()]) == []
    reason = f"live events unavailable; retry; since={seq}"
    assert rig.outbox.closed == (CloseCode.TRY_AGAIN, reason)
    fresh = Rig()
    fresh.hub.down = True
    await fresh.send(op="subscribe")
    assert fresh.outbox.closed == (CloseCode.TRY_AGAIN, "live events unavailable; retry")
