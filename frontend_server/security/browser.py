"""Browser security of the edge: XSRF tokens and CORS.

XSRF: state-changing requests carry the token of :meth:`Authenticator.xsrf_token` (bound to
the session, see :mod:`frontend_server.security.auth`) in the ``X-XSRFToken``, ``X-CSRF-Token`` or
``X-CSRFToken`` header, or the ``_xsrf`` form field. Bearer-token requests need none. Paths
listed in ``EdgeConfig.csrf_exempt_paths`` skip the check (exact match, or the path followed by
``/``).

CORS is applied by an output transform so that it covers every handler, including the SSE
stream and error responses: an allowed ``Origin`` gets ``Access-Control-Allow-Origin`` echoed
(never ``*``) with credentials; any other origin gets no CORS header at all; every response
carries ``Vary: Origin`` so caches never mix them. Preflight ``OPTIONS`` requests are routed to
:class:`PreflightHandler` before normal routing (see :class:`PreflightMatcher`).

Host check (DNS rebinding): a request whose ``Host`` names a host outside
``EdgeConfig.allowed_hosts`` is routed, before anything else, to :class:`InvalidHostHandler`
(a JSON 400 ``invalid_host``); see :class:`ForeignHostMatcher`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.routing import Matcher
from tornado.web import OutputTransform, RequestHandler

from access.policy import Principal
from culto.origins import normalize_origin
from frontend_server.config import ANY_HOST
from frontend_server.security.auth import Authenticator, Caller
from ops.http import ApiError, BaseHandler, allowed_methods, printable

ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Last-Event-ID",
    "X-XSRFToken",
    "X-CSRF-Token",
    "X-CSRFToken",
    "Cache-Control",
)
EXPOSED_HEADERS = ("Location", "Retry-After")
PREFLIGHT_MAX_AGE = 600
XSRF_HEADERS = ("X-XSRFToken", "X-CSRF-Token", "X-CSRFToken")


def is_exempt(path: str, exempt_paths: Iterable[str]) -> bool:
    """True when ``path`` is an exempt path or below one."""
    for exempt in exempt_paths:
        base = exempt.rstrip("/") or "/"
        if path in (exempt, base) or path.startswith(base.rstrip("/") + "/"):
            return True
    return False


class XsrfMixin(RequestHandler):
    """The caller of each request (:mod:`frontend_server.security.auth`) and the XSRF check
    bound to it.

    The application's ``authenticator`` setting resolves callers; the check skips bearer-token
    requests, unimplemented methods (their answer is the 405) and exempt paths.
    """

    _caller: Caller | None = None

    @property
    def authenticator(self) -> Authenticator:
        """This application's authenticator."""
        auth: Authenticator = self.settings["authenticator"]
        return auth

    @property
    def caller(self) -> Caller:
        """Who sent this request (resolved once).

        Raises:
            Unauthenticated: a bad bearer token.
            ApiError: 400 for a token in the query string.
        """
        if self._caller is None:
            self._caller = self.authenticator.caller(self)
        return self._caller

    @property
    def principal(self) -> Principal:
        """The caller's principal (anonymous without credentials)."""
        return self.caller.principal

    def check_xsrf_cookie(self) -> None:
        """Verify the XSRF token against the caller's session (or pre-login nonce).

        Raises:
            XsrfFailed: 403 ``xsrf_failed`` when the token is missing or not this caller's.
        """
        if (self.request.method or "").upper() not in allowed_methods(type(self)):
            return  # Tornado checks XSRF before the method: the true answer is the 405 next
        if is_exempt(self.request.path, self.settings.get("csrf_exempt_paths", ())):
            return
        given = self.get_argument("_xsrf", None) or next(
            (v for h in XSRF_HEADERS if (v := self.request.headers.get(h))), None
        )
        self.authenticator.check_xsrf(self, self.caller, given)


class CorsTransform(OutputTransform):
    """Adds CORS headers for allowed origins, and ``Vary: Origin`` to every response.

    Subclass per application with :func:`cors_transform` (Tornado builds transforms from the
    request alone, so the allow-list lives on the class).
    """

    allowed_origins: frozenset[str] = frozenset()

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        self._origin = request.headers.get("Origin")

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        """Add the headers before the response starts."""
        vary = [v.strip() for v in headers.get("Vary", "").split(",") if v.strip()]
        if "origin" not in {v.lower() for v in vary}:
            vary.append("Origin")
        headers["Vary"] = ", ".join(vary)
        origin = self._origin
        if origin and normalize_origin(origin) in self.allowed_origins:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        return status_code, headers, chunk


def cors_transform(allowed_origins: Iterable[str]) -> type[CorsTransform]:
    """A :class:`CorsTransform` subclass bound to one application's allow-list."""
    normalized = frozenset(o for o in map(normalize_origin, allowed_origins) if o)
    return type("BoundCorsTransform", (CorsTransform,), {"allowed_origins": normalized})


HOST_CHECK_EXEMPT = frozenset({"/health", "/ready", "/metrics"})
"""Paths answered whatever the ``Host``: kubelet probes and Prometheus scrapes address a pod by
its IP (``Host: 10.1.2.3:8000``), which no list of names can foresee. They are read-only and
carry no user data, so a rebinding page gains nothing from them (counts and up/down flags)."""


def host_name(host: str) -> str:
    """The name in a ``Host`` header value: lower case, no port, no trailing dot, no brackets."""
    value = host.strip().lower()
    if value.startswith("["):  # [v6]:port
        value = value[1 : value.find("]")] if "]" in value else value[1:]
    elif value.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        value = value.split(":", 1)[0]
    return value.rstrip(".")


class ForeignHostMatcher(Matcher):
    """Matches requests whose ``Host`` is not one of the allowed names (outside the exempt paths).

    A routing rule rather than a check in each handler: it runs before every handler (static
    files, the SSE stream, 404s and preflights included), and no handler can forget it.
    """

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self.allowed = frozenset(allowed_hosts)

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """Empty kwargs for a foreign host, ``None`` for an allowed one."""
        if ANY_HOST in self.allowed or request.path in HOST_CHECK_EXEMPT:
            return None
        if host_name(request.host) in self.allowed:
            return None
        return {"path_args": [], "path_kwargs": {}}


class InvalidHostHandler(BaseHandler):
    """Answers every request for a foreign host with a JSON 400 ``invalid_host``."""

    def check_xsrf_cookie(self) -> None:
        """Nothing is served, so nothing to protect: the real answer is the 400."""

    def prepare(self) -> None:
        """Fail before method dispatch (any method, no side effects)."""
        raise ApiError(
            400,
            "invalid_host",
            f"this server does not answer to the host {printable(self.request.host, 100)!r}: "
            "add it to CULTO_ALLOWED_HOSTS if it is yours",
        )


class PreflightMatcher(Matcher):
    """Matches CORS preflights (``OPTIONS`` with ``Origin`` and a requested method)."""

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """Empty kwargs for a preflight, ``None`` otherwise."""
        headers = request.headers
        if (
            request.method == "OPTIONS"
            and "Origin" in headers
            and "Access-Control-Request-Method" in headers
        ):
            return {"path_args": [], "path_kwargs": {}}
        return None


class PreflightHandler(BaseHandler):
    """Answers every CORS preflight: 204 with the allowed methods/headers, or a JSON 403.

    Args (``initialize``):
        allowed_origins: Allowed origins (normalised inside).
    """

    def initialize(self, allowed_origins: Iterable[str]) -> None:
        """Store the allow-list."""
        self._allowed = frozenset(o for o in map(normalize_origin, allowed_origins) if o)

    def options(self, *args: str, **kwargs: str) -> None:
        """Grant or refuse the preflight."""
        origin = self.request.headers.get("Origin", "")
        if normalize_origin(origin) not in self._allowed:
            raise ApiError(
                403, "cors_origin_denied", f"origin {origin[:100]!r} is not allowed by CORS"
            )
        method = self.request.headers.get("Access-Control-Request-Method", "").upper()
        if method not in ALLOWED_METHODS:
            raise ApiError(
                403, "cors_method_denied", f"method {method[:20]!r} is not allowed by CORS"
            )
        requested = self.request.headers.get("Access-Control-Request-Headers", "")
        allowed_lower = {h.lower() for h in ALLOWED_HEADERS}
        refused = [
            h.strip()
            for h in requested.split(",")
            if h.strip() and h.strip().lower() not in allowed_lower
        ]
        if refused:
            raise ApiError(
                403, "cors_header_denied", f"header {refused[0][:60]!r} is not allowed by CORS"
            )
        self.set_status(204)
        self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("Access-Control-Allow-Credentials", "true")
        self.set_header("Access-Control-Allow-Methods", ", ".join(ALLOWED_METHODS))
        self.set_header("Access-Control-Allow-Headers", ", ".join(ALLOWED_HEADERS))
        self.set_header("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE))
        self.finish()


class SecureHandler(XsrfMixin, BaseHandler):
    """Base of state-changing JSON handlers: JSON errors plus the XSRF check."""
