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

from access.credentials import TOKEN_PREFIX, session_key, split_token, token_matches
from access.policy import ANONYMOUS, ChannelView, Principal
from culto.errors import Forbidden, Unauthenticated
from mesh.directory import Directory
from ops.http import ApiError
from schemas.identity import ChannelRole, TokenRecord, UserRecord, Visibility
from schemas.timestamps import utc_now

SESSION_COOKIE = "culto_session"
XSRF_COOKIE = "_xsrf"
SESSION_COOKIE_DAYS = 14
QUERY_TOKEN_NAMES = frozenset({"access_token", "token", "bearer", "api_key", "apikey"})


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of one request and how it authenticated."""

    principal: Principal
    bearer: bool = False
    session_key: str | None = None


class Authenticator:
    """Resolves requests to principals and keeps the XSRF token bound to them.

    Args:
        directory: The replica's view of the identity buckets.
        cookie_secret: ``COOKIE_SECRET`` (signs cookies, keys the XSRF HMAC).
    """

    def __init__(self, directory: Directory, cookie_secret: str) -> None:
        self.directory = directory
        self.used: dict[str, datetime] = {}
        """Token id → when it last authenticated a request (reported in batches)."""
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
            return Caller(self._bearer(header), bearer=True)
        raw = handler.get_signed_cookie(SESSION_COOKIE, max_age_days=SESSION_COOKIE_DAYS)
        if raw:
            key = session_key(raw.decode("ascii", "replace"))
            principal = self.session_principal(key)
            if principal is not None:
                return Caller(principal, session_key=key)
        return Caller(ANONYMOUS)

    def _bearer(self, header: str) -> Principal:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated(
                "Authorization must be 'Bearer culto_…' (an API token)", code="invalid_token"
            )
        parts = split_token(value.strip())
        token = self.directory.tokens.get(parts[0]) if parts else None
        if parts is None or token is None or not token_matches(parts[1], token.secret_hash):
            raise Unauthenticated("this API token is invalid or revoked", code="invalid_token")
        now = utc_now()
        if token.expired(now):
            raise Unauthenticated("this API token has expired", code="token_expired")
        self.used[token.id] = now
        principal = self.token_principal(token)
        if principal is None:
            raise Unauthenticated("this API token's user no longer exists", code="invalid_token")
        return principal

    def take_usage(self) -> dict[str, datetime]:
        """The tokens used since the last call, with when (for ``last_used_at``)."""
        used, self.used = self.used, {}
        return used

    def token_principal(self, token: TokenRecord) -> Principal | None:
        """The principal of a (valid) token; ``None`` if its user is gone."""
        user = self.directory.users.get(token.user_id)
        if user is None:
            return None
        return self._principal(
            user,
            scope=token.scope,
            token_channel=token.channel_id,
            credential=f"token:{token.id}",
            expires_at=token.expires_at,
        )

    def session_principal(self, key: str) -> Principal | None:
        """The principal of the live session stored under ``key``; ``None`` if it is gone."""
        session = self.directory.sessions.get(key)
        if session is None or session.once or session.expired(utc_now()):
            return None
        user = self.directory.users.get(session.user_id)
        if user is None:
            return None
        return self._principal(user, credential=f"session:{key}", expires_at=session.expires_at)

    def _principal(self, user: UserRecord, **kwargs: object) -> Principal:
        roles: Mapping[str, ChannelRole] = self.directory.roles_of(user.id)
        return Principal(user_id=user.id, admin=user.admin, roles=roles, **kwargs)  # type: ignore[arg-type]

    def refresh(self, principal: Principal) -> Principal | None:
        """``principal`` as the directory sees it now; ``None`` once its credential is revoked,
        expired or its user deleted (the hub ends such streams)."""
        kind, _, ident = principal.credential.partition(":")
        if kind == "session":
            return self.session_principal(ident)
        if kind == "token":
            token = self.directory.tokens.get(ident)
            if token is None or token.expired(utc_now()):
                return None
            return self.token_principal(token)
        return principal

    def channel(self, channel_id: str | None) -> ChannelView | None:
        """What the policy needs of a channel; ``None`` if it does not exist."""
        found = self.directory.channels.get(channel_id) if channel_id else None
        if found is None:
            return None
        return ChannelView(found.id, found.visibility is Visibility.PUBLIC)

    def readable_channels(self, principal: Principal) -> set[str] | None:
        """Ids of the channels ``principal`` may read (``None``: every channel, an admin's)."""
        if principal.reads_everything():
            return None
        return {
            channel.id
            for channel in self.directory.channels.values()
            if principal.reads_channel(
                ChannelView(channel.id, channel.visibility is Visibility.PUBLIC)
            )
        }

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
