"""From a presented credential to a :class:`~access.policy.Principal`: one resolver for every
party that authorizes (the HTTP edge, the video and identity services).

Zero trust behind the edge (docs/security.md "Trust boundary"): a request that reaches a
service over NATS carries the caller's own credential — the bearer token or the session id as
the browser presented it — and the service resolves it here, against its own view of the
identity buckets, before it asks :func:`access.policy.decide`. The edge resolves the same way
to answer fast, but nothing behind it takes the edge's word. The buckets keep only SHA-256
digests of token secrets and session ids, so reading them (the frontend's NATS user can) gives
no credential: only the holder of the secret can make a request that resolves to a principal.

The view is a :class:`IdentityView`: the replica's in-memory directory (``mesh.directory``)
satisfies it structurally, so this layer needs no NATS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from access.credentials import session_key, split_token, token_matches
from access.policy import ANONYMOUS, ChannelView, Principal
from culto.errors import Unauthenticated
from schemas.identity import (
    ChannelDTO,
    ChannelRole,
    SessionRecord,
    TokenRecord,
    UserRecord,
    Visibility,
)

CREDENTIAL_HEADER = "Culto-Credential"
"""The NATS header that carries the caller's credential to a service: ``bearer <token>`` or
``session <session id>``; absent for an anonymous caller."""
_MAX_CREDENTIAL = 300


class CredentialKind(Enum):
    """How a caller proved who it is."""

    BEARER = "bearer"
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential exactly as its holder presented it (never logged, never stored).

    Attributes:
        kind: A bearer API token or a browser session.
        secret: The token (``culto_…``) or the session id (the value of the signed cookie).
    """

    kind: CredentialKind
    secret: str

    def __repr__(self) -> str:  # secrets stay out of logs and tracebacks
        return f"Credential({self.kind.value}, …)"

    def header(self) -> str:
        """The value of :data:`CREDENTIAL_HEADER`."""
        return f"{self.kind.value} {self.secret}"

    @classmethod
    def from_header(cls, value: str | None) -> Credential | None:
        """Parse :data:`CREDENTIAL_HEADER` (``None``: anonymous).

        Raises:
            Unauthenticated: a malformed value (``invalid_credential``).
        """
        if value is None:
            return None
        kind, _, secret = value.partition(" ")
        try:
            parsed = CredentialKind(kind)
        except ValueError:
            parsed = None
        if parsed is None or not secret or len(value) > _MAX_CREDENTIAL or not secret.isascii():
            raise Unauthenticated("malformed credential", code="invalid_credential")
        return cls(parsed, secret)


class IdentityView(Protocol):
    """What resolving needs of the identity buckets (``mesh.directory.Directory`` has it)."""

    @property
    def users(self) -> Mapping[str, UserRecord]: ...
    @property
    def channels(self) -> Mapping[str, ChannelDTO]: ...
    @property
    def tokens(self) -> Mapping[str, TokenRecord]: ...
    @property
    def sessions(self) -> Mapping[str, SessionRecord]: ...
    def roles_of(self, user_id: str) -> Mapping[str, ChannelRole]: ...


class Resolver:
    """Resolves credentials and channels against one :class:`IdentityView`.

    Args:
        view: The replica's identity view.
    """

    def __init__(self, view: IdentityView) -> None:
        self.view = view

    def principal(self, credential: Credential | None, now: datetime) -> Principal:
        """The principal of ``credential`` (``None``: anonymous).

        Raises:
            Unauthenticated: a token that is malformed, unknown, revoked or expired, or a
                session that is gone (codes ``invalid_token``, ``token_expired``,
                ``invalid_session``).
        """
        if credential is None:
            return ANONYMOUS
        if credential.kind is CredentialKind.BEARER:
            return self.bearer(credential.secret, now)
        found = self.session_principal(session_key(credential.secret), now)
        if found is None:
            raise Unauthenticated("this session has ended; sign in again", code="invalid_session")
        return found

    def bearer(self, token: str, now: datetime) -> Principal:
        """The principal of an API token (see :meth:`principal`)."""
        record = self.token_record(token)
        if record is None:
            raise Unauthenticated("this API token is invalid or revoked", code="invalid_token")
        if record.expired(now):
            raise Unauthenticated("this API token has expired", code="token_expired")
        principal = self.token_principal(record)
        if principal is None:
            raise Unauthenticated("this API token's user no longer exists", code="invalid_token")
        return principal

    def token_record(self, token: str) -> TokenRecord | None:
        """The stored record of a presented token whose secret matches, else ``None``."""
        parts = split_token(token.strip())
        record = self.view.tokens.get(parts[0]) if parts else None
        if parts is None or record is None or not token_matches(parts[1], record.secret_hash):
            return None
        return record

    def token_principal(self, token: TokenRecord) -> Principal | None:
        """The principal of a (valid) token; ``None`` if its user is gone."""
        user = self.view.users.get(token.user_id)
        if user is None:
            return None
        return self._principal(
            user,
            scope=token.scope,
            token_channel=token.channel_id,
            credential=f"token:{token.id}",
            expires_at=token.expires_at,
        )

    def session_principal(self, key: str, now: datetime) -> Principal | None:
        """The principal of the live session stored under ``key``; ``None`` if it is gone."""
        session = self.view.sessions.get(key)
        if session is None or session.once or session.expired(now):
            return None
        user = self.view.users.get(session.user_id)
        if user is None:
            return None
        return self._principal(user, credential=f"session:{key}", expires_at=session.expires_at)

    def _principal(self, user: UserRecord, **kwargs: object) -> Principal:
        roles: Mapping[str, ChannelRole] = dict(self.view.roles_of(user.id))
        return Principal(user_id=user.id, admin=user.admin, roles=roles, **kwargs)  # type: ignore[arg-type]

    def refresh(self, principal: Principal, now: datetime) -> Principal | None:
        """``principal`` as the view sees it now; ``None`` once its credential is revoked,
        expired or its user deleted (open streams of it end)."""
        kind, _, ident = principal.credential.partition(":")
        if kind == "session":
            return self.session_principal(ident, now)
        if kind == "token":
            token = self.view.tokens.get(ident)
            if token is None or token.expired(now):
                return None
            return self.token_principal(token)
        return principal

    def channel(self, channel_id: str | None) -> ChannelView | None:
        """What the policy needs of a channel; ``None`` if it does not exist."""
        found = self.view.channels.get(channel_id) if channel_id else None
        if found is None:
            return None
        return ChannelView(found.id, found.visibility is Visibility.PUBLIC)

    def readable_channels(self, principal: Principal) -> set[str] | None:
        """Ids of the channels ``principal`` may read (``None``: every channel, an admin's)."""
        if principal.reads_everything():
            return None
        return {
            channel.id
            for channel in self.view.channels.values()
            if principal.reads_channel(
                ChannelView(channel.id, channel.visibility is Visibility.PUBLIC)
            )
        }
