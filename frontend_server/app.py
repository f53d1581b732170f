"""Composition of the Tornado application: the route table and its per-app dependencies.

Everything an application needs is passed to :func:`make_app` and stored on that application
(handler ``initialize`` arguments and application settings): two applications in one process —
as in tests — never share state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tornado.routing import Rule, URLSpec
from tornado.web import Application, RequestHandler, StaticFileHandler

from culto.errors import ConfigError
from culto.settings import Settings
from frontend_server.errors import JsonNotFoundHandler
from frontend_server.events_api import EventsHealthHandler, EventStreamHandler
from frontend_server.hub import EventHub
from frontend_server.openapi import OpenApiHandler, render_openapi
from frontend_server.ops import (
    ExtraStats,
    HealthHandler,
    HttpMetrics,
    MetricsHandler,
    ReadyHandler,
    StatsSource,
    make_registry,
)
from frontend_server.security import (
    PreflightHandler,
    PreflightMatcher,
    SecureHandler,
    cors_transform,
)
from frontend_server.videos_api import CsrfHandler, VideoHandler, VideosHandler
from mesh.connection import MeshConnection
from services.api.client import VideoApiClient

STATIC_DIR = Path(__file__).with_name("static")
# The page only loads its own assets and talks to its own origin.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class PageHandler(SecureHandler):
    """Serves one small HTML file, read once when the application is built."""

    def initialize(self, body: bytes) -> None:
        """The page's bytes."""
        self.body = body

    def get(self) -> None:
        """The page, with a strict CSP."""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", PAGE_CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")
        self.finish(self.body)


class AssetHandler(StaticFileHandler, SecureHandler):
    """``/static/…`` files, with JSON errors (a missing file is a JSON 404)."""

    def set_extra_headers(self, path: str) -> None:
        """No MIME sniffing of scripts and styles."""
        self.set_header("X-Content-Type-Options", "nosniff")


def _secret(settings: Settings) -> str:
    if settings.cookie_secret is None:
        raise ConfigError("COOKIE_SECRET: required (set it, or CULTO_ENV=dev to generate one)")
    return settings.cookie_secret.get_secret_value()


def _page(name: str) -> dict[str, Any]:
    return {"body": (STATIC_DIR / name).read_bytes()}


def _application(
    settings: Settings,
    specs: list[URLSpec],
    *,
    mesh: MeshConnection,
    hub: StatsSource | None,
    extra_stats: Mapping[str, ExtraStats] | ExtraStats | None = None,
    xsrf: bool,
) -> Application:
    """The shared part of both applications: errors, CORS, metrics, XSRF settings."""
    registry = make_registry(mesh, hub=hub, extra=extra_stats)
    specs = [
        *specs,
        URLSpec("/health", HealthHandler, name="/health"),
        URLSpec("/ready", ReadyHandler, {"mesh": mesh}, name="/ready"),
        URLSpec("/metrics", MetricsHandler, {"registry": registry}, name="/metrics"),
    ]
    route_names: dict[type[RequestHandler], str] = {
        spec.target: spec.name for spec in specs if spec.name and isinstance(spec.target, type)
    }
    route_names[PreflightHandler] = "preflight"
    metrics = HttpMetrics(registry, route_names)
    preflight = Rule(
        PreflightMatcher(),
        PreflightHandler,
        {"allowed_origins": settings.allowed_origins},
        name="preflight",
    )
    options: dict[str, Any] = {
        "default_handler_class": JsonNotFoundHandler,
        "log_function": metrics.observe,
        "metrics_registry": registry,
        "serve_traceback": False,
        "compress_response": False,  # never gzip the SSE stream
    }
    if xsrf:
        options.update(
            xsrf_cookies=True,
            cookie_secret=_secret(settings),
            xsrf_cookie_kwargs={"samesite": "Lax"},
            csrf_exempt_paths=tuple(settings.csrf_exempt_paths),
        )
    app = Application([preflight, *specs], **options)
    app.add_transform(cors_transform(settings.allowed_origins))
    return app


def make_app(
    settings: Settings, *, mesh: MeshConnection, api_client: VideoApiClient, hub: EventHub
) -> Application:
    """The frontend application.

    Args:
        settings: Process settings (``cookie_secret`` must be set).
        mesh: The process's connection (readiness and metrics).
        api_client: Client of the video API service.
        hub: The running SSE hub.

    Raises:
        ConfigError: without a cookie secret.
    """
    api = {"api": api_client, "max_body_bytes": settings.max_transcript_bytes}
    events = {"hub": hub, "settings": settings}
    specs = [
        URLSpec(r"/", PageHandler, _page("index.html"), name="/"),
        URLSpec(r"/docs/?", PageHandler, _page("docs.html"), name="/docs"),
        URLSpec(r"/static/(.*)", AssetHandler, {"path": str(STATIC_DIR)}, name="/static/{path}"),
        URLSpec(
            r"/api/v2/openapi\.json",
            OpenApiHandler,
            {"document": render_openapi()},
            name="/api/v2/openapi.json",
        ),
        URLSpec(r"/api/v2/csrf/?", CsrfHandler, name="/api/v2/csrf"),
        URLSpec(r"/api/v2/videos/?", VideosHandler, api, name="/api/v2/videos/"),
        URLSpec(
            r"/api/v2/videos/(?P<video_id>[^/]+)/?",
            VideoHandler,
            api,
            name="/api/v2/videos/{video_id}",
        ),
        URLSpec(
            r"/api/v2/events/stream/?", EventStreamHandler, events, name="/api/v2/events/stream"
        ),
        URLSpec(
            r"/api/v2/events/health/?", EventsHealthHandler, events, name="/api/v2/events/health"
        ),
    ]
    return _application(settings, specs, mesh=mesh, hub=hub, xsrf=True)


def make_ops_app(
    settings: Settings,
    *,
    mesh: MeshConnection,
    extra_stats: Mapping[str, ExtraStats] | ExtraStats | None = None,
) -> Application:
    """``/health``, ``/ready`` and ``/metrics`` only (the ``api`` and ``worker`` roles).

    Args:
        settings: Process settings.
        mesh: The process's connection.
        extra_stats: The role's stats: a callable returning a mapping or dataclass of numbers
            (gauges ``culto_<name>``), or ``{prefix: callable}`` (``culto_<prefix>_<name>``).
    """
    return _application(settings, [], mesh=mesh, hub=None, extra_stats=extra_stats, xsrf=False)
