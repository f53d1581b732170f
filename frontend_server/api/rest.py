"""The base of the edge's JSON API handlers: per-client rate limit, body size, no caching.

A client is its user when authenticated, else its address (see
:mod:`frontend_server.security.limits`).
"""

from __future__ import annotations

from culto.errors import CultoError
from frontend_server.security.browser import SecureHandler
from frontend_server.security.limits import ClientLimits, rate_headers
from ops.http import ApiError

DEFAULT_BODY_LIMIT = 64 * 1024


class ApiHandler(SecureHandler):
    """Rate limit (429), then body size (413), then ``Cache-Control: no-store``.

    Subclasses set ``self.limits`` and ``self.max_body_bytes`` in ``initialize``.
    """

    limits: ClientLimits
    max_body_bytes: int = DEFAULT_BODY_LIMIT

    def client_key(self) -> str:
        """Whose bucket this request spends: ``user:<id>``, else the address."""
        try:
            user = self.principal.user_id
        except CultoError:
            user = None  # a bad token: its 401 comes next, after the address paid for it
        return f"user:{user}" if user else self.request.remote_ip or ""

    def prepare(self) -> None:
        """Refuse a client over its request rate (429), then oversized bodies (413)."""
        decision = self.limits.take(self.client_key())
        headers = rate_headers(decision, self.limits.config)
        if not decision.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests from this client; retry in {decision.retry_after} s",
                headers=headers,
            )
        for name, value in headers.items():
            self.set_header(name, value)
        if len(self.request.body or b"") > self.max_body_bytes:
            raise ApiError(
                413,
                "payload_too_large",
                f"request body is larger than {self.max_body_bytes} bytes",
            )
        self.set_header("Cache-Control", "no-store")
