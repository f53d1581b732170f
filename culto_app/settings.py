"""Process settings: read once from environment variables in the application layer.

Every variable is validated when the process starts; a bad value raises
:class:`~culto.errors.ConfigError` whose one-line message names the variable. Components never
see :class:`Settings`: the roles build each one's small config (:meth:`Settings.stream_policy`,
:meth:`Settings.worker_config`, :meth:`Settings.edge_config`, …) and pass that in.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError

from culto.errors import ConfigError
from culto.origins import normalize_origin
from frontend_server.config import (
    DEFAULT_CSRF_EXEMPT,
    LOOPBACK_HOSTS,
    EdgeConfig,
    HubConfig,
    check_exempt_paths,
    host_entry,
)
from frontend_server.security.limits import RateLimitConfig
from mesh.connection import NatsCredentials
from mesh.provision import StreamPolicy
from ops.handlers import MetricsAccess
from ops.server import ListenConfig, proxy_networks
from schemas.identity import Email
from services.api.service import ApiConfig
from services.transcripts.fetch_policy import DEFAULT_VIDEO_HOSTS, FetchPolicy
from services.worker.pipeline import WorkerConfig

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_NATS_USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

Environment = Literal["dev", "prod"]
"""``CULTO_ENV``: a developer's machine or production (not to be confused with the NATS roles)."""
DEFAULT_ADMIN_EMAIL = "admin@localhost"
_EMAIL_ADAPTER: TypeAdapter[str] = TypeAdapter(Email)


class Settings(BaseModel):
    """Every setting of one process. Build it with :meth:`from_env`.

    Attributes:
        nats_url: NATS server URL(s), comma separated; ``None`` means "start an embedded server"
            (only ``culto up`` does that).
        data_dir: Where the embedded server and the dev cookie secret live.
        port: HTTP port of the frontend.
        frontend_url: The browser app's origin, always allowed by CORS.
        cors_origins: Extra allowed origins.
        csrf_exempt_paths: Paths that skip the XSRF check.
        sse_heartbeat_interval: Seconds between SSE heartbeats.
        cookie_secret: Secret for signed cookies; required outside dev.
        events_max_age: Retention of ``CULTO_EVENTS`` in seconds (0 = unlimited).
        stream_replicas: Replica count of streams and buckets (1 dev, 3 prod cluster).
        job_ack_wait: Seconds a worker may hold a job without a progress ping.
        job_max_deliver: Deliveries of one job before it is failed for good.
        max_transcript_bytes: Largest transcript accepted.
        embedded_nats_port: Client port of ``culto up``'s embedded server (0 = any free port).
        whisper_model: Speech-recognition model: ``base`` (or ``None``) = the bundled base
            model, ``small`` or another faster-whisper name (downloaded on first use), or a
            CTranslate2 model directory.
        allowed_video_hosts: Hosts a submitted video ``url`` may name (YouTube's by default).
        allowed_hosts: Names the ``Host`` header may carry (``CULTO_ALLOWED_HOSTS``); default:
            the loopback names, plus ``FRONTEND_URL``'s host outside dev.
        trusted_proxies: IPs/CIDR networks whose ``X-Forwarded-*``/``X-Real-IP`` are believed.
        allow_private_fetch: Let workers fetch from loopback/private/link-local addresses
            (``CULTO_ALLOW_PRIVATE_FETCH=1``); off by default, unsafe on the internet.
        environment: ``dev`` generates a cookie secret; ``prod`` requires one.
        nats_user: NATS user of this process (with ``nats_password``); ``None`` = none sent.
        nats_password: Its password; never logged, hidden by ``repr``.
        nats_ca_file: CA certificate(s) that signed the NATS servers' certificates (TLS).
        admin_email: The first admin's email (``CULTO_ADMIN_EMAIL``), created by ``culto up``
            when there is no user yet.
        metrics_token: Bearer token that may read the frontend's public ``/metrics`` outside
            dev (``CULTO_METRICS_TOKEN``); never logged.
        ops_port: The frontend's ops port (``CULTO_OPS_PORT``): probes and an open
            ``/metrics`` for the cluster; ``None`` = none.
    """

    model_config = ConfigDict(frozen=True)

    nats_url: str | None = None
    data_dir: Path = Path(".culto")
    port: int = 8000
    host: str = "127.0.0.1"
    frontend_url: str = "http://localhost:5173"
    cors_origins: tuple[str, ...] = ()
    csrf_exempt_paths: tuple[str, ...] = DEFAULT_CSRF_EXEMPT
    sse_heartbeat_interval: float = 30.0
    sse_client_buffer: int = 1000
    write_timeout: float = 30.0
    drain_timeout: float = 15.0
    drain_spread: float = 5.0
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 120
    max_streams_per_client: int = 100
    logins_per_minute: int = 10
    max_connections_per_second: int = 100
    cookie_secret: SecretStr | None = None
    events_max_age: float = 30 * 86400.0
    stream_replicas: int = 1
    job_ack_wait: float = 30.0
    job_max_deliver: int = 5
    max_transcript_bytes: int = 5 * 1024 * 1024
    whisper_model: str | None = None
    embedded_nats_port: int = 4222
    allowed_video_hosts: frozenset[str] = DEFAULT_VIDEO_HOSTS
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    trusted_proxies: tuple[str, ...] = ()
    allow_private_fetch: bool = False
    environment: Environment = "prod"
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_ca_file: Path | None = None
    admin_email: str = DEFAULT_ADMIN_EMAIL
    metrics_token: SecretStr | None = None
    ops_port: int | None = None

    def nats_credentials(self) -> NatsCredentials | None:
        """``NATS_USER``/``NATS_PASSWORD``, when set."""
        if self.nats_user is None or self.nats_password is None:
            return None
        return NatsCredentials(self.nats_user, self.nats_password.get_secret_value())

    @property
    def allowed_origins(self) -> frozenset[str]:
        """``FRONTEND_URL`` plus ``CORS_ORIGINS``, normalised to ``scheme://host[:port]``."""
        return EdgeConfig.origins((self.frontend_url, *self.cors_origins))

    def listen_config(self) -> ListenConfig:
        """Where this role's HTTP server listens (frontend, or the ops server of the others).

        The body bound sits above the transcript limit so the handlers, not the connection,
        answer an oversized submit (with a JSON 413).
        """
        return ListenConfig(
            host=self.host,
            port=self.port,
            max_body_bytes=2 * self.max_transcript_bytes + 2**20,
            trusted_proxies=self.trusted_proxies,
            connections_per_second=self.max_connections_per_second,
            write_timeout=self.write_timeout,
        )

    def stream_policy(self) -> StreamPolicy:
        """How provisioning configures streams, buckets and the workers' consumer."""
        return StreamPolicy(
            replicas=self.stream_replicas,
            events_max_age=self.events_max_age,
            job_ack_wait=self.job_ack_wait,
            job_max_deliver=self.job_max_deliver,
        )

    def fetch_policy(self) -> FetchPolicy:
        """Where workers may fetch media from (checked at submit and at every connection)."""
        return FetchPolicy(
            allowed_hosts=self.allowed_video_hosts,
            allow_private_addresses=self.allow_private_fetch,
        )

    def api_config(self) -> ApiConfig:
        """The video API service's limits."""
        return ApiConfig(
            max_transcript_bytes=self.max_transcript_bytes,
            fetch_policy=self.fetch_policy(),
        )

    def worker_config(self) -> WorkerConfig:
        """A worker's configuration."""
        return WorkerConfig(
            ack_wait=self.job_ack_wait,
            max_deliver=self.job_max_deliver,
            max_transcript_bytes=self.max_transcript_bytes,
            whisper_model=self.whisper_model,
            fetch_policy=self.fetch_policy(),
        )

    def edge_config(self) -> EdgeConfig:
        """The frontend's configuration (in dev a missing cookie secret is generated).

        Raises:
            ConfigError: no ``COOKIE_SECRET`` outside dev.
        """
        secret = self.with_dev_cookie_secret().cookie_secret
        assert secret is not None
        return EdgeConfig(
            cookie_secret=secret.get_secret_value(),
            allowed_origins=self.allowed_origins,
            csrf_exempt_paths=self.csrf_exempt_paths,
            max_transcript_bytes=self.max_transcript_bytes,
            allowed_hosts=self.allowed_hosts,
            listen=self.listen_config(),
            hub=HubConfig(
                client_buffer=self.sse_client_buffer,
                heartbeat_interval=self.sse_heartbeat_interval,
                write_timeout=self.write_timeout,
                drain_timeout=self.drain_timeout,
                drain_spread=self.drain_spread,
            ),
            limits=RateLimitConfig(
                requests_per_minute=self.rate_limit_per_minute,
                burst=self.rate_limit_burst,
                streams_per_client=self.max_streams_per_client,
                logins_per_minute=self.logins_per_minute,
            ),
            metrics=MetricsAccess(
                open=self.environment == "dev",
                token=self.metrics_token.get_secret_value() if self.metrics_token else None,
            ),
            ops_listen=(
                None
                if self.ops_port is None
                else dataclasses.replace(self.listen_config(), port=self.ops_port)
            ),
        )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, environment: Environment | None = None
    ) -> Settings:
        """Read and validate every variable.

        Args:
            environ: The variables to read (defaults to ``os.environ``).
            environment: Force ``dev`` or ``prod``; otherwise ``CULTO_ENV`` (default ``prod``).

        Raises:
            ConfigError: naming the first invalid variable.
        """
        env = _with_secret_files(dict(os.environ if environ is None else environ))
        role = environment or _choice(env, "CULTO_ENV", ("dev", "prod"), "prod")
        fields: dict[str, object] = {"environment": role}
        if url := env.get("NATS_URL", "").strip():
            fields["nats_url"] = _nats_url(url)
        if data_dir := env.get("CULTO_DATA_DIR", "").strip():
            fields["data_dir"] = Path(data_dir)
        fields["port"] = _int(env, "PORT", 8000, 0, 65535)
        fields["host"] = env.get("CULTO_HOST", "127.0.0.1").strip() or "127.0.0.1"
        frontend = env.get("FRONTEND_URL", "http://localhost:5173").strip()
        fields["frontend_url"] = _checked_origin("FRONTEND_URL", frontend)
        fields["cors_origins"] = tuple(
            _checked_origin("CORS_ORIGINS", o) for o in _csv(env.get("CORS_ORIGINS", ""))
        )
        if "CSRF_EXEMPT_PATHS" in env:
            fields["csrf_exempt_paths"] = check_exempt_paths(_csv(env["CSRF_EXEMPT_PATHS"]))
        fields["sse_heartbeat_interval"] = _duration(env, "SSE_HEARTBEAT_INTERVAL", 30.0, 0.05)
        fields["sse_client_buffer"] = _int(env, "SSE_CLIENT_BUFFER", 1000, 1, 1_000_000)
        fields["write_timeout"] = _duration(env, "CULTO_WRITE_TIMEOUT", 30.0, 0.1)
        fields["drain_timeout"] = _duration(env, "CULTO_DRAIN_TIMEOUT", 15.0, 0.1)
        fields["drain_spread"] = _duration(env, "CULTO_DRAIN_SPREAD", 5.0, 0.1)
        fields["rate_limit_per_minute"] = _int(env, "CULTO_RATE_LIMIT", 600, 1, 10_000_000)
        fields["rate_limit_burst"] = _int(env, "CULTO_RATE_BURST", 120, 1, 10_000_000)
        fields["logins_per_minute"] = _int(env, "CULTO_LOGINS_PER_MINUTE", 10, 2, 10_000)
        fields["max_streams_per_client"] = _int(
            env, "CULTO_MAX_STREAMS_PER_CLIENT", 100, 1, 1_000_000
        )
        fields["max_connections_per_second"] = _int(
            env, "CULTO_MAX_CONNECTIONS_PER_SECOND", 100, 1, 1_000_000
        )
        fields["events_max_age"] = _duration(env, "EVENTS_MAX_AGE", 30 * 86400.0, 0.0)
        fields["embedded_nats_port"] = _int(env, "CULTO_NATS_PORT", 4222, 0, 65535)
        fields["stream_replicas"] = _int(env, "CULTO_STREAM_REPLICAS", 1, 1, 5)
        fields["job_ack_wait"] = _duration(env, "CULTO_JOB_ACK_WAIT", 30.0, 0.5)
        fields["job_max_deliver"] = _int(env, "CULTO_JOB_MAX_DELIVER", 5, 1, 100)
        fields["max_transcript_bytes"] = _int(
            env, "CULTO_MAX_TRANSCRIPT_BYTES", 5 * 1024 * 1024, 1, 512 * 1024 * 1024
        )
        if hosts := _csv(env.get("CULTO_ALLOWED_VIDEO_HOSTS", "")):
            fields["allowed_video_hosts"] = _hosts(hosts)
        fields["allowed_hosts"] = _allowed_hosts(env, role, fields["frontend_url"])
        proxies = _csv(env.get("TRUSTED_PROXIES", ""))
        proxy_networks(proxies)  # one line naming TRUSTED_PROXIES for a bad entry
        fields["trusted_proxies"] = tuple(proxies)
        fields["allow_private_fetch"] = _flag(env, "CULTO_ALLOW_PRIVATE_FETCH")
        if model := env.get("CULTO_WHISPER_MODEL", "").strip():
            fields["whisper_model"] = model
        fields.update(_nats_auth(env))
        fields["admin_email"] = _admin_email(env)
        fields.update(_ops_surface(env))
        secret = env.get("COOKIE_SECRET", "")
        if secret:
            if len(secret) < 16:
                raise ConfigError("COOKIE_SECRET: must be at least 16 characters long")
            fields["cookie_secret"] = SecretStr(secret)
        return cls.model_validate(fields)

    def with_dev_cookie_secret(self) -> Settings:
        """Return settings with a cookie secret, generating and persisting one in dev."""
        if self.cookie_secret is not None:
            return self
        if self.environment != "dev":
            raise ConfigError(
                "COOKIE_SECRET: required outside dev (set it, or CULTO_ENV=dev to generate one)"
            )
        path = self.data_dir / "cookie_secret"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
        else:
            value = secrets.token_urlsafe(32)
            # Owner-only: the secret signs every XSRF cookie of this dev install.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value)
        return self.model_copy(update={"cookie_secret": SecretStr(value)})


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
