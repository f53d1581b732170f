"""The close codes a WebSocket session ends a socket with (docs/contracts.md §10, and why the
hub ends a connection mapped onto them), and its video lookup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from enum import Enum

from frontend_server.events.conn import CloseReason


class CloseCode(int, Enum):
    """WebSocket close codes this server uses (4xxx are application codes)."""

    GOING_AWAY = 1001
    """The server is shutting down: reconnect (to any replica) and resume."""
    POLICY = 1008
    """Too many bad messages (:data:`MAX_ERRORS`)."""
    INTERNAL = 1011
    """Reading history failed: reconnect and resume."""
    TRY_AGAIN = 1013
    """NATS is unreachable: reconnect and resume shortly."""
    EXPIRED = 4001
    """The token or session expired: authenticate again."""
    FORBIDDEN = 4003
    """The caller lost access to what it follows: its token was revoked, its session logged
    out, its user deleted, its role removed, or a channel it follows turned private."""
    SLOW = 4008
    """The client fell behind (``client_buffer`` events queued): resume with ``since``."""


CLOSE_FOR: Mapping[CloseReason, tuple[CloseCode, str]] = {
    CloseReason.SLOW: (CloseCode.SLOW, "too slow: reconnect and resume with since"),
    CloseReason.SHUTDOWN: (CloseCode.GOING_AWAY, "going away"),
    CloseReason.NATS_DISCONNECTED: (CloseCode.TRY_AGAIN, "live events unavailable; retry"),
    CloseReason.REVOKED: (CloseCode.FORBIDDEN, "access revoked"),
    CloseReason.EXPIRED: (CloseCode.EXPIRED, "credential expired"),
}
MAX_ERRORS = 10
"""Bad messages tolerated (each answered with an ``error``) before the socket is closed."""


VideoLookup = Callable[[Iterable[str]], Awaitable[dict[str, str | None]]]
"""The channel of each video (``None``: no such video), from the video API."""
