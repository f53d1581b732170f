"""Reading :class:`~culto_app.settings.Settings`' fields from environment variables.

Each variable is checked here, in a fixed order, so the :class:`~culto.errors.ConfigError` of a
bad start names the first invalid variable in one line; secrets are never echoed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, TypeAdapter, ValidationError

from culto.errors import ConfigError
from culto.origins import normalize_origin
from frontend_server.config import LOOPBACK_HOSTS, check_exempt_paths, host_entry
from ops.server import proxy_networks
from schemas.identity import Email

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_NATS_USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

Environment = Literal["dev", "prod"]
"""``CULTO_ENV``: a developer's machine or production (not to be confused with the NATS roles)."""
DEFAULT_ADMIN_EMAIL = "admin@localhost"
_EMAIL_ADAPTER: TypeAdapter[str] = TypeAdapter(Email)


def settings_fields(
    environ: Mapping[str, str], environment: Environment | None = None
) -> dict[str, object]:
    """Every settings field the variables in ``environ`` set (the rest keep their defaults).

    Args:
        environ: The variables to read.
        environment: Force ``dev`` or ``prod``; otherwise ``CULTO_ENV`` (default ``prod``).

    Raises:
        ConfigError: naming the first invalid variable.
    """
    env = _with_secret_files(dict(environ))
    role = environment or _choice(env, "CULTO_ENV", ("dev", "prod"), "prod")
    fields: dict[str, object] = {"environment": role}
    if url := env.get("NATS_URL", "").strip():
        fields["nats_url"] = _nats_url(url)
    if data_dir := env.get("CULTO_DATA_DIR", "").strip():
        fields["data_dir"] = Path(data_dir)
    fields.update(_http_fields(env))
    fields.update(_edge_limits(env))
    fields.update(_store_fields(env))
    fields.update(_reach_fields(env, role, fields["frontend_url"]))
    if model := env.get("CULTO_WHISPER_MODEL", "").strip():
        fields["whisper_model"] = model
    fields.update(_nats_auth(env))
    fields["admin_email"] = _admin_email(env)
    fields.update(_ops_surface(env))
    fields.update(_cookie_secret(env))
    return fields


def _http_fields(env: Mapping[str, str]) -> dict[str, object]:
    """Where the HTTP server listens and which origins it serves."""
    fields: dict[str, object] = {}
    fields["port"] = _int(env, "PORT", 8000, 0, 65535)
    fields["host"] = env.get("CULTO_HOST", "127.0.0.1").strip() or "127.0.0.1"
    frontend = env.get("FRONTEND_URL", "http://localhost:5173").strip()
    fields["frontend_url"] = _checked_origin("FRONTEND_URL", frontend)
    fields["cors_origins"] = tuple(
        _checked_origin("CORS_ORIGINS", o) for o in _csv(env.get("CORS_ORIGINS", ""))
    )
    if "CSRF_EXEMPT_PATHS" in env:
        fields["csrf_exempt_paths"] = check_exempt_paths(_csv(env["CSRF_EXEMPT_PATHS"]))
    return fields


def _edge_limits(env: Mapping[str, str]) -> dict[str, object]:
    """The event streams' timing and the per-client limits."""
    fields: dict[str, object] = {}
    fields["sse_heartbeat_interval"] = _duration(env, "SSE_HEARTBEAT_INTERVAL", 30.0, 0.05)
    fields["sse_client_buffer"] = _int(env, "SSE_CLIENT_BUFFER", 1000, 1, 1_000_000)
    fields["write_timeout"] = _duration(env, "CULTO_WRITE_TIMEOUT", 30.0, 0.1)
    fields["drain_timeout"] = _duration(env, "CULTO_DRAIN_TIMEOUT", 15.0, 0.1)
    fields["drain_spread"] = _duration(env, "CULTO_DRAIN_SPREAD", 5.0, 0.1)
    fields["rate_limit_per_minute"] = _int(env, "CULTO_RATE_LIMIT", 600, 1, 10_000_000)
    fields["rate_limit_burst"] = _int(env, "CULTO_RATE_BURST", 120, 1, 10_000_000)
    fields["logins_per_minute"] = _int(env, "CULTO_LOGINS_PER_MINUTE", 10, 2, 10_000)
    fields["max_streams_per_client"] = _int(env, "CULTO_MAX_STREAMS_PER_CLIENT", 100, 1, 1_000_000)
    fields["max_connections_per_second"] = _int(
        env, "CULTO_MAX_CONNECTIONS_PER_SECOND", 100, 1, 1_000_000
    )
    return fields


def _store_fields(env: Mapping[str, str]) -> dict[str, object]:
    """JetStream retention and replicas, the embedded server's port, the job queue, and the
    largest transcript stored."""
    fields: dict[str, object] = {}
    fields["events_max_age"] = _duration(env, "EVENTS_MAX_AGE", 30 * 86400.0, 0.0)
    fields["embedded_nats_port"] = _int(env, "CULTO_NATS_PORT", 4222, 0, 65535)
    fields["stream_replicas"] = _int(env, "CULTO_STREAM_REPLICAS", 1, 1, 5)
    fields["job_ack_wait"] = _duration(env, "CULTO_JOB_ACK_WAIT", 30.0, 0.5)
    fields["job_max_deliver"] = _int(env, "CULTO_JOB_MAX_DELIVER", 5, 1, 100)
    fields["max_transcript_bytes"] = _int(
        env, "CULTO_MAX_TRANSCRIPT_BYTES", 5 * 1024 * 1024, 1, 512 * 1024 * 1024
    )
    return fields


def _reach_fields(
    env: Mapping[str, str], role: Environment, frontend_url: object
) -> dict[str, object]:
    """Which hosts the worker may fetch from, which the edge answers to, and which proxies it
    believes."""
    fields: dict[str, object] = {}
    if hosts := _csv(env.get("CULTO_ALLOWED_VIDEO_HOSTS", "")):
        fields["allowed_video_hosts"] = _hosts(hosts)
    fields["allowed_hosts"] = _allowed_hosts(env, role, frontend_url)
    proxies = _csv(env.get("TRUSTED_PROXIES", ""))
    proxy_networks(proxies)  # one line naming TRUSTED_PROXIES for a bad entry
    fields["trusted_proxies"] = tuple(proxies)
    fields["allow_private_fetch"] = _flag(env, "CULTO_ALLOW_PRIVATE_FETCH")
    return fields


def _cookie_secret(env: Mapping[str, str]) -> dict[str, object]:
    """``COOKIE_SECRET``, when set (never echoed)."""
    secret = env.get("COOKIE_SECRET", "")
    if not secret:
        return {}
    if len(secret) < 16:
        raise ConfigError("COOKIE_SECRET: must be at least 16 characters long")
    return {"cookie_secret": SecretStr(secret)}


SECRET_FILE_VARIABLES = ("NATS_PASSWORD", "COOKIE_SECRET", "CULTO_METRICS_TOKEN")
"""Secrets that may also come from a file named by ``<NAME>_FILE`` (Docker/Compose secrets, a
mounted Kubernetes Secret): the value stays out of the process environment's listing."""


def _with_secret_files(env: dict[str, str]) -> dict[str, str]:
    """``env`` with each secret of :data:`SECRET_FILE_VARIABLES` read from its ``_FILE``."""
    for name in SECRET_FILE_VARIABLES:
        env.update(_secret_from_file(env, name))
    return env


def _secret_from_file(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``{name: value}`` read from the file ``<name>_FILE`` names (without its surrounding
    whitespace), or nothing when that variable is unset."""
    path = env.get(f"{name}_FILE", "").strip()
    if not path:
        return {}
    if env.get(name):
        raise ConfigError(f"{name}_FILE: set either {name} or {name}_FILE, not both")
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{name}_FILE: cannot read {path!r} ({reason})") from None
    if not value:
        raise ConfigError(f"{name}_FILE: {path!r} is empty")
    return {name: value}


def _ops_surface(env: Mapping[str, str]) -> dict[str, object]:
    """``CULTO_METRICS_TOKEN`` and ``CULTO_OPS_PORT``, when set."""
    fields: dict[str, object] = {}
    if token := env.get("CULTO_METRICS_TOKEN", "").strip():
        if len(token) < 16:
            raise ConfigError("CULTO_METRICS_TOKEN: must be at least 16 characters long")
        fields["metrics_token"] = SecretStr(token)
    if env.get("CULTO_OPS_PORT", "").strip():
        fields["ops_port"] = _int(env, "CULTO_OPS_PORT", 0, 0, 65535)
    return fields


def _admin_email(env: Mapping[str, str]) -> str:
    raw = env.get("CULTO_ADMIN_EMAIL", "").strip() or DEFAULT_ADMIN_EMAIL
    try:
        return _EMAIL_ADAPTER.validate_python(raw)
    except ValidationError:
        raise ConfigError(
            f"CULTO_ADMIN_EMAIL: not an email address (expected name@example.org), got {raw[:80]!r}"
        ) from None


def _csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _hosts(raw: list[str]) -> frozenset[str]:
    hosts = frozenset(h.lower().rstrip(".") for h in raw)
    for host in hosts:
        if not _HOST.match(host):
            raise ConfigError(
                f"CULTO_ALLOWED_VIDEO_HOSTS: expected host names like youtube.com, got {host!r}"
            )
    return hosts


def _allowed_hosts(
    env: Mapping[str, str], role: Environment, frontend_url: object
) -> frozenset[str]:
    """``CULTO_ALLOWED_HOSTS``, or its default.

    Dev (``culto up``): the loopback names, the only ones a developer's browser uses. Outside
    dev: those plus ``FRONTEND_URL``'s host — the public name when the page is served by this
    edge (as in the Kubernetes manifests); loopback names stay for ``kubectl port-forward`` and
    are harmless, since a browser sends them only to its own machine.
    """
    if entries := _csv(env.get("CULTO_ALLOWED_HOSTS", "")):
        return frozenset(host_entry(e) for e in entries)
    if role == "dev":
        return LOOPBACK_HOSTS
    frontend_host = urlsplit(str(frontend_url)).hostname
    return LOOPBACK_HOSTS | ({host_entry(frontend_host)} if frontend_host else set())


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}: must be 1 or 0 (true/false), got {raw!r}")


def _choice(
    env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str
) -> Environment:
    value = env.get(name, default).strip() or default
    if value not in allowed:
        raise ConfigError(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
    return value  # type: ignore[return-value]


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: must be between {lo} and {hi}, got {value}")
    return value


def _duration(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name}: must be a duration like 30, 30s, 15m, 12h or 7d, got {raw!r}")
    value = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum} seconds, got {raw!r}")
    return value


def _nats_url(raw: str) -> str:
    for url in _csv(raw):
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls", "ws", "wss") or not parts.hostname:
            raise ConfigError(
                f"NATS_URL: expected nats://host:port (comma separated for a cluster), got {url!r}"
            )
        try:
            _ = parts.port
        except ValueError:
            raise ConfigError(f"NATS_URL: invalid port in {url!r}") from None
    return ",".join(_csv(raw))


def _nats_auth(env: Mapping[str, str]) -> dict[str, object]:
    """``NATS_USER``, ``NATS_PASSWORD`` (both or neither) and ``NATS_CA_FILE``."""
    fields: dict[str, object] = {}
    user = env.get("NATS_USER", "").strip()
    password = env.get("NATS_PASSWORD", "")
    if user and not password:
        raise ConfigError("NATS_PASSWORD: required when NATS_USER is set")
    if password and not user:
        raise ConfigError("NATS_USER: required when NATS_PASSWORD is set")
    if user:
        if not _NATS_USER.match(user):
            raise ConfigError(
                f"NATS_USER: expected a user name of letters, digits, '.', '_' or '-', got"
                f" {user[:64]!r}"
            )
        # Never echo the value: it is a secret.
        if any(ord(c) < 32 or ord(c) == 127 for c in password):
            raise ConfigError(
                "NATS_PASSWORD: must not contain control characters (a trailing newline?)"
            )
        fields["nats_user"] = user
        fields["nats_password"] = SecretStr(password)
    if ca := env.get("NATS_CA_FILE", "").strip():
        path = Path(ca)
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ConfigError(f"NATS_CA_FILE: no readable file at {ca!r}")
        fields["nats_ca_file"] = path
    return fields


def _checked_origin(name: str, url: str) -> str:
    if normalize_origin(url) is None:
        raise ConfigError(
            f"{name}: expected an http(s) origin like https://app.example, got {url!r}"
        )
    return url.rstrip("/")
