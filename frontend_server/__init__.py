"""Tornado HTTP edge of CultoTranscript: REST API, SSE, XSRF, CORS and operations endpoints."""
