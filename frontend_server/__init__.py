"""Tornado HTTP edge of CultoTranscript: REST API, SSE, XSRF, CORS, the page and ops routes.

Entry points: :func:`serve_frontend` (the ``frontend`` role) and :func:`make_app` (the
application alone). The ops-only server of the other roles lives in :mod:`ops.server`.
"""

from frontend_server.app import make_app
from frontend_server.server import serve_frontend

__all__ = ["make_app", "serve_frontend"]
