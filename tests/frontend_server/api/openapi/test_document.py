"""The OpenAPI document (structure, route coverage, resolvable refs) and the static pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError
from tornado.routing import URLSpec

from frontend_server.api.openapi.document import _MODELS, build_openapi
from frontend_server.api.openapi.examples import EXAMPLES, HIDDEN_ROUTES, TAGS
from ops.http import allowed_methods
from ops.server import RunningServer
from schemas.videos import VideoCreate, VideoDTO
from tests.support import Http, body_json

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _routes(server: RunningServer) -> dict[str, URLSpec]:
    return {
        rule.name: rule
        for rule in server.app.wildcard_router.rules
        if isinstance(rule, URLSpec) and rule.name
    }


async def test_document_structure(http: Http) -> None:
    response = await http.request("GET", "/api/v2/openapi.json")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    doc = body_json(response)
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        operations = {k: v for k, v in item.items() if k in HTTP_METHODS}
        assert operations, path
        for method, op in operations.items():
            assert op["responses"], (path, method)
            for status in op["responses"]:
                assert re.fullmatch(r"[1-5]\d\d", status), (path, method, status)
        for name in re.findall(r"{(\w+)}", path):
            params = item.get("parameters", []) + [
                p for op in operations.values() for p in op.get("parameters", [])
            ]
            assert any(p["name"] == name and p["in"] == "path" for p in params), (path, name)


async def test_every_route_is_documented(http: Http, edge: RunningServer) -> None:
    doc = body_json(await http.request("GET", "/api/v2/openapi.json"))
    routes = _routes(edge)
    # Served files are not part of the API: Swagger UI does not list them.
    assert set(routes) == set(doc["paths"]) | HIDDEN_ROUTES
    assert not HIDDEN_ROUTES & set(doc["paths"])
    for path, spec in routes.items():
        if path in HIDDEN_ROUTES:
            continue
        assert isinstance(spec.target, type)
        implemented = {m.lower() for m in allowed_methods(spec.target)}
        documented = {k for k in doc["paths"][path] if k in HTTP_METHODS}
        assert documented <= implemented, (path, documented, implemented)
        if "get" in implemented:
            assert "get" in documented, path
    # State-changing operations declare the XSRF requirement.
    assert doc["paths"]["/api/v2/videos/"]["post"]["security"] == [
        {"sessionCookie": [], "xsrfHeader": []},
        {"bearerToken": []},
    ]
    assert doc["paths"]["/api/v2/videos/{video_id}"]["delete"]["security"]


async def test_schemas_resolve() -> None:
    doc = build_openapi()
    refs = set(_refs(doc))
    assert refs
    for ref in refs:
        assert isinstance(_resolve(doc, ref), dict), ref
    schemas = doc["components"]["schemas"]
    for name in ("VideoCreate", "VideoDTO", "VideoPage", "ErrorReply", "SummaryDTO", "AnyEvent"):
        assert name in schemas
    assert schemas["VideoStatus"]["enum"] == [
        "PENDING",
        "QUEUED",
        "PROCESSING",
        "PROCESSED",
        "FAILED",
    ]
    # Generated from the models, not written by hand.
    assert set(schemas["VideoCreate"]["properties"]) == set(VideoCreate.model_fields)
    assert set(schemas["VideoDTO"]["properties"]) == set(VideoDTO.model_fields)
    union = schemas["AnyEvent"]
    assert union["discriminator"]["propertyName"] == "type"
    assert len(union["oneOf"]) == 6  # four stored event types, heartbeat, stream.reset


async def test_docs_and_page(http: Http) -> None:
    docs = await http.request("GET", "/docs")
    assert docs.code == 200
    assert docs.headers["Content-Type"].startswith("text/html")
    assert b"/api/v2/openapi.json" in docs.body

    page = await http.request("GET", "/")
    assert page.code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.body.decode()
    assert 'src="/static/app.js"' in html
    # No external assets: every src/href is local (or a fragment of the page's own routes).
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "#")), url

    script = await http.request("GET", "/static/app.js")
    assert script.code == 200
    assert "javascript" in script.headers["Content-Type"]
    js = script.body.decode()
    assert "/api/v2/csrf" in js and "X-XSRFToken" in js
    assert "EventSource(" in js and '"/api/v2/events/stream"' in js
    # Requests go to the page's own origin only.
    assert not re.search(r"(?:fetch|EventSource)\(\s*[\"'`]https?:", js)
    assert "http://" not in js
    style = await http.request("GET", "/static/style.css")
    assert style.code == 200 and "text/css" in style.headers["Content-Type"]


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_operations_are_grouped_by_tag() -> None:
    doc = build_openapi()
    names = [tag["name"] for tag in doc["tags"]]
    assert names == [name for name, _ in TAGS]
    assert {"videos", "events", "auth", "channels", "tokens", "users", "ops"} <= set(names)
    used = set()
    for path, method, op in _operations(doc):
        assert len(op["tags"]) == 1 and op["tags"][0] in names, (path, method)
        used.add(op["tags"][0])
    assert used == set(names)  # no empty group
    tag = {(p, m): op["tags"][0] for p, m, op in _operations(doc)}
    assert tag[("/api/v2/videos/", "post")] == "videos"
    assert tag[("/api/v2/events/publish", "post")] == "events"
    assert tag[("/api/v2/auth/login", "post")] == "auth"
    assert tag[("/api/v2/channels/{channel_id}/members", "get")] == "channels"
    assert tag[("/api/v2/users", "get")] == "users"
    assert tag[("/metrics", "get")] == "ops"


def test_every_request_body_has_examples_its_model_accepts() -> None:
    doc = build_openapi()
    models = {name: TypeAdapter(tp) for name, _mode, tp in _MODELS}
    checked = 0
    for path, method, op in _operations(doc):
        if "requestBody" not in op:
            continue
        (media,) = op["requestBody"]["content"].values()
        name = media["schema"]["$ref"].rsplit("/", 1)[-1]
        examples = media.get("examples")
        assert examples, f"{method.upper()} {path}: no example body"
        for example, body in examples.items():
            try:
                models[name].validate_python(body["value"])
            except ValidationError as exc:
                raise AssertionError(f"{method.upper()} {path} example {example}: {exc}") from None
            checked += 1
    assert set(EXAMPLES) <= set(models) and checked >= 20
    # The first example is what Swagger UI fills in: never a body of nulls.
    first = next(iter(EXAMPLES["VideoCreate"].values()))[1]
    assert all(value is not None for value in first.values())


async def test_the_video_examples_are_accepted_by_the_edge(http: Http) -> None:
    for name, (_summary, body) in EXAMPLES["VideoCreate"].items():
        if "url" in body:
            continue  # a YouTube link: the worker would fetch it (no network in tests)
        response = await http.send("POST", "/api/v2/videos/", body)
        assert response.code == 201, (name, response.body)
        created = body_json(response)
        assert created["processing"] == body.get("processing", "internal")
        assert (await http.send("DELETE", f"/api/v2/videos/{created['id']}")).code == 204
