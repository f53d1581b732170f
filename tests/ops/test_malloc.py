"""The periodic ``malloc_trim`` (``ops.malloc``): called on the loop until closed, glibc's own
call found here (the test machine runs glibc), bad intervals refused."""

from __future__ import annotations

import asyncio

import pytest

from culto.errors import ConfigError
from ops.malloc import MallocTrim, glibc_trim

pytestmark = pytest.mark.timeout(10)


async def test_calls_trim_repeatedly_until_closed() -> None:
    pads: list[int] = []
    seen = asyncio.Event()

    def trim(pad: int, /) -> int:
        pads.append(pad)
        if len(pads) == 3:
            seen.set()
        return 1

    trimming = MallocTrim(0.001, trim)
    await trimming.open()
    await trimming.open()  # once: a second open adds no timer
    await asyncio.wait_for(seen.wait(), 5)
    await trimming.close()
    calls = len(pads)
    await asyncio.sleep(0.02)
    assert len(pads) == calls and set(pads) == {0}  # nothing after close
    assert trimming.calls == calls and trimming.seconds >= 0


async def test_glibc_trim_is_called_for_real() -> None:
    trim = glibc_trim()
    assert trim is not None  # the image and the test machines run Debian (glibc)
    assert trim(0) in (0, 1)  # 1: memory was released, 0: there was none to release
    trimming = MallocTrim.glibc(0.001)
    await trimming.open()
    for _ in range(500):
        if trimming.calls >= 2:
            break
        await asyncio.sleep(0.01)
    await trimming.close()
    assert trimming.calls >= 2


async def test_without_trim_nothing_runs() -> None:
    trimming = MallocTrim(0.001, None)
    await trimming.open()
    await asyncio.sleep(0.01)
    await trimming.close()
    assert trimming.calls == 0


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan")])
def test_a_non_positive_interval_is_refused(interval: float) -> None:
    with pytest.raises(ConfigError, match="must be positive"):
        MallocTrim(interval)
