"""ops.heap: what start-up built is frozen, what comes later is collected as usual."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ops.heap import settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The test process's collector as it was (settle_heap tunes the whole process)."""
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("restored_gc")
def test_settle_heap_freezes_survivors_and_collects_later_objects() -> None:
    kept = [{"start-up": i} for i in range(1000)]  # lives as long as the "process"
    frozen = settle_heap()
    assert frozen >= len(kept) and gc.get_freeze_count() == frozen
    assert not _collected() & {id(obj) for obj in kept}  # no collection walks them
    later = [[i] for i in range(10)]  # created afterwards: collected as usual
    assert {id(obj) for obj in later} <= _collected()


def _collected() -> set[int]:
    return {id(obj) for generation in range(3) for obj in gc.get_objects(generation)}
