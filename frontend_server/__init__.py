"""Tornado HTTP edge of CultoTranscript: REST API, SSE, XSRF, CORS and operations endpoints.

Entry points: :func:`serve_frontend` (the ``frontend`` role), :func:`serve_ops` (health and
metrics of the ``api`` and ``worker`` roles) and :func:`make_app` (the application alone).
"""

from frontend_server.app import make_app, make_ops_app
from frontend_server.server import RunningServer, serve_frontend, serve_ops

__all__ = ["RunningServer", "make_app", "make_ops_app", "serve_frontend", "serve_ops"]
