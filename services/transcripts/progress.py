"""Progress reporting shared by the download and speech-recognition stages."""

from __future__ import annotations

import threading
from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]
"""``(fraction 0..1, human message)``; may be called from any thread.

A callback may raise (for example to cancel a job); the exception propagates out of the stage
function unchanged.
"""


class ProgressThrottle:
    """Forwards progress to a callback at most once per ``step`` of progress.

    Downloaders and recognisers report many tiny increments; the worker turns each report into a
    ``video.status`` event, so reports are coalesced to whole steps (1 % by default). Reports never
    go backwards, and the first and final (1.0) reports always pass.

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
        """Report ``fraction`` (clamped to 0..1) with ``message`` if it moved far enough."""
        if self._callback is None:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        with self._lock:
            last = self._last
            if last is not None:
                if fraction < last:
                    fraction = last
                if fraction < 1.0 and fraction - last < self._step:
                    return
                if fraction >= 1.0 and last >= 1.0:
                    return
            self._last = fraction
        # Outside the lock: the callback may be slow or raise.
        self._callback(fraction, message)
