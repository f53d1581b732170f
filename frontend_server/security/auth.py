"""Who is calling: sessions, bearer tokens and the XSRF token bound to them.

Every request is resolved to an :class:`~access.policy.Principal` from memory (the replica's
:class:`~mesh.directory.Directory`), in this order:

1. A token in the query string (``?access_token=`` and the like, or any ``culto_…`` value) is
   refused with 400 ``token_in_query``: URLs end up in logs, proxies and browser history.
2. ``Authorization: Bearer culto_…`` → that token's principal, or 401 if the token is
   malformed, unknown (revoked) or expired. A bearer request never needs XSRF: nothing about it
   is sent by a browser on its own.
3. The ``culto_session`` cookie (signed with ``COOKIE_SECRET``; its value is the session id,
   the KV bucket knows only its SHA-256) → the session's user. A cookie whose session is gone
   (logged out, expired) counts as no cookie.
4. Otherwise: anonymous.

XSRF (double submit, made unforgeable): the token is ``HMAC(COOKIE_SECRET, binding)``, where
the binding is the session's key when the request carries a session, else the nonce in the
signed ``_xsrf`` cookie (before login). A cookie/header pair made up by an attacker cannot carry
the HMAC, and a token taken from one session is worthless in another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tornado.web import RequestHandler

from access.credentials import TOKEN_PREFIX, session_key
from access.policy import ANONYMOUS, ChannelView, Principal
from access.principals import Credential, CredentialKind, Resolver
from culto.errors import Forbidden, Unauthenticated
from mesh.directory import Directory
from ops.http import ApiError
from schemas.timestamps import utc_now

SESSION_COOKIE = "culto_session"
XSRF_COOKIE = "_xsrf"
SESSION_COOKIE_DAYS = 14
QUERY_TOKEN_NAMES = frozenset({"access_token", "token", "bearer", "api_key", "apikey"})


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of one request and how it authenticated.

    Attributes:
        principal: Who is calling.
        bearer: It sent an API token (no XSRF needed).
        session_key: The KV key of its browser session, if it sent one.
        credential: The credential as presented, passed on with every service call (the
            services authorize it themselves); ``None`` for an anonymous caller.
    """

    principal: Principal
    bearer: bool = False
    session_key: str | None = None
    credential: Credential | None = None


class Authenticator:
    """Resolves requests to principals and keeps the XSRF token bound to them.

    Args:
        directory: The replica's view of the identity buckets.
        cookie_secret: ``COOKIE_SECRET`` (signs cookies, keys the XSRF HMAC).
    """

    def __init__(self, directory: Directory, cookie_secret: str) -> None:
        self.directory = directory
        self.resolver = Resolver(directory)
        self.used: dict[Credential, datetime] = {}
        """Tokens (as presented) → when each last authenticated a request (reported in
        batches; the identity service checks each before it records the use)."""
        self._key = hashlib.sha256(b"culto-xsrf:" + cookie_secret.encode()).digest()

    # -- principals -------------------------------------------------------------------------

    def caller(self, handler: RequestHandler) -> Caller:
        """The caller of ``handler``'s request.

        Raises:
            ApiError: 400 ``token_in_query``.
            Unauthenticated: a bearer token that is malformed, unknown or expired.
        """
        _refuse_query_tokens(handler.request.query_arguments)
        header = handler.request.headers.get("Authorization")
        if header is not None:
            credential = _bearer(header)
            principal = self.resolver.bearer(credential.secret, utc_now())
            self.used[credential] = utc_now()
            return Caller(principal, bearer=True, credential=credential)
        raw = handler.get_signed_cookie(SESSION_COOKIE, max_age_days=SESSION_COOKIE_DAYS)
        if raw:
            session_id = raw.decode("ascii", "replace")
            key = session_key(session_id)
            session = self.resolver.session_principal(key, utc_now())
            if session is not None:
                credential = Credential(CredentialKind.SESSION, session_id)
                return Caller(session, session_key=key, credential=credential)
        return Caller(ANONYMOUS)

    def take_usage(self) -> dict[Credential, datetime]:
        """The tokens used since the last call, with when (for ``last_used_at``)."""
        used, self.used = self.used, {}
        return used

    def refresh(self, principal: Principal) -> Principal | None:
        """``principal`` as the directory sees it now; ``None`` once its credential is revoked,
        expired or its user deleted (the hub ends such streams)."""
        return self.resolver.refresh(principal, utc_now())

    def channel(self, channel_id: str | None) -> ChannelView | None:
        """What the policy needs of a channel; ``None`` if it does not exist."""
        return self.resolver.channel(channel_id)

    def readable_channels(self, principal: Principal) -> set[str] | None:
        """Ids of the channels ``principal`` may read (``None``: every channel, an admin's)."""
        return self.resolver.readable_channels(principal)

    # -- XSRF -------------------------------------------------------------------------------

    def xsrf_token(self, handler: RequestHandler, caller: Caller) -> str:
        """The XSRF token for this caller (sets the signed ``_xsrf`` nonce cookie if needed)."""
        if caller.session_key is not None:
            return self._mac("session:" + caller.session_key)
        nonce = self._nonce(handler)
        if nonce is None:
            nonce = secrets.token_urlsafe(16)
            handler.set_signed_cookie(XSRF_COOKIE, nonce, httponly=True, samesite="Lax")
        return self._mac("anon:" + nonce)

    def check_xsrf(self, handler: RequestHandler, caller: Caller, given: str | None) -> None:
        """Raise :class:`XsrfFailed` unless ``given`` is this caller's token (bearer: no check).

        Raises:
            XsrfFailed: missing, or made for another session or browser.
        """
        if caller.bearer:
            return
        if not given:
            raise XsrfFailed(
                "XSRF token missing: GET /api/v2/csrf, then send the token in X-XSRFToken"
            )
        if caller.session_key is not None:
            expected = self._mac("session:" + caller.session_key)
        else:
            nonce = self._nonce(handler)
            if nonce is None:
                raise XsrfFailed("XSRF cookie missing: GET /api/v2/csrf to receive it")
            expected = self._mac("anon:" + nonce)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise XsrfFailed("XSRF token does not match this session: GET /api/v2/csrf again")

    def _nonce(self, handler: RequestHandler) -> str | None:
        raw = handler.get_signed_cookie(XSRF_COOKIE, max_age_days=SESSION_COOKIE_DAYS)
        return raw.decode("ascii", "replace") if raw else None

    def _mac(self, binding: str) -> str:
        digest = hmac.new(self._key, binding.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class XsrfFailed(Forbidden):
    """The XSRF token is missing or not this caller's (403 ``xsrf_failed``)."""

    code = "xsrf_failed"


def _bearer(header: str) -> Credential:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated(
            "Authorization must be 'Bearer culto_…' (an API token)", code="invalid_token"
        )
    return Credential(CredentialKind.BEARER, value.strip())


def _refuse_query_tokens(arguments: Mapping[str, list[bytes]]) -> None:
    for name, values in arguments.items():
        leaked = name.lower() in QUERY_TOKEN_NAMES or any(
            v.startswith(TOKEN_PREFIX.encode()) for v in values
        )
        if leaked:
            raise ApiError(
                400,
                "token_in_query",
                "API tokens are not accepted in the query string (URLs are logged): send"
                " 'Authorization: Bearer culto_…' instead, and revoke a token that was sent",
            )
