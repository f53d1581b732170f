"""Progress reporting shared by the download and speech-recognition stages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

ProgressCallback = Callable[[float, str], None]
"""``(fraction 0..1, human message)``; may be called from any thread.

A callback may raise (for example to cancel a job); the exception propagates out of the stage
function unchanged.
"""


_BEFORE_FINISH: Final = 0.999
"""The highest fraction an estimate may report; only :meth:`ProgressThrottle.finish` says 1.0."""


class ProgressThrottle:
    """Forwards progress to a callback at most once per ``step`` of progress.

    Downloaders and recognisers report many tiny increments; the worker turns each report into a
    ``video.status`` event, so reports are coalesced to whole steps (1 % by default). Reports never
    go backwards and the first always passes. Only :meth:`finish` reports 100 %: an estimate that
    overshoots (a recogniser's segment ending past the decoded duration, a download larger than
    its announced size) must not claim completion and swallow the final message.

    Args:
        callback: Where reports go; ``None`` makes the throttle a no-op.
        step: The smallest increase of the fraction worth reporting.
    """

    def __init__(self, callback: ProgressCallback | None, *, step: float = 0.01) -> None:
        self._callback = callback
        self._step = step
        self._last: float | None = None
        self._lock = threading.Lock()

    def __call__(self, fraction: float, message: str) -> None:
        """Report ``fraction`` (clamped to 0..0.999) with ``message`` if it moved far enough."""
        if self._callback is None:
            return
        fraction = min(max(fraction, 0.0), _BEFORE_FINISH)
        with self._lock:
            if self._last is not None and fraction - self._last < self._step:
                return
            self._last = fraction
        # Outside the lock: the callback may be slow or raise.
        self._callback(fraction, message)

    def finish(self, message: str) -> None:
        """Report completion (1.0) with ``message``, once."""
        if self._callback is None:
            return
        with self._lock:
            if self._last == 1.0:
                return
            self._last = 1.0
        self._callback(1.0, message)
