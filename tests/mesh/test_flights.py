"""Identical requests share one flight (mesh.flights), with a small fake request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.flights import Flights, Sent


class _Requests:
    """Requests that wait for the test: ``sent`` once they would leave, ``answer`` to end."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.sent: list[asyncio.Event] = []
        self.answers: list[asyncio.Future[str]] = []

    def make(self, key: str, gate: asyncio.Event | None = None) -> Callable[[Sent], Awaitable[str]]:
        async def request(sent: Sent) -> str:
            self.started.append(key)
            answer = asyncio.get_running_loop().create_future()
            self.answers.append(answer)
            try:
                if gate is not None:
                    await gate.wait()  # a slot of the bounded pool
                sent()
                self.sent.append(asyncio.Event())
                return await answer
            except asyncio.CancelledError:
                self.cancelled.append(key)
                raise

        return request


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_of_an_open_flight_share_one_request() -> None:
    flights: Flights[str] = Flights()
    fake = _Requests()
    gate = asyncio.Event()
    calls = [
        asyncio.ensure_future(flights.run("k", 10 + i, fake.make("k", gate))) for i in range(20)
    ]
    await _settle()
    assert fake.started == ["k"] and flights.joined == 19
    gate.set()  # the pool has a slot: it leaves
    await _settle()
    fake.answers[0].set_result("events")
    assert await asyncio.gather(*calls) == ["events"] * 20
    assert flights.started == 1 and len(flights) == 0  # forgotten once answered


async def test_a_sent_flight_serves_only_callers_it_covers() -> None:
    flights: Flights[str] = Flights()
    fake = _Requests()
    first = asyncio.ensure_future(flights.run("k", 10, fake.make("k")))
    await _settle()
    assert fake.sent  # it left knowing the stream held 10
    covered = asyncio.ensure_future(flights.run("k", 7, fake.make("k")))
    await _settle()
    assert fake.started == ["k"] and flights.joined == 1
    # Newer than what the request knew (events up to 12 may have been stored after it left),
    # and a caller with no bound: each needs a request that leaves after it asked.
    newer = asyncio.ensure_future(flights.run("k", 12, fake.make("k")))
    await _settle()
    assert fake.started == ["k", "k"]
    # The second flight (bound 12) is the key's now: a caller it covers joins it.
    late = asyncio.ensure_future(flights.run("k", 11, fake.make("k")))
    await _settle()
    assert len(fake.started) == 2
    unbound = asyncio.ensure_future(flights.run("k", None, fake.make("k")))
    await _settle()
    assert len(fake.started) == 3
    for n, answer in enumerate(fake.answers):
        answer.set_result(f"answer {n}")
    assert await asyncio.gather(first, covered, newer, late, unbound) == [
        "answer 0", "answer 0", "answer 1", "answer 1", "answer 2"
    ]  # fmt: skip


async def test_joiners_raise_an_open_flights_bound() -> None:
    flights: Flights[str] = Flights()
    fake = _Requests()
    gate = asyncio.Event()
    calls = [asyncio.ensure_future(flights.run("k", b, fake.make("k", gate))) for b in (5, 9)]
    await _settle()
    gate.set()
    await _settle()
    # Sent after the caller that knew 9 asked: it covers a caller up to 9.
    calls.append(asyncio.ensure_future(flights.run("k", 9, fake.make("k"))))
    await _settle()
    assert fake.started == ["k"]
    fake.answers[0].set_result("a")
    assert await asyncio.gather(*calls) == ["a", "a", "a"]


async def test_other_keys_do_not_share() -> None:
    flights: Flights[str] = Flights()
    fake = _Requests()
    gate = asyncio.Event()
    one = asyncio.ensure_future(flights.run("video a", 3, fake.make("a", gate)))
    two = asyncio.ensure_future(flights.run("video b", 3, fake.make("b", gate)))
    await _settle()
    assert fake.started == ["a", "b"] and flights.joined == 0
    gate.set()
    await _settle()
    fake.answers[0].set_result("for a")
    fake.answers[1].set_result("for b")
    assert (await one, await two) == ("for a", "for b")


async def test_a_cancelled_caller_leaves_the_request_to_the_others() -> None:
    flights: Flights[str] = Flights()
    fake = _Requests()
    calls = [asyncio.ensure_future(flights.run("k", 1, fake.make("k"))) for _ in range(3)]
    await _settle()
    calls[0].cancel()
    await _settle()
    assert calls[0].cancelled() and not fake.cancelled
    fake.answers[0].set_result("kept")
    assert await asyncio.gather(*calls[1:]) == ["kept", "kept"]


async def test_the_request_is_cancelled_when_every_caller_left() -> None:
    flights: Flights[str] = Flights()
    fake = _Requests()
    gate = asyncio.Event()
    calls = [asyncio.ensure_future(flights.run("k", 1, fake.make("k", gate))) for _ in range(2)]
    await _settle()
    for call in calls:
        call.cancel()
    await _settle()
    assert fake.cancelled == ["k"] and len(flights) == 0
    # A new caller does not join the abandoned flight: a request of its own.
    again = asyncio.ensure_future(flights.run("k", 1, fake.make("k")))
    await _settle()
    fake.answers[-1].set_result("fresh")
    assert await again == "fresh" and fake.started == ["k", "k"]


async def test_every_caller_gets_the_requests_error() -> None:
    flights: Flights[str] = Flights()
    fake = _Requests()
    calls = [asyncio.ensure_future(flights.run("k", 1, fake.make("k"))) for _ in range(3)]
    await _settle()
    fake.answers[0].set_exception(RuntimeError("JetStream said no"))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert len(flights) == 0  # the next caller asks again


# The model: every caller's answer comes from a request that left after it called, or that
# left knowing a sequence at or above the caller's bound. Steps: a caller arrives (key, bound),
# the oldest waiting request takes a pool slot and leaves, the oldest sent request answers.
_Step = tuple[str, int, int | None]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("call"), st.integers(0, 2), st.none() | st.integers(0, 6)),
            st.tuples(st.just("leave"), st.just(0), st.none()),
            st.tuples(st.just("answer"), st.just(0), st.none()),
        ),
        max_size=40,
    )
)
def test_no_caller_gets_an_answer_older_than_it_may(steps: list[_Step]) -> None:
    asyncio.run(_model(steps))


async def _model(steps: list[_Step]) -> None:
    flights: Flights[tuple[int, int]] = Flights()
    clock = 0  # one tick per step
    gates: list[asyncio.Event] = []
    sent_at: dict[int, int] = {}  # request -> tick it left
    answers: dict[int, asyncio.Future[tuple[int, int]]] = {}
    calls: list[tuple[int, int | None, asyncio.Future[tuple[int, int]]]] = []
    knew: dict[int, int] = {}  # request -> highest bound of its callers when it left

    started: list[int] = []

    def make(n: int) -> Callable[[Sent], Awaitable[tuple[int, int]]]:
        async def request(sent: Sent) -> tuple[int, int]:
            started.append(n)
            await gates[n].wait()
            sent()
            sent_at[n] = clock
            knew[n] = max((b for c, b, f in calls if b is not None and c <= clock), default=-1)
            answers[n] = asyncio.get_running_loop().create_future()
            return await answers[n]

        return request

    for kind, key, bound in steps:
        clock += 1
        if kind == "call":
            n = len(gates)
            gates.append(asyncio.Event())
            future = asyncio.ensure_future(flights.run(key, bound, make(n)))
            calls.append((clock, bound, future))
        elif kind == "leave":
            waiting = [n for n in started if not gates[n].is_set()]
            if waiting:
                gates[waiting[0]].set()
        else:
            pending = [a for a in answers.values() if not a.done()]
            if pending:
                n = next(i for i, a in answers.items() if a is pending[0])
                pending[0].set_result((n, sent_at[n]))
        await _settle()
    for gate in gates:
        gate.set()
    await _settle()
    for n, answer in answers.items():
        if not answer.done():
            answer.set_result((n, sent_at[n]))
    await _settle()
    for called, bound, future in calls:
        request, left = future.result()
        # Left after this caller called, or knowing what it knew (a bound at least its own).
        assert left >= called or (bound is not None and knew[request] >= bound)


pytestmark = pytest.mark.timeout(60)
