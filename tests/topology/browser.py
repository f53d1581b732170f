"""A blocking JSON client for one frontend, with the cookies and XSRF header of a browser."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from typing import Any


class Browser:
    """Cookies, the XSRF header and JSON for one frontend (blocking; run it in a thread)."""

    def __init__(self, port: int, token: str = "") -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._bearer = token
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(CookieJar())
        )
        self._token = ""

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One request; returns ``(status, parsed JSON or None)``. Raises ``OSError`` when the
        frontend cannot be reached."""
        if method != "GET" and not self._token:
            status, csrf = self.call("GET", "/api/v2/csrf")
            if status != 200:
                return status, csrf
            self._token = csrf["csrf_token"]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("X-XSRFToken", self._token)
        if self._bearer:
            request.add_header("Authorization", f"Bearer {self._bearer}")
        try:
            with self._opener.open(request, timeout=15) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            with err:
                raw = err.read()
            try:
                return err.code, json.loads(raw or b"null")
            except ValueError:
                return err.code, raw.decode(errors="replace")
