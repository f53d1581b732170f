"""retry_transient: a transient JetStream answer is retried, anything else is not."""

from __future__ import annotations

import pytest

from culto.errors import InvalidInput, MeshTimeout, MeshUnavailable
from mesh.retry import retry_transient


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "events"


async def test_transient_answers_are_retried_until_success() -> None:
    # Regression (issue 9, defect 11): one "service unavailable" during a replay (a leader
    # change, a busy server) ended the client's stream although the connection was fine.
    action = Flaky([MeshUnavailable("503"), MeshTimeout("slow")])
    assert await retry_transient(action, what="replay", first_delay=0.001) == "events"
    assert action.calls == 3


async def test_a_lasting_outage_still_ends_after_the_attempts() -> None:
    action = Flaky([MeshUnavailable("down")] * 5)
    with pytest.raises(MeshUnavailable):
        await retry_transient(action, what="replay", attempts=3, first_delay=0.001)
    assert action.calls == 3


async def test_other_errors_are_not_retried() -> None:
    action = Flaky([InvalidInput("bad filter")])
    with pytest.raises(InvalidInput):
        await retry_transient(action, what="replay", first_delay=0.001)
    assert action.calls == 1
