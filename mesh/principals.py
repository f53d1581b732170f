"""Authenticating a service's callers against the replica's own directory.

Every service of the API role resolves the credential that came with a request here (the
edge's word counts for nothing: docs/security.md "Trust boundary"). The replica's
:class:`~mesh.directory.Directory` answers from memory; a credential it does not know yet — a
token or session written a moment ago through another replica, whose change the KV watch has
not delivered here — is looked up in the bucket, and when it exists there the call waits for
the watch to bring it (milliseconds) instead of refusing a caller who is valid. Channels are
looked up the same way (:meth:`MeshAuthenticator.channel`).
"""

from __future__ import annotations

from access.credentials import session_key, split_token
from access.policy import ChannelView, Principal
from access.principals import Credential, CredentialKind, Resolver
from culto.errors import Unauthenticated
from mesh.directory import Directory
from mesh.identity.store import IdentityStore
from schemas.timestamps import utc_now

CATCH_UP_TIMEOUT = 2.0
"""Seconds a call waits for this replica's directory to learn a credential the bucket has."""


class MeshAuthenticator:
    """Resolves credentials to principals (an :data:`~mesh.rpc.server.Authenticate`).

    Args:
        directory: The replica's view of the identity buckets (opened by the role).
        store: The identity buckets, for a credential the view does not know yet.
    """

    def __init__(self, directory: Directory, store: IdentityStore) -> None:
        self.directory = directory
        self.resolver = Resolver(directory)
        self._store = store

    async def __call__(self, credential: Credential | None) -> Principal:
        """The principal of ``credential`` (``None``: anonymous).

        Raises:
            Unauthenticated: unknown, revoked, expired or malformed.
        """
        try:
            return self.resolver.principal(credential, utc_now())
        except Unauthenticated:
            if credential is None or not await self._catch_up(credential):
                raise
        return self.resolver.principal(credential, utc_now())

    async def channel(self, channel_id: str | None) -> ChannelView | None:
        """What the policy needs of a channel (``None``: no such channel). A channel created a
        moment ago through another replica is read from the bucket, then awaited here."""
        found = self.resolver.channel(channel_id)
        if found is not None or not channel_id:
            return found
        if await self._store.channel(channel_id) is None:
            return None
        channels = self.directory.channels
        await self.directory.until(lambda: channel_id in channels, CATCH_UP_TIMEOUT)
        return self.resolver.channel(channel_id)

    async def _catch_up(self, credential: Credential) -> bool:
        """Wait for the directory when the bucket holds what it lacks; False if it does not."""
        directory = self.directory
        if credential.kind is CredentialKind.BEARER:
            parts = split_token(credential.secret.strip())
            if parts is None or parts[0] in directory.tokens:
                return False
            token = await self._store.token(parts[0])
            if token is None:
                return False
            return await directory.until(
                lambda: parts[0] in directory.tokens and token.user_id in directory.users,
                CATCH_UP_TIMEOUT,
            )
        key = session_key(credential.secret)
        if key in directory.sessions:
            return False
        session = await self._store.session(key)
        if session is None:
            return False
        return await directory.until(
            lambda: key in directory.sessions and session.user_id in directory.users,
            CATCH_UP_TIMEOUT,
        )
