"""HTTP error translation: every failure leaves a server as ``{"error": {"code", "message"}}``.

Status codes chosen here (the one table of the HTTP edge):

=============================================  ======  ==========================
cause                                          status  ``error.code``
=============================================  ======  ==========================
body is not JSON / not an object, bad path id  400     ``invalid_json``, ``invalid_video_id``
``Host`` not in ``CULTO_ALLOWED_HOSTS``        400     ``invalid_host`` (frontend only)
body or query fails schema validation          422     ``validation_error``
:class:`~culto.errors.InvalidInput` (service)  422     the error's own code
missing or wrong XSRF token                    403     ``xsrf_failed``
preflight from a disallowed origin             403     ``cors_origin_denied``
:class:`~culto.errors.NotFound`, unknown path  404     ``not_found``
method not allowed                             405     ``method_not_allowed``
:class:`~culto.errors.Conflict`                409     ``conflict`` (+ ``details.existing_id``)
body too large                                 413     ``payload_too_large``
:class:`~culto.errors.PayloadTooLarge`         413     the error's own code
:class:`~culto.errors.QuotaExceeded`           429     the error's own code (``too_many_cursors``)
:class:`~culto.errors.TranscriptTooLarge`      413     ``transcript_too_large``
:class:`~culto.errors.MeshUnavailable`         503     ``mesh_unavailable`` (+ ``Retry-After``)
:class:`~culto.errors.StorageFull`             507     ``storage_full`` (JetStream's disk is full)
:class:`~culto.errors.MeshTimeout`             504     ``mesh_timeout``
other :class:`~culto.errors.MeshError`         503     ``mesh_error``
anything else                                  500     ``internal_error`` (generic message)
=============================================  ======  ==========================

Validation rule: 400 means "the request cannot be read at all", 422 means "it was read but a
field is wrong"; the message names the field (``youtube_id: String should match ...``).
Tracebacks are logged, never sent.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from tornado.web import HTTPError, RequestHandler

from culto.errors import (
    AccessError,
    Conflict,
    CultoError,
    Forbidden,
    InvalidInput,
    MeshError,
    MeshTimeout,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    StorageFull,
    TranscriptTooLarge,
    Unauthenticated,
    lookup,
)
from ops.tornado_seam import request_start

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


class ApiError(Exception):
    """An error raised by the edge itself with its final status and code.

    Args:
        status: HTTP status code.
        code: Stable machine code.
        message: One human sentence (safe to show).
        details: Optional structured context.
        headers: Response headers the error needs (``Retry-After`` of a 429).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})

    def describe(self) -> tuple[int, str, str, dict[str, Any]]:
        """``(status, code, message, details)``."""
        return self.status, self.code, self.message, self.details


STATUS_BY_ERROR: dict[type[CultoError], int] = {
    InvalidInput: 422,
    PayloadTooLarge: 413,
    TranscriptTooLarge: 413,
    AccessError: 403,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    QuotaExceeded: 429,
    MeshError: 503,
    StorageFull: 507,
    MeshTimeout: 504,
    CultoError: 500,
}
"""HTTP status of each domain error; searched along the error's MRO (Starlette's idiom), so a
subclass gets its own entry or its nearest ancestor's (``MeshUnavailable`` → ``MeshError``)."""


def status_for(error: CultoError) -> int:
    """The HTTP status of a domain error (see the module table)."""
    return lookup(STATUS_BY_ERROR, error) or 500


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> bytes:
    """``{"error": {"code", "message"[, "details"]}}`` as UTF-8 JSON."""
    inner: dict[str, Any] = {"code": code, "message": message}
    if details:
        inner["details"] = dict(details)
    return json.dumps({"error": inner}, ensure_ascii=False).encode()


def describe(exc: BaseException | None, status: int) -> tuple[int, str, str, dict[str, Any]]:
    """``(status, code, message, details)`` for any exception a handler may raise.

    Messages of 5xx errors that are not domain errors are generic: their text may carry
    internals (paths, reprs) that must not leave the process.
    """
    if isinstance(exc, ApiError):
        return exc.describe()
    if isinstance(exc, CultoError):
        code_status = status_for(exc)
        if code_status == 500:
            return 500, "internal_error", "internal server error", {}
        return code_status, exc.code, exc.message, dict(exc.details)
    # A bare ValidationError here did not come from the request (handlers convert those to
    # ApiError): it is a malformed reply from the service, so a 500 like any other bug.
    if isinstance(exc, HTTPError):
        status = exc.status_code
        if status < 500:
            message = exc.log_message % exc.args if exc.log_message and exc.args else None
            message = message or exc.log_message or exc.reason or _reason(status)
            return status, _HTTP_CODES.get(status, "http_error"), message, {}
    if status < 500:
        return status, _HTTP_CODES.get(status, "http_error"), _reason(status), {}
    if status in (502, 503, 504):
        return status, "unavailable", _reason(status), {}
    return 500, "internal_error", "internal server error", {}


def validation_error(exc: ValidationError, where: str = "body") -> ApiError:
    """A 422 whose message names the first failing field; all failures go in ``details``."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err.get("loc", ())) or where
        problems.append({"field": field, "message": str(err.get("msg", "invalid value"))})
    first = problems[0] if problems else {"field": where, "message": "invalid value"}
    return ApiError(
        422,
        "validation_error",
        f"invalid {where}: {first['field']}: {first['message']}",
        {"errors": problems},
    )


LOG_TEXT_LIMIT = 500
"""Characters of one client-supplied string kept in a log line."""


def printable(text: object, limit: int = LOG_TEXT_LIMIT) -> str:
    """``text`` as it may appear in a log line: one line, no terminal control codes.

    Client strings (paths, JSON keys inside validation messages) are logged; raw, a newline
    forges a log line and an ANSI escape (ESC, or the 8-bit CSI ``\\x9b`` that Tornado lets
    through in a request line) recolours or rewrites an operator's terminal. Every character
    that is not printable (``str.isprintable``: C0/C1 controls, line and paragraph separators,
    bidi overrides) is written as its Python escape, and backslashes are doubled so an escape
    in the log always means an escaped character. Longer texts are cut at ``limit``.
    """
    value = str(text)
    cut = len(value) - limit
    if cut > 0:
        value = value[:limit]
    if not value.isprintable() or "\\" in value:
        value = "".join(
            ch if ch.isprintable() and ch != "\\" else ch.encode("unicode_escape").decode("ascii")
            for ch in value
        )
    return f"{value}…[{cut} more]" if cut > 0 else value


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


SECURITY_HEADERS = {
    # A response is what its Content-Type says, never what a browser guesses from its bytes.
    "X-Content-Type-Options": "nosniff",
    # Page URLs carry video ids; no other site needs to learn them from a link.
    "Referrer-Policy": "no-referrer",
}
"""Headers on every response of every role (also on the server's own refusals)."""


class BaseHandler(RequestHandler):
    """JSON handler base: JSON errors, JSON bodies, and no tracebacks on the wire.

    Every response (errors included: :meth:`clear` calls :meth:`set_default_headers` again)
    carries :data:`SECURITY_HEADERS` and no ``Server`` banner naming Tornado's version.
    """

    def check_xsrf_cookie(self) -> None:
        """Tornado checks XSRF before it looks for the method: a method this handler does not
        have gets its true answer (405) instead of a 403."""
        if (self.request.method or "").upper() in allowed_methods(type(self)):
            super().check_xsrf_cookie()

    def set_default_headers(self) -> None:
        """Security headers; the ``Server`` banner only helps an attacker pick exploits."""
        self.clear_header("Server")
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | tuple[int, ...] | datetime.datetime | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Tornado's ``set_cookie``, with ``Secure`` whenever the request came over HTTPS.

        ``request.protocol`` is ``https`` for TLS on this server, or when a trusted proxy
        (``TRUSTED_PROXIES``) says so in ``X-Forwarded-Proto``: a client cannot claim it. Plain
        HTTP (``culto up`` on localhost) keeps cookies without ``Secure``, or browsers would drop
        them.
        """
        super().set_cookie(
            name,
            value,
            domain,
            expires,
            path,
            expires_days,
            max_age=max_age,
            httponly=httponly,
            secure=secure or self.request.protocol == "https",
            samesite=samesite,
            **kwargs,
        )

    def write_json(self, payload: BaseModel | Mapping[str, Any], status: int = 200) -> None:
        """Send ``payload`` (a model is dumped in JSON mode) with ``status``."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if isinstance(payload, BaseModel):
            self.finish(payload.model_dump_json().encode())
        else:
            self.finish(json.dumps(payload, ensure_ascii=False).encode())

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object (form bodies become flat objects).

        Raises:
            ApiError: 400 ``invalid_json`` for an empty body, bad JSON or a non-object.
        """
        ctype = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype in _FORM_TYPES:
            # Plain HTML forms: every field but the XSRF token, last value wins.
            return {
                k: self.get_body_argument(k)
                for k in self.request.body_arguments
                if k != "_xsrf" and self.get_body_argument(k)
            }
        raw = self.request.body
        if not raw.strip():
            raise ApiError(400, "invalid_json", "request body is empty: send a JSON object")
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(
                400,
                "invalid_json",
                f"request body is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})",
            ) from None
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "request body is not valid UTF-8 JSON") from None
        except RecursionError:
            # The decoder recurses per nesting level: a hostile body must not become a 500.
            raise ApiError(400, "invalid_json", "request body is nested too deeply") from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "request body must be a JSON object")
        return data

    def parse_body(self, model: type[M]) -> M:
        """Validate the JSON body against ``model`` (422 naming the field on failure)."""
        data = self.json_body()
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise validation_error(exc, "body") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Always JSON, never a traceback (even with ``serve_traceback``)."""
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        status, code, message, details = describe(exc, status_code)
        if self._headers_written:  # a streaming response cannot change its status any more
            return
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if status == 503:
            self.set_header("Retry-After", "2")
        elif status == 507:
            self.set_header("Retry-After", "10")
        if status == 405:
            self.set_header("Allow", ", ".join(allowed_methods(type(self))))
        elif status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="culto"')
        if isinstance(exc, ApiError):
            for name, value in exc.headers.items():
                self.set_header(name, value)
        self.finish(error_body(code, message, details))

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Expected errors (4xx, mesh outages) are logged in one line; bugs with traceback."""
        if isinstance(value, ApiError | CultoError | HTTPError):
            status = describe(value, 500)[0]
            if status < 500 or isinstance(value, MeshError):
                log.info(
                    "%s %s -> %d: %s",
                    printable(self.request.method),
                    printable(self.request.path),
                    status,
                    printable(value),
                )
                return
        super().log_exception(typ, value, tb)

    def _request_summary(self) -> str:
        """Tornado's ``METHOD URI (ip)`` for its own log lines, with the client's text escaped."""
        return request_summary(self)


class RequestRecord:
    """What the access log and the HTTP metrics read of a request whose connection left
    Tornado (an event stream handed to its own small object once its head was sent): the
    handler, its request and headers are freed, and this is logged once when the stream closes
    (``Application.log_request(record)``), with the stream's whole lifetime as its duration.

    It answers the handler's questions the log function asks (``request``, ``get_status``,
    ``request.request_time``, ``request.method``/``uri``/``remote_ip``); ``handler_class``
    names the route for the metrics.
    """

    __slots__ = ("_start", "handler_class", "method", "remote_ip", "status", "uri")

    def __init__(self, handler: RequestHandler, status: int) -> None:
        request = handler.request
        self.handler_class: type[RequestHandler] = type(handler)
        self.method = request.method
        self.uri = request.uri
        self.remote_ip = request.remote_ip
        self.status = status
        self._start = request_start(request)

    @property
    def request(self) -> RequestRecord:
        """Itself: it stands for the handler and its request alike."""
        return self

    def get_status(self) -> int:
        """The status the stream was answered with."""
        return self.status

    def request_time(self) -> float:
        """Seconds since the request arrived (at close: the stream's lifetime)."""
        return time.time() - self._start

    def _request_summary(self) -> str:
        return request_summary(self)


SENSITIVE_QUERY = frozenset(
    {"_xsrf", "once", "password", "token", "access_token", "api_key", "apikey", "bearer"}
)
"""Query parameters whose values never reach a log line (a token sent by mistake, an XSRF
token, a one-time link's secret); any value that looks like an API token is hidden too."""


def redacted_uri(uri: str) -> str:
    """``uri`` with the values of :data:`SENSITIVE_QUERY` parameters (and of any parameter
    holding a ``culto_`` token) replaced by ``REDACTED``."""
    path, sep, query = uri.partition("?")
    if not sep:
        return uri
    parts = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        secret = urllib.parse.unquote_plus(name).lower() in SENSITIVE_QUERY
        if eq and (secret or urllib.parse.unquote_plus(value).startswith("culto_")):
            pair = f"{name}=REDACTED"
        parts.append(pair)
    return f"{path}?{'&'.join(parts)}"


def request_summary(handler: RequestHandler | RequestRecord) -> str:
    """``METHOD URI (client ip)`` of a request, safe for a log line (see :func:`printable`),
    with secrets in the query string redacted (:func:`redacted_uri`)."""
    request = handler.request
    uri = redacted_uri(request.uri or "")
    return f"{printable(request.method)} {printable(uri)} ({printable(request.remote_ip)})"


def allowed_methods(handler_class: type[RequestHandler]) -> list[str]:
    """Methods a handler class implements (for ``Allow`` headers and the OpenAPI check)."""
    base = RequestHandler
    return [
        m
        for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        if getattr(handler_class, m.lower(), None) is not getattr(base, m.lower(), None)
    ]


class JsonNotFoundHandler(BaseHandler):
    """Default handler: every unknown path is a JSON 404 (for any method, without XSRF)."""

    def check_xsrf_cookie(self) -> None:
        """Unknown paths have no side effects; answer 404 rather than 403."""

    def prepare(self) -> None:
        """Fail every request before method dispatch."""
        raise ApiError(404, "not_found", f"no such endpoint: {self.request.path[:200]}")
