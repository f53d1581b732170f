"""Users, channels, memberships, tokens and sessions: where they are kept, and how the edge asks.

:class:`~mesh.identity.store.IdentityStore` reads and writes them in NATS KV with
compare-and-set (the identity service, the principal resolver);
:class:`~mesh.identity.client.IdentityClient` calls the identity service over NATS for the HTTP
edge, with the caller's credential.
"""

from mesh.identity.client import IdentityClient
from mesh.identity.store import IdentityStore

__all__ = ["IdentityClient", "IdentityStore"]
