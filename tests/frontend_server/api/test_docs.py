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
