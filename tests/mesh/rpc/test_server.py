"""The request protocol's server and client over a real nats-server: typed calls, errors back as
the same class, nats micro's own stats kept true, and a channel verb that forgets to decide
fails closed."""

from __future__ import annotations

import pytest
from tornado.ioloop import IOLoop

from access.policy import ANONYMOUS, Action, ChannelView, Principal
from access.principals import Credential, CredentialKind
from culto.errors import CultoError, Forbidden, InvalidInput, NotFound, Unauthenticated
from mesh.connection import MeshConnection
from mesh.rpc import Call, Empty, RpcClient, RpcService, ServiceSpec, Verb, route
from mesh.rpc.protocol import error_description, error_dict
from schemas.api import VideoRef

pytestmark = pytest.mark.timeout(30)

SPEC = ServiceSpec("culto-test", "culto.api.test", "a service for the protocol's tests")
ECHO = Verb(SPEC, "echo", VideoRef, VideoRef, None, writes=False)
READ = Verb(SPEC, "read", VideoRef, Empty, Action.READ)
FORGETFUL = Verb(SPEC, "forgetful", VideoRef, Empty, Action.DELETE)
GLOBAL = Verb(SPEC, "global", Empty, Empty, Action.CREATE_USER)
VIDEO = "3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f"
PRIVATE = ChannelView("private", public=False)
ADMIN = Principal(user_id="u_" + "a" * 32, admin=True, credential="session:x")


async def _authenticate(credential: Credential | None) -> Principal:
    if credential is None:
        return ANONYMOUS
    if credential.secret == "admin":
        return ADMIN
    raise Unauthenticated("unknown credential", code="invalid_token")


async def _echo(call: Call[VideoRef]) -> VideoRef:
    return call.body


async def _read(call: Call[VideoRef]) -> None:
    call.require(PRIVATE, what=f"video {call.body.id}")


async def _forgetful(call: Call[VideoRef]) -> None:
    return None  # never asks the policy: the server must not answer as if it had


async def _global(call: Call[Empty]) -> None:
    return None


@pytest.fixture
def service(io_loop: IOLoop, mesh: MeshConnection) -> RpcService:
    routes = [route(ECHO, _echo), route(READ, _read), route(FORGETFUL, _forgetful)]
    routes.append(route(GLOBAL, _global))
    rpc = RpcService(mesh.nc, SPEC, routes, _authenticate)
    io_loop.run_sync(rpc.start)
    return rpc


async def test_calls_are_typed_and_errors_come_back_as_their_class(
    mesh: MeshConnection, service: RpcService
) -> None:
    client = RpcClient(mesh)
    admin = Credential(CredentialKind.SESSION, "admin")
    try:
        assert await client.call(ECHO, VideoRef(id=VIDEO)) == VideoRef(id=VIDEO)
        with pytest.raises(Unauthenticated):
            await client.call(READ, VideoRef(id=VIDEO))  # anonymous, private channel
        with pytest.raises(Unauthenticated) as bad:
            await client.call(READ, VideoRef(id=VIDEO), Credential(CredentialKind.BEARER, "x"))
        assert bad.value.code == "invalid_token"
        assert await client.call(READ, VideoRef(id=VIDEO), admin) == Empty()
        with pytest.raises(Unauthenticated):
            await client.call(GLOBAL, Empty())  # decided by the server before the handler
        assert await client.call(GLOBAL, Empty(), admin) == Empty()
        reply = await mesh.nc.request(READ.subject, b'{"id": "../x"}', timeout=5)
        assert error_dict(reply.headers["Nats-Service-Error"], "")["kind"] == "invalid_input"
        stats = service.totals()
        assert stats["requests"] == 7 and stats["errors"] == 4  # micro's own counters
    finally:
        await service.stop()


async def test_a_channel_verb_whose_handler_never_decides_fails_closed(
    mesh: MeshConnection, service: RpcService
) -> None:
    admin = Credential(CredentialKind.SESSION, "admin")
    try:
        with pytest.raises(CultoError) as failed:
            await RpcClient(mesh).call(FORGETFUL, VideoRef(id=VIDEO), admin)
        assert type(failed.value) is CultoError  # internal: not NotFound, Forbidden or success
        assert "no authorization decision" in failed.value.message
    finally:
        await service.stop()


@pytest.mark.parametrize(
    "error", [NotFound("video x not found"), Forbidden("nope"), InvalidInput("bad", code="x_y")]
)
def test_errors_survive_the_header_round_trip(error: CultoError) -> None:
    back = error_dict(error_description(error), "")
    assert back["code"] == error.code and back["message"] == error.message
    assert back["kind"] == error.kind


def test_a_plain_text_error_becomes_its_message() -> None:
    assert error_dict("timeout", "fallback") == {"message": "timeout"}
    assert error_dict(None, "fallback") == {"message": "fallback"}


def test_a_credential_is_never_printed() -> None:
    credential = Credential(CredentialKind.BEARER, "culto_t_0123456789abcdef_secret")
    assert "secret" not in repr(credential) and "secret" not in str(credential)
    assert Credential.from_header(credential.header()) == credential
    for bad in ("basic abc", "bearer", "bearer " + "x" * 400, "session é"):
        with pytest.raises(Unauthenticated):
            Credential.from_header(bad)
