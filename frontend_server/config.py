"""The edge's configuration: small, immutable, validated when built (in the roles)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from culto.errors import ConfigError
from culto.origins import normalize_origin
from frontend_server.security.limits import RateLimitConfig
from ops.handlers import MetricsAccess
from ops.server import ListenConfig

MIN_SECRET_LENGTH = 16
DEFAULT_CSRF_EXEMPT = ("/api/v2/events/stream", "/health", "/docs")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Names a browser on the same machine uses: the default ``CULTO_ALLOWED_HOSTS`` in dev."""
ANY_HOST = "*"
"""``CULTO_ALLOWED_HOSTS=*`` turns the Host check off (a proxy in front checks it instead)."""
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")


def host_entry(raw: str) -> str:
    """One ``CULTO_ALLOWED_HOSTS`` entry, normalised: lower case, no trailing dot, IPv6 unbracketed.

    Entries are names or IP literals without a port: the check is about the name the browser
    used, and the port is this server's own business (``culto up --port`` may change it).

    Raises:
        ConfigError: for a port, a scheme, a path or anything else that is not a host.
    """
    entry = raw.strip().lower().rstrip(".")
    if entry == ANY_HOST:
        return entry
    bare = entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if not _HOST_NAME.match(entry):
        raise ConfigError(
            "CULTO_ALLOWED_HOSTS: expected host names or IP addresses without port or scheme, "
            f"like culto.example.com, got {raw!r}"
        )
    return entry


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
        write_timeout: Seconds a live stream's write may stay pending (the client stopped
            reading, or its network vanished) before the client is dropped; the kernel gives
            up on unacknowledged data after as long (``TCP_USER_TIMEOUT``).
        drain_timeout: Seconds a stopping frontend waits for its streams to close before it
            exits anyway.
        drain_spread: Seconds over which the SSE clients of a stopping frontend are told to
            come back (each gets a random ``retry:`` up to this), so they do not all reconnect
            in the same millisecond.
    """

    client_buffer: int = 1000
    heartbeat_interval: float = 30.0
    replay_batch_timeout: float = 10.0
    write_timeout: float = 30.0
    drain_timeout: float = 15.0
    drain_spread: float = 5.0

    def __post_init__(self) -> None:
        if self.client_buffer < 1:
            raise ConfigError(f"SSE_CLIENT_BUFFER: must be at least 1, got {self.client_buffer}")
        if self.heartbeat_interval <= 0:
            raise ConfigError("SSE_HEARTBEAT_INTERVAL: must be positive")
        if self.replay_batch_timeout <= 0:
            raise ConfigError("replay_batch_timeout: must be positive")
        if self.write_timeout <= 0:
            raise ConfigError("CULTO_WRITE_TIMEOUT: must be positive")
        if self.drain_timeout <= 0:
            raise ConfigError("CULTO_DRAIN_TIMEOUT: must be positive")
        if not 0 < self.drain_spread <= self.drain_timeout:
            raise ConfigError("CULTO_DRAIN_SPREAD: must be positive, at most CULTO_DRAIN_TIMEOUT")


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """Everything the frontend application needs besides its connection.

    Attributes:
        cookie_secret: Signs cookies (never logged; hidden from ``repr``).
        allowed_origins: Origins allowed by CORS, normalised (:func:`normalize_origin`).
        csrf_exempt_paths: Paths that skip the XSRF check.
        max_transcript_bytes: Largest transcript in a submit request.
        allowed_hosts: Names the ``Host`` header may carry (normalised by :func:`host_entry`;
            ``*`` = any); anything else is a 400 ``invalid_host`` (DNS rebinding).
        listen: Where to listen.
        metrics: Who may read ``/metrics`` on the public port (production: nobody without
            ``CULTO_METRICS_TOKEN``; use the ops port).
        ops_listen: The ops port (``CULTO_OPS_PORT``): ``/health``, ``/ready`` and an open
            ``/metrics``, for the cluster only.
        hub: The SSE hub's bounds.
        limits: Per-client request rate and open streams.
    """

    cookie_secret: str = field(repr=False)
    allowed_origins: frozenset[str] = frozenset()
    csrf_exempt_paths: tuple[str, ...] = DEFAULT_CSRF_EXEMPT
    max_transcript_bytes: int = 5 * 1024 * 1024
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    listen: ListenConfig = field(default_factory=ListenConfig)
    hub: HubConfig = field(default_factory=HubConfig)
    limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    metrics: MetricsAccess = field(default_factory=MetricsAccess)
    ops_listen: ListenConfig | None = None

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
        if not self.allowed_hosts:
            raise ConfigError("CULTO_ALLOWED_HOSTS: must name at least one host (or *)")
        for host in self.allowed_hosts:
            if host_entry(host) != host:
                raise ConfigError(f"CULTO_ALLOWED_HOSTS: {host!r} is not normalised")

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
