"""The NATS request/reply protocol of the API role, declared once.

Every verb is one :class:`~mesh.rpc.protocol.Verb` in :mod:`mesh.rpc.verbs`: its service, name,
request model, reply model and the policy action it performs. :class:`~mesh.rpc.server.RpcService`
serves a service's verbs as a NATS micro service (queue group ``culto-api``; micro's own
request, error and timing stats stay true); :class:`~mesh.rpc.client.RpcClient` calls them. The
caller's credential travels with every request (header ``Culto-Credential``) and the service
resolves and authorizes it itself: the edge is never the authority (docs/security.md).
"""

from mesh.rpc.client import RpcClient
from mesh.rpc.protocol import Call, Empty, ServiceSpec, Verb
from mesh.rpc.server import Authenticate, RpcService, route

__all__ = [
    "Authenticate",
    "Call",
    "Empty",
    "RpcClient",
    "RpcService",
    "ServiceSpec",
    "Verb",
    "route",
]
