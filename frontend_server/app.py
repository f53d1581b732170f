"""Composition of the Tornado application: the route table and its per-app dependencies.

Everything an application needs is passed to :func:`make_app` and stored on that application
(handler ``initialize`` arguments and application settings): two applications in one process —
as in tests — never share state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client.registry import Collector, CollectorRegistry
from tornado.routing import Rule, URLSpec
from tornado.web import Application, StaticFileHandler

from frontend_server.api.channels import MembersHandler
from frontend_server.api.docs import (
    DOCS_CSP,
    SWAGGER_DIR,
    TEXT_PLAIN,
    DocsPageHandler,
    DtosHandler,
    FaviconHandler,
    FaviconIcoHandler,
    IntegrationGuideHandler,
    SwaggerAssetHandler,
    file_route,
)
from frontend_server.api.identity import (
    ChannelHandler,
    ChannelsHandler,
    IdentityDeps,
    IdentityHandler,
    LoginHandler,
    LogoutHandler,
    MeHandler,
    MemberHandler,
    TokenHandler,
    TokensHandler,
    UsersHandler,
)
from frontend_server.api.openapi.document import OpenApiHandler, render_openapi
from frontend_server.api.passwords import PasswordHandler, UserPasswordHandler
from frontend_server.api.publish import PublishDeps, PublishHandler
from frontend_server.api.videos import CsrfHandler, VideoDeps, VideoHandler, VideosHandler
from frontend_server.config import EdgeConfig
from frontend_server.events.cursors import CursorAcks
from frontend_server.events.drain import Drain
from frontend_server.events.follow import catalog_channel_videos
from frontend_server.events.hub import EventHub
from frontend_server.events.sse.handler import (
    EventsHealthHandler,
    EventStreamHandler,
    StreamDeps,
)
from frontend_server.events.ws.handler import (
    AckDeps,
    AckHandler,
    EventSocketHandler,
    SocketDeps,
    SocketRegistry,
)
from frontend_server.events.ws.history import SocketHistory
from frontend_server.events.ws.metrics import TransportCollector
from frontend_server.security.auth import Authenticator
from frontend_server.security.browser import (
    ForeignHostMatcher,
    InvalidHostHandler,
    PreflightHandler,
    PreflightMatcher,
    SecureHandler,
    cors_transform,
)
from frontend_server.security.limits import ClientLimits
from mesh.catalog_client import VideoApiClient
from mesh.connection import MeshConnection
from mesh.cursors import CursorStore
from mesh.directory import Directory
from mesh.identity.client import IdentityClient
from mesh.replay import EventReader
from ops.handlers import Liveness
from ops.http import ApiError, JsonNotFoundHandler
from ops.metrics import HttpMetrics, make_registry
from ops.server import ops_routes, route_names
from schemas.export import TS_FILE

STATIC_DIR = Path(__file__).with_name("static")
HTML = "text/html; charset=utf-8"
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
        self.set_header("Cache-Control", "no-cache")
        self.finish(self.body)


class IndexHandler(PageHandler):
    """``/``: the page (its own class, so metrics label it ``/``)."""


class LoginPageHandler(PageHandler):
    """``/login``: the same page; it signs in with the one-time secret of ``#once=…``."""


class ChannelPageHandler(PageHandler):
    """``/c/<channel>``: the same page, as the channel's own: its sermons live, newest first.
    Served whatever the channel (the page asks the API what the caller may read, so this
    answer reveals nothing)."""


class AssetHandler(StaticFileHandler, SecureHandler):
    """``/static/…`` files, with JSON errors (a missing file is a JSON 404) and the security
    headers of :class:`~ops.http.BaseHandler` (``nosniff`` included)."""

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        """Refuse a NUL byte before it reaches the filesystem (``os.stat`` raises on it)."""
        if "\x00" in path:
            raise ApiError(404, "not_found", "no such file")
        return super().get_absolute_path(root, path)


def _page(name: str) -> dict[str, Any]:
    return {"body": (STATIC_DIR / name).read_bytes()}


def identity_routes(deps: IdentityDeps) -> list[URLSpec]:
    """Sign-in, the caller, channels, members, tokens and users (see ``identity_api``)."""
    routes: list[tuple[str, type[IdentityHandler], str]] = [
        (r"/api/v2/auth/login/?", LoginHandler, "/api/v2/auth/login"),
        (r"/api/v2/auth/logout/?", LogoutHandler, "/api/v2/auth/logout"),
        (r"/api/v2/auth/me/?", MeHandler, "/api/v2/auth/me"),
        (r"/api/v2/auth/password/?", PasswordHandler, "/api/v2/auth/password"),
        (r"/api/v2/channels/?", ChannelsHandler, "/api/v2/channels"),
        (
            r"/api/v2/channels/(?P<channel_id>[A-Za-z0-9_-]{1,64})/?",
            ChannelHandler,
            "/api/v2/channels/{channel_id}",
        ),
        (
            r"/api/v2/channels/(?P<channel_id>[A-Za-z0-9_-]{1,64})/members/?",
            MembersHandler,
            "/api/v2/channels/{channel_id}/members",
        ),
        (
            r"/api/v2/channels/(?P<channel_id>[A-Za-z0-9_-]{1,64})/members/(?P<user_id>[^/]+)/?",
            MemberHandler,
            "/api/v2/channels/{channel_id}/members/{user_id}",
        ),
        (r"/api/v2/tokens/?", TokensHandler, "/api/v2/tokens"),
        (r"/api/v2/tokens/(?P<token_id>[^/]+)/?", TokenHandler, "/api/v2/tokens/{token_id}"),
        (r"/api/v2/users/?", UsersHandler, "/api/v2/users"),
        (
            r"/api/v2/users/(?P<user_id>[^/]+)/password/?",
            UserPasswordHandler,
            "/api/v2/users/{user_id}/password",
        ),
    ]
    given = {"deps": deps}
    return [URLSpec(pattern, handler, given, name=name) for pattern, handler, name in routes]


def event_routes(
    stream: StreamDeps,
    identity: IdentityDeps,
    sockets: SocketRegistry,
    config: EdgeConfig,
    mesh: MeshConnection,
) -> list[URLSpec]:
    """SSE, the WebSocket, cursor acknowledgements and the events' health (``stream``: the
    SSE handler's dependencies, most of which the WebSocket shares)."""
    cursors = stream.cursors
    assert cursors is not None  # make_app always gives the stream its cursors
    websocket = SocketDeps(
        hub=stream.hub,
        config=stream.config,
        limits=stream.limits,
        api=stream.api,
        cursors=cursors,
        sockets=sockets,
        allowed_origins=config.allowed_origins,
        history=SocketHistory(EventReader(mesh), catalog_channel_videos(stream.api)),
    )
    ack = AckDeps(identity=identity.identity, limits=identity.limits, cursors=cursors)
    return [
        URLSpec(
            r"/api/v2/events/stream/?",
            EventStreamHandler,
            {"deps": stream},
            name="/api/v2/events/stream",
        ),
        URLSpec(
            r"/api/v2/events/ws/?",
            EventSocketHandler,
            {"deps": websocket},
            name="/api/v2/events/ws",
        ),
        URLSpec(r"/api/v2/events/ack/?", AckHandler, {"deps": ack}, name="/api/v2/events/ack"),
        URLSpec(
            r"/api/v2/events/health/?",
            EventsHealthHandler,
            {"hub": stream.hub},
            name="/api/v2/events/health",
        ),
    ]


def page_routes() -> list[URLSpec]:
    """The page, its assets, the API explorer, the guide and the generated documents."""
    favicon = file_route(STATIC_DIR / "favicon.svg", "image/svg+xml", PAGE_CSP, max_age=86400)
    return [
        URLSpec(r"/", IndexHandler, _page("index.html"), name="/"),
        URLSpec(r"/login/?", LoginPageHandler, _page("index.html"), name="/login"),
        URLSpec(
            r"/c/[A-Za-z0-9_-]{1,64}/?",
            ChannelPageHandler,
            _page("index.html"),
            name="/c/{channel_id}",
        ),
        URLSpec(
            r"/docs/?",
            DocsPageHandler,
            file_route(STATIC_DIR / "docs.html", HTML, DOCS_CSP),
            name="/docs",
        ),
        URLSpec(
            r"/docs/assets/(.*)",
            SwaggerAssetHandler,
            {"path": str(SWAGGER_DIR)},
            name="/docs/assets/{path}",
        ),
        URLSpec(
            r"/docs/integration\.md",
            IntegrationGuideHandler,
            file_route(STATIC_DIR / "integration.md", TEXT_PLAIN, PAGE_CSP),
            name="/docs/integration.md",
        ),
        URLSpec(r"/favicon\.svg", FaviconHandler, favicon, name="/favicon.svg"),
        URLSpec(r"/favicon\.ico", FaviconIcoHandler, favicon, name="/favicon.ico"),
        URLSpec(r"/static/(.*)", AssetHandler, {"path": str(STATIC_DIR)}, name="/static/{path}"),
        URLSpec(
            r"/api/v2/dtos\.ts",
            DtosHandler,
            file_route(TS_FILE, TEXT_PLAIN, PAGE_CSP),
            name="/api/v2/dtos.ts",
        ),
        URLSpec(
            r"/api/v2/openapi\.json",
            OpenApiHandler,
            {"document": render_openapi()},
            name="/api/v2/openapi.json",
        ),
    ]


def make_app(
    config: EdgeConfig,
    *,
    mesh: MeshConnection,
    api_client: VideoApiClient,
    identity_client: IdentityClient,
    hub: EventHub,
    directory: Directory,
    authenticator: Authenticator | None = None,
    alive: Liveness | None = None,
    collectors: Sequence[Collector] = (),
    cursors: CursorAcks | None = None,
    sockets: SocketRegistry | None = None,
    drain: Drain | None = None,
) -> Application:
    """The frontend application: page, REST, SSE, and the ops routes every role serves.

    Args:
        config: The edge's configuration.
        mesh: The process's connection (readiness and metrics).
        api_client: Client of the video API service.
        identity_client: Client of the identity service.
        hub: The running SSE hub.
        directory: The replica's view of users, channels, tokens and sessions.
        authenticator: Resolves callers (default: a new one on ``directory``); pass the
            hub's, so both follow the same directory.
        alive: The process's own liveness check for ``/health`` (``culto up``: its NATS).
        collectors: Further metrics for ``/metrics`` (``culto up``: its workers').
        cursors: Acknowledged cursors (default: one that flushes only when its owner opens
            it; :func:`~frontend_server.server.serve_frontend` does).
        sockets: The open WebSockets, closed on shutdown (default: a new registry).
        drain: Counts the open SSE streams and gives their reconnect delays on shutdown
            (default: a new one).
    """
    limits = ClientLimits(config.limits)  # one per application: per replica, see limits.py
    cursors = cursors or CursorAcks(identity_client, CursorStore(mesh))
    sockets = sockets or SocketRegistry()
    stream = StreamDeps(
        hub=hub,
        config=config.hub,
        limits=limits,
        api=api_client,
        cursors=cursors,
        drain=drain or Drain(config.hub),
    )
    transports = TransportCollector(sockets.stats, cursors.stats, lambda: hub.ws_frames_sent)
    registry = make_registry(
        mesh, hub=hub, collectors=[hub.replay_seconds, transports, *collectors]
    )
    specs = [
        *page_routes(),
        *api_routes(config, mesh, limits, identity_client, stream, sockets),
        # Readiness includes the live feed: a replica whose feed is not subscribed (NATS
        # failing over) can only answer event streams with "retry", so traffic goes elsewhere.
        *ops_routes(mesh, registry, alive, config.metrics, {"live_feed": lambda: hub.healthy}),
    ]
    authenticator = authenticator or Authenticator(directory, config.cookie_secret)
    return _guarded_application(specs, config, registry, authenticator)


def api_routes(
    config: EdgeConfig,
    mesh: MeshConnection,
    limits: ClientLimits,
    identity_client: IdentityClient,
    stream: StreamDeps,
    sockets: SocketRegistry,
) -> list[URLSpec]:
    """The ``/api/v2`` routes but the generated documents: videos, events, identity."""
    identity = IdentityDeps(identity=identity_client, limits=limits)
    videos = {
        "deps": VideoDeps(
            api=stream.api, max_transcript_bytes=config.max_transcript_bytes, limits=limits
        )
    }
    return [
        URLSpec(r"/api/v2/csrf/?", CsrfHandler, name="/api/v2/csrf"),
        URLSpec(r"/api/v2/videos/?", VideosHandler, videos, name="/api/v2/videos/"),
        URLSpec(
            r"/api/v2/videos/(?P<video_id>[^/]+)/?",
            VideoHandler,
            videos,
            name="/api/v2/videos/{video_id}",
        ),
        *event_routes(stream, identity, sockets, config, mesh),
        URLSpec(
            r"/api/v2/events/publish/?",
            PublishHandler,
            {"deps": PublishDeps(identity=identity_client, limits=limits, api=stream.api)},
            name="/api/v2/events/publish",
        ),
        *identity_routes(identity),
    ]


def _guarded_application(
    specs: list[URLSpec], config: EdgeConfig, registry: CollectorRegistry, auth: Authenticator
) -> Application:
    """The application serving ``specs`` behind the host check and the CORS preflight, with
    request metrics and JSON 404s."""
    names = route_names(specs)
    names[PreflightHandler] = "preflight"
    names[InvalidHostHandler] = "invalid_host"
    metrics = HttpMetrics(registry, names)
    preflight = Rule(
        PreflightMatcher(),
        PreflightHandler,
        {"allowed_origins": config.allowed_origins},
        name="preflight",
    )
    # First: a request for a foreign host (DNS rebinding) gets nothing else, not even a preflight.
    foreign_host = Rule(ForeignHostMatcher(config.allowed_hosts), InvalidHostHandler, name="host")
    app = Application(
        [foreign_host, preflight, *specs],
        default_handler_class=JsonNotFoundHandler,
        log_function=metrics.observe,
        metrics_registry=registry,
        serve_traceback=False,
        compress_response=False,  # never gzip the SSE stream
        xsrf_cookies=True,  # Tornado calls check_xsrf_cookie; ours is session-bound (auth.py)
        cookie_secret=config.cookie_secret,
        authenticator=auth,
        csrf_exempt_paths=config.csrf_exempt_paths,
    )
    app.add_transform(cors_transform(config.allowed_origins))
    return app
