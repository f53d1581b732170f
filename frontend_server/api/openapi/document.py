"""The OpenAPI 3.1 document of the edge, generated from the Pydantic models.

``components.schemas`` comes from the models' JSON Schemas (Pydantic emits JSON Schema 2020-12,
which OpenAPI 3.1 uses as is); ``paths`` comes from :data:`OPERATIONS`, keyed by the same route
templates the application uses as URL names (a test checks that both agree).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from frontend_server.api.openapi.examples import TAGS, decorate
from frontend_server.api.openapi.identity import MODELS as IDENTITY_MODELS
from frontend_server.api.openapi.identity import (
    READ,
    SECURITY_SCHEMES,
    SIGNED_IN,
    WRITE,
    identity_paths,
)
from frontend_server.api.openapi.management import MODELS as MANAGEMENT_MODELS
from frontend_server.api.openapi.management import management_paths
from frontend_server.api.videos import CsrfTokenDTO
from frontend_server.security.browser import SecureHandler
from schemas.api import ErrorReply
from schemas.cursors import CURSOR_NAME_PATTERN, CursorAck, WsClientMessage, WsServerMessage
from schemas.events import EVENT_TYPES, AnyEvent
from schemas.health import EventsHealthDTO, HealthDTO, ReadyDTO
from schemas.videos import VideoCreate, VideoDTO, VideoListQuery, VideoPage

REF = "#/components/schemas/{model}"
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TYPE = "(" + "|".join(re.escape(t) for t in EVENT_TYPES) + ")"
"""One event type, as the ``types`` filter's pattern names it (derived, never listed here)."""
_CHANNEL = "[A-Za-z0-9_-]{1,64}"
JSON = "application/json"
TEXT = "text/plain"


_MODELS: tuple[tuple[str, JsonSchemaMode, Any], ...] = (
    ("VideoCreate", "validation", VideoCreate),
    ("VideoListQuery", "validation", VideoListQuery),
    ("VideoDTO", "serialization", VideoDTO),
    ("VideoPage", "serialization", VideoPage),
    ("ErrorReply", "serialization", ErrorReply),
    ("CsrfTokenDTO", "serialization", CsrfTokenDTO),
    ("HealthDTO", "serialization", HealthDTO),
    ("ReadyDTO", "serialization", ReadyDTO),
    ("EventsHealthDTO", "serialization", EventsHealthDTO),
    ("AnyEvent", "serialization", AnyEvent),
    ("CursorAck", "validation", CursorAck),
    ("WsClientMessage", "validation", WsClientMessage),
    ("WsServerMessage", "serialization", WsServerMessage),
    *IDENTITY_MODELS,
    *MANAGEMENT_MODELS,
)


def _components() -> tuple[dict[str, Any], dict[str, Any]]:
    """``(name -> schema or $ref, $defs)`` for every model in :data:`_MODELS`."""
    inputs = [(name, mode, TypeAdapter(tp)) for name, mode, tp in _MODELS]
    refs, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    by_name: dict[str, Any] = {}
    for (name, _mode), schema in refs.items():
        if "$ref" not in schema:  # unions have no model of their own: store them by name
            schemas[name] = schema
            schema = {"$ref": REF.format(model=name)}
        by_name[name] = schema
    return by_name, schemas


def _content(ref: dict[str, Any], media: str = JSON) -> dict[str, Any]:
    return {media: {"schema": ref}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed request (bad JSON, bad id, a token in the query string)",
        401: "Credentials needed: sign in or send a bearer token (unauthenticated)",
        403: "XSRF token missing or wrong, or the role/token scope does not allow it",
        404: "Unknown, or not readable by the caller (existence is not revealed)",
        409: "Already exists, or a report that would move a video backwards",
        413: "Body too large",
        422: "Validation failed (the message names the field)",
        429: "Too many requests or open streams from this client (Retry-After)",
        503: "NATS or the video API service is unavailable",
        504: "The video API service did not answer in time",
        507: "The event store's disk is full (writes only; Retry-After)",
    }
    err = {"$ref": REF.format(model="ErrorReply")}
    return {str(s): {"description": text[s], "content": _content(err)} for s in statuses}


def build_openapi(version: str = "0.1.0") -> dict[str, Any]:
    """The whole document (a fresh dict each call)."""
    m, schemas = _components()
    paths: dict[str, Any] = {
        **_page_paths(),
        **_ops_paths(m),
        **_video_paths(m, schemas["VideoListQuery"]["properties"]),
        **_event_paths(m),
        **identity_paths(m, _errors),
        **management_paths(m, _errors),
    }
    # No "jsonSchemaDialect": the default (the OAS 3.1 base dialect, JSON Schema 2020-12 plus
    # OpenAPI keywords) already fits Pydantic's schemas, and Swagger UI supports only that one.
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CultoTranscript API",
            "version": version,
            "description": "Submit sermons, follow their processing live, read their analysis. "
            'Errors are {"error": {"code", "message"}}.',
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": decorate(paths),
        "components": {
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _page_paths() -> dict[str, Any]:
    """The page, its assets and the documents served next to the API."""
    html = {"200": {"description": "HTML page", "content": {"text/html": {"schema": {}}}}}
    return {
        "/": {"get": {"summary": "Submit-and-watch page", "responses": html}},
        "/c/{channel_id}": {
            "get": {
                "summary": "A channel's page: its sermons live, newest first (the same page;"
                " an unreadable channel shows as not found)",
                "parameters": [
                    {
                        "name": "channel_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": f"^{_CHANNEL}$"},
                    }
                ],
                "responses": {**html, **_errors(404)},
            }
        },
        "/docs": {
            "get": {"summary": "API explorer (Swagger UI) of this document", "responses": html}
        },
        "/docs/assets/{path}": {
            "get": {
                "summary": "Swagger UI's scripts and styles (served offline)",
                "parameters": [
                    {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "File"}, **_errors(404)},
            }
        },
        "/docs/integration.md": {
            "get": {
                "summary": "Front-end integration guide (CORS, cookies, XSRF, SSE), Markdown",
                "responses": {"200": {"description": "Markdown", "content": _content({}, TEXT)}},
            }
        },
        "/api/v2/dtos.ts": {
            "get": {
                "summary": "TypeScript DTOs generated from the models",
                "responses": {"200": {"description": "TypeScript", "content": _content({}, TEXT)}},
            }
        },
        **_file_paths(),
    }


def _file_paths() -> dict[str, Any]:
    """The icon, the page's static assets and this document."""
    icon = {"200": {"description": "SVG image", "content": {"image/svg+xml": {"schema": {}}}}}
    return {
        "/favicon.ico": {"get": {"summary": "The icon (SVG)", "responses": icon}},
        "/favicon.svg": {"get": {"summary": "The icon", "responses": icon}},
        "/static/{path}": {
            "get": {
                "summary": "Static assets of the page",
                "parameters": [
                    {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "File"}, **_errors(404)},
            }
        },
        "/api/v2/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": _content({})}},
            }
        },
    }


def _ops_paths(m: dict[str, Any]) -> dict[str, Any]:
    """Liveness, readiness and metrics (served by every role)."""
    return {
        "/health": {
            "get": {
                "summary": "Liveness",
                "responses": {"200": {"description": "Alive", "content": _content(m["HealthDTO"])}},
            }
        },
        "/ready": {
            "get": {
                "summary": "Readiness: NATS connected and streams present",
                "responses": {
                    "200": {"description": "Ready", "content": _content(m["ReadyDTO"])},
                    "503": {"description": "Not ready", "content": _content(m["ReadyDTO"])},
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _video_paths(m: dict[str, Any], list_query: dict[str, Any]) -> dict[str, Any]:
    """The XSRF token and the videos (``list_query``: the list's query parameters' schemas)."""
    video_id, list_params = _video_params(list_query)
    return {
        "/api/v2/csrf": {
            "get": {
                "summary": "XSRF token, bound to the caller's session (before sign-in: to the"
                " signed _xsrf cookie it sets)",
                "responses": {
                    "200": {"description": "Token", "content": _content(m["CsrfTokenDTO"])},
                    **_errors(400, 401),
                },
            }
        },
        "/api/v2/videos/": {
            "get": {
                "summary": "List the videos the caller may read, newest first",
                "security": READ,
                "parameters": list_params,
                "responses": {
                    "200": {"description": "One page", "content": _content(m["VideoPage"])},
                    **_errors(400, 401, 404, 422, 429, 503, 504),
                },
            },
            "post": {
                "summary": "Submit a video (optionally with an inline transcript)",
                "security": WRITE,
                "requestBody": {"required": True, "content": _content(m["VideoCreate"])},
                "responses": {
                    "201": {
                        "description": "Queued",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                        "content": _content(m["VideoDTO"]),
                    },
                    **_errors(400, 401, 403, 404, 409, 413, 422, 429, 503, 504, 507),
                },
            },
        },
        "/api/v2/videos/{video_id}": {
            "parameters": [video_id],
            "get": {
                "summary": "One video (with summary once PROCESSED)",
                "security": READ,
                "responses": {
                    "200": {"description": "The video", "content": _content(m["VideoDTO"])},
                    **_errors(400, 401, 404, 429, 503, 504),
                },
            },
            "delete": {
                "summary": "Cancel and delete a video",
                "security": WRITE,
                "responses": {
                    "204": {"description": "Deleted"},
                    **_errors(400, 401, 403, 404, 429, 503, 504, 507),
                },
            },
        },
    }


def _video_params(list_query: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The video id in a path, and the list's query parameters."""
    video_id = {
        "name": "video_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    # An empty value (``?status=&cursor=``, as an HTML form sends) means "not given".
    list_params = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"anyOf": [prop, {"type": "string", "maxLength": 0}]},
        }
        for name, prop in list_query.items()
    ]
    return video_id, list_params


def _event_paths(m: dict[str, Any]) -> dict[str, Any]:
    """The event stream, the WebSocket, cursor acknowledgements and the hub's health."""
    return {
        "/api/v2/events/stream": {
            "get": {
                "summary": "Server-Sent Events of the videos the caller may read, filtered by"
                " video, channel and type (ids are JetStream sequences)",
                "security": READ,
                "parameters": _stream_params(),
                "responses": {
                    "200": {
                        "description": "text/event-stream; each data line is one event",
                        "content": {"text/event-stream": {"schema": m["AnyEvent"]}},
                    },
                    **_errors(400, 401, 404, 429),
                },
            }
        },
        **_websocket_paths(m),
        "/api/v2/events/health": {
            "get": {
                "summary": "Health of the SSE hub",
                "responses": {
                    "200": {"description": "Healthy", "content": _content(m["EventsHealthDTO"])},
                    "503": {
                        "description": "NATS unreachable",
                        "content": _content(m["EventsHealthDTO"]),
                    },
                },
            }
        },
    }


def _stream_params() -> list[dict[str, Any]]:
    """The event stream's filters and resume point."""
    return [
        {
            "name": "video_id",
            "in": "query",
            "schema": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "explode": True,
            "description": "Repeatable video filter",
        },
        {
            "name": "videos",
            "in": "query",
            "schema": {"type": "string", "pattern": f"^{_UUID}(,{_UUID})*$"},
            "description": "Comma-separated video ids (alternative to video_id)",
        },
        {
            "name": "channel_id",
            "in": "query",
            "schema": {
                "type": "array",
                "items": {"type": "string", "pattern": f"^{_CHANNEL}$"},
                "maxItems": 50,
            },
            "explode": True,
            "description": "Repeatable channel filter (follow a church): every event of every"
            " video of these channels, videos created after the stream opened included; a"
            " video moved to another channel or deleted stops. Combines with video_id (either"
            " matches) and types. An unreadable channel is refused as an unknown one (404, 401"
            " anonymous)",
        },
        {
            "name": "channels",
            "in": "query",
            "schema": {"type": "string", "pattern": f"^{_CHANNEL}(,{_CHANNEL})*$"},
            "description": "Comma-separated channel ids (alternative to channel_id)",
        },
        {
            "name": "types",
            "in": "query",
            "schema": {"type": "string", "pattern": f"^{_TYPE}(,{_TYPE})*$"},
            "description": "Comma-separated event types, e.g. video.status,summary.ready",
        },
        {"name": "last_event_id", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {
            "name": "cursor",
            "in": "query",
            "schema": {"type": "string", "pattern": CURSOR_NAME_PATTERN},
            "description": "Signed-in callers: without Last-Event-ID, resume after the sequence"
            " last acknowledged under this name (POST /api/v2/events/ack)",
        },
        {
            "name": "Last-Event-ID",
            "in": "header",
            "schema": {"type": "integer", "minimum": 0},
            "description": "Resume after this JetStream sequence",
        },
    ]


def _websocket_paths(m: dict[str, Any]) -> dict[str, Any]:
    """The WebSocket upgrade and the cursor acknowledgement."""
    return {
        "/api/v2/events/ws": {
            "get": {
                "summary": "WebSocket of the videos the caller may read (JSON text frames)",
                "description": "Upgrade with the session cookie or a bearer token; a browser's"
                " Origin must be an allowed origin or this site. Client messages are"
                " WsClientMessage (subscribe and unsubscribe videos and/or channels, ack),"
                " server messages"
                " WsServerMessage (event, subscribed, reset, error). Close codes: 1001 server"
                " shutdown, 1008 too many bad messages, 1009 message too big, 1011 stream"
                " failure, 1013 NATS unavailable, 4001 credential expired or revoked, 4003"
                " access lost, 4008 too slow (resume with since or a cursor).",
                "security": SIGNED_IN,
                "responses": {
                    "101": {
                        "description": "Switching Protocols; then WsServerMessage frames",
                        "content": {JSON: {"schema": m["WsServerMessage"]}},
                    },
                    **_errors(400, 401, 403, 429),
                },
            }
        },
        "/api/v2/events/ack": {
            "post": {
                "summary": "Acknowledge every event up to seq under a named cursor (forward"
                " only; stored within about a second, on every replica)",
                "security": WRITE,
                "requestBody": {"required": True, "content": _content(m["CursorAck"])},
                "responses": {
                    "204": {"description": "Recorded"},
                    **_errors(400, 401, 403, 413, 422, 429),
                },
            }
        },
    }


class OpenApiHandler(SecureHandler):
    """``GET /api/v2/openapi.json``."""

    def initialize(self, document: bytes) -> None:
        """The pre-rendered document (built once per application)."""
        self.document = document

    def get(self) -> None:
        """Serve the document."""
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(self.document)


def render_openapi(version: str = "0.1.0") -> bytes:
    """The document as UTF-8 JSON."""
    return json.dumps(build_openapi(version), ensure_ascii=False, indent=1).encode()
