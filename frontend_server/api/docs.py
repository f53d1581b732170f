"""The edge's documentation routes: the API explorer, the integration guide, ``dtos.ts``, and
the favicon.

``/docs`` is Swagger UI 5 (OpenAPI 3.1) served from the ``openapi-ui-bundles`` wheel, so it
works offline; it gets its own CSP because Swagger UI sets inline styles, while the page keeps
the strict one. Text files are read once when the application is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openapi_ui_bundles.swagger_ui
from tornado.web import StaticFileHandler

from frontend_server.security.browser import SecureHandler

SWAGGER_DIR = Path(openapi_ui_bundles.swagger_ui.static_path)
# Swagger UI renders with inline style attributes and data: images; scripts stay same-origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
TEXT_PLAIN = "text/plain; charset=utf-8"


class FileHandler(SecureHandler):
    """One small file with its content type and CSP, read once when the app is built."""

    def initialize(self, body: bytes, content_type: str, csp: str, max_age: int = 0) -> None:
        """The file's bytes and headers."""
        self.body = body
        self.content_type = content_type
        self.csp = csp
        self.max_age = max_age

    def get(self) -> None:
        """The file."""
        self.set_header("Content-Type", self.content_type)
        self.set_header("Content-Security-Policy", self.csp)
        self.set_header(
            "Cache-Control", f"public, max-age={self.max_age}" if self.max_age else "no-cache"
        )
        self.finish(self.body)


def file_route(path: Path, content_type: str, csp: str, max_age: int = 0) -> dict[str, Any]:
    """``initialize`` arguments of :class:`FileHandler` for ``path``."""
    return {
        "body": path.read_bytes(),
        "content_type": content_type,
        "csp": csp,
        "max_age": max_age,
    }


# One class per route: HTTP metrics label a request by its handler class (ops.server.route_names).
class DocsPageHandler(FileHandler):
    """``/docs``: the API explorer."""


class DtosHandler(FileHandler):
    """``/api/v2/dtos.ts``: the TypeScript DTOs generated from the Pydantic models."""


class IntegrationGuideHandler(FileHandler):
    """``/docs/integration.md``: the front-end integration guide."""


class FaviconHandler(FileHandler):
    """``/favicon.svg``: the icon the pages link to."""


class FaviconIcoHandler(FileHandler):
    """``/favicon.ico``: the same SVG, for clients that ask without reading the page."""


class SwaggerAssetHandler(StaticFileHandler, SecureHandler):
    """``/docs/assets/…``: Swagger UI's scripts and styles (JSON 404 for anything else); the
    security headers come from :class:`~ops.http.BaseHandler`."""
