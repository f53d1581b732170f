"""The heartbeat wheel: one timer beats every member, each once per interval, members leave at
once (no timing assertions: counts only)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from frontend_server.events.beats import NOWHERE, HeartbeatWheel


class Member:
    def __init__(self, name: str) -> None:
        self.name = name
        self.beat_slot = NOWHERE


async def test_every_member_beats_and_a_removed_one_stops() -> None:
    beats: Counter[str] = Counter()
    calls: list[int] = []

    beaten = asyncio.Event()

    def on_beat(due: list[Member]) -> None:
        calls.append(len(due))
        beats.update(m.name for m in due)
        beaten.set()

    async def until(least: int) -> None:
        async with asyncio.timeout(10):
            while min(beats[m.name] for m in members) < least:
                beaten.clear()
                await beaten.wait()

    wheel: HeartbeatWheel[Member] = HeartbeatWheel(0.05, on_beat)
    members = [Member(f"m{n}") for n in range(50)]
    for member in members:
        wheel.add(member)
    assert len(wheel) == 50
    await until(3)
    # Members added in one go share a bucket: one call each time, not one per member.
    assert max(calls) == 50 and len(calls) < 10
    gone = members.pop()
    wheel.remove(gone)
    wheel.remove(gone)  # idempotent
    assert gone.beat_slot == NOWHERE and len(wheel) == 49
    stopped = beats[gone.name]
    floor = min(beats[m.name] for m in members)
    await until(floor + 2)
    assert beats[gone.name] == stopped
    for member in members:
        wheel.remove(member)
    assert len(wheel) == 0
    wheel.close()


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        HeartbeatWheel(0, lambda due: None)
