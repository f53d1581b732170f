"""The documentation routes: Swagger UI offline, dtos.ts, the integration guide, the favicon,
and the metrics label of each page."""

from __future__ import annotations

import re
from pathlib import Path

from frontend_server.api.docs import SWAGGER_DIR
from schemas.export import TS_FILE
from tests.support import Http

ROOT = Path(__file__).resolve().parents[3]


async def test_docs_is_an_offline_api_explorer_with_its_own_csp(http: Http) -> None:
    docs = await http.request("GET", "/docs")
    assert docs.code == 200 and docs.headers["Content-Type"].startswith("text/html")
    html = docs.body.decode()
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url  # no CDN
    for link in ("/docs/integration.md", "/api/v2/dtos.ts", "/api/v2/openapi.json"):
        assert f'href="{link}"' in html
    csp = docs.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    bundle = await http.request("GET", "/docs/assets/swagger-ui-bundle.js")
    assert bundle.code == 200 and "javascript" in bundle.headers["Content-Type"]
    assert bundle.body == (SWAGGER_DIR / "swagger-ui-bundle.js").read_bytes()
    init = (await http.request("GET", "/static/docs.js")).body.decode()
    assert 'url: "/api/v2/openapi.json"' in init and "X-XSRFToken" in init
    # The page itself keeps its strict CSP (no inline styles).
    page = await http.request("GET", "/")
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    missing = await http.request("GET", "/docs/assets/nope.js")
    assert missing.code == 404 and missing.headers["Content-Type"].startswith("application/json")


async def test_dtos_and_integration_guide_are_served(http: Http) -> None:
    dtos = await http.request("GET", "/api/v2/dtos.ts")
    assert dtos.code == 200 and dtos.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert dtos.body == TS_FILE.read_bytes()
    assert b"export interface VideoDTO" in dtos.body
    guide = await http.request("GET", "/docs/integration.md")
    assert guide.code == 200 and guide.headers["Content-Type"].startswith("text/plain")
    assert guide.body == (ROOT / "docs" / "integration.md").read_bytes()
    for topic in (b"withCredentials", b'credentials: "include"', b"SameSite", b"Last-Event-ID"):
        assert topic in guide.body, topic


async def test_favicon_is_served_at_both_names(http: Http) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        icon = await http.request("GET", path)
        assert icon.code == 200 and icon.headers["Content-Type"] == "image/svg+xml"
        assert icon.body.startswith(b"<svg") and "max-age" in icon.headers["Cache-Control"]


async def test_metrics_label_each_page_by_its_own_route(http: Http) -> None:
    for path in ("/", "/", "/docs", "/favicon.ico"):
        assert (await http.request("GET", path)).code == 200
    metrics = (await http.request("GET", "/metrics")).body.decode()

    def served(route: str) -> float:
        pattern = rf'culto_http_requests_total{{[^}}]*route="{re.escape(route)}"[^}}]*}} (\S+)'
        return sum(float(m) for m in re.findall(pattern, metrics))

    assert served("/") == 2 and served("/docs") == 1 and served("/favicon.ico") == 1


# -- the guide's TypeScript snippets use only names they declare ------------------------------

_KEYWORDS = set(
    [
        "import",
        "type",
        "from",
        "let",
        "const",
        "var",
        "async",
        "function",
        "await",
        "return",
        "if",
        "else",
        "new",
        "as",
        "export",
        "interface",
        "true",
        "false",
        "null",
        "undefined",
        "for",
        "of",
        "in",
        "case",
        "switch",
        "break",
        "default",
        "void",
        "typeof",
        "throw",
        "try",
        "catch",
        "finally",
        "while",
        "do",
        "this",
        "class",
        "extends",
        "implements",
        "readonly",
        "keyof",
    ]
)
_GLOBALS = set(
    [
        "fetch",
        "JSON",
        "console",
        "Number",
        "String",
        "Boolean",
        "Math",
        "Date",
        "setInterval",
        "setTimeout",
        "clearTimeout",
        "EventSource",
        "WebSocket",
        "MessageEvent",
        "CloseEvent",
        "window",
        "document",
        "Promise",
        "Error",
        "Object",
        "Array",
        "Map",
        "Set",
        "history",
        "location",
        "sessionStorage",
        "localStorage",
        "encodeURIComponent",
        "string",
        "number",
        "boolean",
        "unknown",
        "any",
        "never",
        "Record",
    ]
)


def _code_only(source: str) -> str:
    """``source`` without comments and string literals (template expressions kept)."""
    out: list[str] = []
    i = 0
    while i < len(source):
        two = source[i : i + 2]
        if two == "//":
            i = source.find("\n", i) if "\n" in source[i:] else len(source)
        elif two == "/*":
            i = source.index("*/", i) + 2
        elif source[i] in "'\"":
            end = source.index(source[i], i + 1)
            out.append('""')
            i = end + 1
        elif source[i] == "/" and _regex_may_start(out):
            end = source.index("/", i + 1)
            while source[end - 1] == "\\":
                end = source.index("/", end + 1)
            out.append('""')
            i = end + 1
        elif source[i] == "`":
            end = source.index("`", i + 1)
            out += [" " + _code_only(m) + " " for m in re.findall(r"\$\{([^}]*)\}", source[i:end])]
            i = end + 1
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


def _regex_may_start(out: list[str]) -> bool:
    """A ``/`` starts a regex literal (not a division) after an operator or an opening."""
    before = "".join(out[-20:]).rstrip()
    return not before or before[-1] in "(,=:[!&|?{};"


_NAME = r"[A-Za-z_$][\w$]*"


def _declared(code: str) -> set[str]:
    names = set(re.findall(rf"\b(?:const|let|var|function|interface|type)\s+({_NAME})", code))
    for line in re.findall(r"\b(?:const|let|var)\s+([^;\n]*)", code):  # let a = 0, b = 0
        names |= set(re.findall(rf"(?:^|,)\s*({_NAME})\s*=(?![=>])", line))
    for group in re.findall(r"\b(?:import\s+(?:type\s+)?\{|const\s*\[)([^}\]]*)", code):
        names |= set(re.findall(_NAME, group)) - {"type"}
    for params in re.findall(r"\(([^()]*)\)\s*(?::\s*[\w<>\[\]| ]+)?\s*(?:=>|\{)", code):
        names |= set(re.findall(rf"(?:^|,)\s*({_NAME})\s*(?=[:=,?]|$)", params))
    names |= set(re.findall(rf"\bcatch\s*\(\s*({_NAME})", code))
    return names


def _used(code: str) -> set[str]:
    used = set()
    for match in re.finditer(r"(?<![.\w$])([A-Za-z_$][\w$]*)", code):
        rest = code[match.end() :].lstrip()
        if rest.startswith(":") and not rest.startswith("::"):
            continue  # an object key or an annotated declaration
        used.add(match.group(1))
    return used - _KEYWORDS - _GLOBALS


def test_the_guides_typescript_snippets_declare_what_they_use() -> None:
    # Issue 22: the cursor example used an undeclared `xsrf`, the stream-reset one `source`,
    # `StreamResetEventDTO` and `reloadVideos`: a reader copying them got a ReferenceError.
    guide = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    blocks = [_code_only(b) for b in re.findall(r"```ts\n(.*?)```", guide, re.S)]
    assert len(blocks) >= 5
    declared = set().union(*map(_declared, blocks))  # the guide builds on its earlier snippets
    undeclared = {name: i for i, block in enumerate(blocks) for name in _used(block) - declared}
    assert not undeclared, f"names used but never declared (block index): {undeclared}"
