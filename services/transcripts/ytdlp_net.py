"""yt-dlp with every connection checked by a :class:`~.fetch_policy.FetchPolicy`.

yt-dlp (2026.10.26) sends every HTTP request, its extractors' and its downloaders', through
``YoutubeDL.urlopen`` → ``YoutubeDL._request_director`` (a ``RequestDirector``), which hands it
to the first request handler that accepts it (``requests`` when installed, else ``urllib``).
Redirects are followed *inside* a handler (urllib's ``HTTPRedirectHandler``, requests'
``Session``), so checking URLs at the director would miss them.

:class:`PolicyYoutubeDL` therefore builds its director with a single handler,
:class:`PolicyUrllibRH`: yt-dlp's own urllib handler whose HTTP connections are opened by
:meth:`FetchPolicy.connect` (via ``http.client.HTTPConnection._create_connection``, the hook
yt-dlp itself uses). Every hop, first request or redirect, resolves its host and is refused
before any socket connects when an address is not allowed; the socket then connects to exactly
the checked address (no second resolution, so no DNS-rebinding window). The handler also:

- speaks only ``http``, ``https`` and ``data`` (no ``ftp``/``file``: they open sockets or files
  outside the check);
- refuses proxies (a proxy resolves the target itself, out of the check's sight); the caller
  sets yt-dlp's ``proxy`` option to ``""`` so ``HTTP(S)_PROXY`` in the environment is ignored.

Nothing is registered globally (``register_rh`` would change every ``YoutubeDL`` in the
process): the handler exists only in directors built by :class:`PolicyYoutubeDL`.
"""

from __future__ import annotations

import functools
import http.client
import urllib.request
from typing import Any

from yt_dlp import YoutubeDL  # type: ignore[import-untyped]
from yt_dlp.networking._urllib import (  # type: ignore[import-untyped]
    HTTPHandler,
    RedirectHandler,
    UrllibRH,
)
from yt_dlp.networking.exceptions import UnsupportedRequest  # type: ignore[import-untyped]

from .fetch_policy import FetchPolicy


def _policy_connection(
    policy: FetchPolicy, source_address: str | None, conn_class: type[Any], *args: Any, **kw: Any
) -> http.client.HTTPConnection:
    conn: http.client.HTTPConnection = conn_class(*args, **kw)
    conn._create_connection = policy.connect  # type: ignore[attr-defined]
    if source_address is not None:
        conn.source_address = (source_address, 0)  # type: ignore[attr-defined]
    return conn


class _PolicyHTTPHandler(HTTPHandler):  # type: ignore[misc]
    """yt-dlp's urllib HTTP handler, connecting through :meth:`FetchPolicy.connect`."""

    def __init__(self, policy: FetchPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._policy = policy

    def _factory(self) -> Any:
        return functools.partial(_policy_connection, self._policy, self._source_address)

    def http_open(self, req: urllib.request.Request) -> Any:
        # No SOCKS: yt-dlp's SOCKS connection classes open their own sockets.
        return self.do_open(functools.partial(self._factory(), http.client.HTTPConnection), req)

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            functools.partial(self._factory(), http.client.HTTPSConnection),
            req,
            context=self._context,
        )


class PolicyUrllibRH(UrllibRH):  # type: ignore[misc]
    """yt-dlp's urllib request handler, restricted by a :class:`FetchPolicy`."""

    _SUPPORTED_URL_SCHEMES = ("http", "https", "data")
    _SUPPORTED_PROXY_SCHEMES = ()

    def __init__(self, *, policy: FetchPolicy, **kwargs: Any) -> None:
        kwargs.pop("enable_file_urls", None)
        super().__init__(**kwargs)
        self.policy = policy

    def _check_proxies(self, proxies: dict[str, str | None]) -> None:
        if any(url is not None for key, url in proxies.items() if key != "no"):
            raise UnsupportedRequest("proxies are not allowed for media downloads")

    def _create_instance(
        self, proxies: Any, cookiejar: Any, legacy_ssl_support: Any = None
    ) -> urllib.request.OpenerDirector:
        opener = urllib.request.OpenerDirector()
        handlers: list[urllib.request.BaseHandler] = [
            _PolicyHTTPHandler(
                self.policy,
                debuglevel=int(bool(self.verbose)),
                context=self._make_sslcontext(legacy_ssl_support=legacy_ssl_support),
                source_address=self.source_address,
            ),
            urllib.request.HTTPCookieProcessor(cookiejar),
            urllib.request.DataHandler(),
            urllib.request.UnknownHandler(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
            RedirectHandler(),
        ]
        for handler in handlers:
            opener.add_handler(handler)
        opener.addheaders = []
        return opener


class PolicyYoutubeDL(YoutubeDL):  # type: ignore[misc]
    """A ``YoutubeDL`` whose only request handler is :class:`PolicyUrllibRH`."""

    def __init__(self, params: dict[str, Any], *, policy: FetchPolicy) -> None:
        self._fetch_policy = policy
        super().__init__({**params, "proxy": ""})

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        return super().build_request_director(
            [functools.partial(PolicyUrllibRH, policy=self._fetch_policy)]
        )
