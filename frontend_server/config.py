"""The edge's configuration: small, immutable, validated when built (in the roles)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from culto.errors import ConfigError
from culto.origins import normalize_origin
from ops.server import ListenConfig

MIN_SECRET_LENGTH = 16
DEFAULT_CSRF_EXEMPT = ("/api/v2/events/stream", "/health", "/docs")


def check_exempt_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """``CSRF_EXEMPT_PATHS`` entries must be absolute paths; returns them as a tuple."""
    for path in paths:
        if not path.startswith("/"):
            raise ConfigError(f"CSRF_EXEMPT_PATHS: each path must start with '/', got {path!r}")
    return tuple(paths)


@dataclass(frozen=True, slots=True)
class HubConfig:
    """The SSE hub's bounds.

    Attributes:
        client_buffer: Frames queued per client before it is disconnected as too slow.
        heartbeat_interval: Seconds between heartbeats on an idle stream.
        replay_batch_timeout: Seconds a resuming client may take to accept one batch of
            history before it is disconnected as too slow (it holds a replay slot meanwhile).
    """

    client_buffer: int = 1000
    heartbeat_interval: float = 30.0
    replay_batch_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.client_buffer < 1:
            raise ConfigError(f"SSE_CLIENT_BUFFER: must be at least 1, got {self.client_buffer}")
        if self.heartbeat_interval <= 0:
            raise ConfigError("SSE_HEARTBEAT_INTERVAL: must be positive")
        if self.replay_batch_timeout <= 0:
            raise ConfigError("replay_batch_timeout: must be positive")


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """Everything the frontend application needs besides its connection.

    Attributes:
        cookie_secret: Signs cookies (never logged; hidden from ``repr``).
        allowed_origins: Origins allowed by CORS, normalised (:func:`normalize_origin`).
        csrf_exempt_paths: Paths that skip the XSRF check.
        max_transcript_bytes: Largest transcript in a submit request.
        listen: Where to listen.
        hub: The SSE hub's bounds.
    """

    cookie_secret: str = field(repr=False)
    allowed_origins: frozenset[str] = frozenset()
    csrf_exempt_paths: tuple[str, ...] = DEFAULT_CSRF_EXEMPT
    max_transcript_bytes: int = 5 * 1024 * 1024
    listen: ListenConfig = field(default_factory=ListenConfig)
    hub: HubConfig = field(default_factory=HubConfig)

    def __post_init__(self) -> None:
        if len(self.cookie_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"COOKIE_SECRET: must be at least {MIN_SECRET_LENGTH} characters long"
            )
        for origin in self.allowed_origins:
            if normalize_origin(origin) != origin:
                raise ConfigError(f"FRONTEND_URL/CORS_ORIGINS: {origin!r} is not normalised")
        for path in self.csrf_exempt_paths:
            if not path.startswith("/"):
                raise ConfigError(f"CSRF_EXEMPT_PATHS: each path must start with '/', got {path!r}")

    @staticmethod
    def origins(raw: Iterable[str]) -> frozenset[str]:
        """Normalise configured origins, naming the first invalid one."""
        result = set()
        for origin in raw:
            normal = normalize_origin(origin)
            if normal is None:
                raise ConfigError(
                    f"FRONTEND_URL/CORS_ORIGINS: expected an http(s) origin, got {origin!r}"
                )
            result.add(normal)
        return frozenset(result)
