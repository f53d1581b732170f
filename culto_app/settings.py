"""Process settings: read once from environment variables (:mod:`culto_app.environ`) in the
application layer.

Every variable is validated when the process starts; a bad value raises
:class:`~culto.errors.ConfigError` whose one-line message names the variable. Components never
see :class:`Settings`: the roles build each one's small config (:meth:`Settings.stream_policy`,
:meth:`Settings.worker_config`, :meth:`Settings.edge_config`, …) and pass that in.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from culto.errors import ConfigError
from culto_app.environ import DEFAULT_ADMIN_EMAIL, Environment, settings_fields
from frontend_server.config import (
    DEFAULT_CSRF_EXEMPT,
    LOOPBACK_HOSTS,
    EdgeConfig,
    HubConfig,
)
from frontend_server.security.limits import RateLimitConfig
from mesh.connection import NatsCredentials
from mesh.provision import StreamPolicy
from ops.handlers import MetricsAccess
from ops.server import ListenConfig
from services.api.service import ApiConfig
from services.transcripts.fetch_policy import DEFAULT_VIDEO_HOSTS, FetchPolicy
from services.worker.pipeline import WorkerConfig


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
        env = os.environ if environ is None else environ
        return cls.model_validate(settings_fields(env, environment))

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
