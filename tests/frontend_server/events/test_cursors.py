"""Acknowledged cursors (docs/contracts.md §7 ``?cursor=``, §10): durable, per user, forward only.

Real nats-server, real frontends and the real identity service (which writes the cursors).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tornado.ioloop import IOLoop

from access.policy import Principal
from access.principals import Credential, CredentialKind
from culto.errors import MeshUnavailable
from frontend_server.events.cursors import CursorAcks
from mesh import EventPublisher, MeshConnection
from mesh.cursors import CursorStore
from mesh.identity.client import IdentityClient
from ops.server import RunningServer
from schemas import new_video_id
from schemas.cursors import CursorPosition
from schemas.identity import TokenScope
from schemas.videos import TranscriptInput, VideoCreate
from services.api.service import VideoApiService
from services.identity.accounts import Accounts
from services.identity.service import IdentityService
from tests.frontend_server.sse_client import SSEClient, known_token
from tests.frontend_server.ws_client import close_all, ws_open
from tests.support import (
    PASSWORD,
    Http,
    Member,
    StartEdge,
    admin_api,
    assert_json_error,
    eventually,
    make_member,
    publish_status,
    sign_in,
)


@pytest.fixture(autouse=True)
def _close_clients(io_loop: IOLoop) -> Iterator[None]:
    # Needs the loop: a socket still open is closed with a close frame, written on the loop.
    yield
    io_loop.run_sync(close_all)


async def _second_device(accounts: Accounts, member: Member) -> Member:
    """Another token of the same user (another device)."""
    user = await accounts.store.user_by_email(member.email)
    assert user is not None
    token = await accounts.create_token(user.id, scope=TokenScope.READ)
    return Member(user.id, member.email, token.token)


async def _public_video(mesh: MeshConnection) -> str:
    """A video of the (public) default channel, through the real video API."""
    body = VideoCreate(transcript=TranscriptInput(content="Sermão."), title="cursor test")
    return (await (await admin_api(mesh)).create(body)).id


async def _stored(mesh: MeshConnection, member: Member, name: str, seq: int) -> None:
    store = CursorStore(mesh)
    await eventually(
        lambda: _equals(store, member.user_id, name, seq), what=f"cursor {name} at {seq}"
    )


async def _equals(store: CursorStore, user: str, name: str, seq: int) -> bool:
    return await store.read(user, name) == seq


@pytest.mark.timeout(60)
async def test_a_cursor_acked_on_one_frontend_resumes_on_another_device(
    start_edge: StartEdge,
    mesh: MeshConnection,
    accounts: Accounts,
    identity_service: IdentityService,
    api_service: VideoApiService,
) -> None:
    front_a, front_b = await start_edge(), await start_edge()
    phone = await make_member(accounts)
    laptop = await _second_device(accounts, phone)
    for server, member in ((front_a, phone), (front_b, laptop)):
        await known_token(server.app, member)
    pub = EventPublisher(mesh)
    video = await _public_video(mesh)
    seqs = [await publish_status(pub, video, n) for n in range(6)]
    # The phone reads three events over SSE on A and acknowledges them.
    http_a = Http(front_a.url)
    response = await http_a.request(
        "POST",
        "/api/v2/events/ack",
        json_body={"cursor": "inbox", "seq": seqs[2]},
        headers=phone.auth,
    )
    assert response.code == 204, response.body
    await _stored(mesh, phone, "inbox", seqs[2])
    # The laptop (another token of the same user) resumes on B after the acknowledged event.
    sse = await SSEClient.open(
        front_b.port, auth=laptop.auth, query=[("video_id", video), ("cursor", "inbox")]
    )
    assert sse.status == 200
    frames = await sse.until_seq(seqs[-1])
    assert [f.seq for f in frames] == seqs[3:]
    await sse.close()
    # And over the WebSocket, acknowledging there.
    socket = await ws_open(front_b.port, auth=laptop.auth)
    await socket.send(op="subscribe", videos=[video], cursor="inbox")
    await socket.reply("subscribed")
    await socket.until_seq(seqs[-1])
    assert socket.seqs(video) == seqs[3:]
    await socket.send(op="ack", cursor="inbox", seq=seqs[4])
    await _stored(mesh, phone, "inbox", seqs[4])
    back = await ws_open(front_a.port, auth=phone.auth)
    await back.send(op="subscribe", videos=[video], cursor="inbox")
    await back.reply("subscribed")
    await back.until_seq(seqs[-1])
    assert back.seqs(video) == seqs[5:]
    http_a.close()


@pytest.mark.timeout(60)
async def test_acks_out_of_order_never_move_a_cursor_back(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts, http: Http
) -> None:
    member = await make_member(accounts)
    await known_token(edge.app, member)
    client = Http(edge.url)
    # Within one flush: coalesced to the largest.
    for seq in (7, 12, 9):
        response = await client.request(
            "POST",
            "/api/v2/events/ack",
            json_body={"cursor": "c1", "seq": seq},
            headers=member.auth,
        )
        assert response.code == 204
    await _stored(mesh, member, "c1", 12)
    # Across flushes (and from another replica's flush): the stored cursor keeps the largest.
    response = await client.request(
        "POST", "/api/v2/events/ack", json_body={"cursor": "c1", "seq": 3}, headers=member.auth
    )
    assert response.code == 204
    identity = IdentityClient(mesh)
    await identity.ack_cursors(
        [CursorPosition(credential=member.credential.header(), cursor="c1", seq=5)]
    )
    await identity.ack_cursors(
        [CursorPosition(credential=member.credential.header(), cursor="c1", seq=20)]
    )
    await _stored(mesh, member, "c1", 20)
    await identity.ack_cursors(
        [CursorPosition(credential=member.credential.header(), cursor="c1", seq=19)]
    )
    assert await CursorStore(mesh).read(member.user_id, "c1") == 20
    client.close()


@pytest.mark.timeout(30)
async def test_cursors_need_a_signed_in_caller_and_a_valid_name(
    edge: RunningServer, anonymous: Http, accounts: Accounts
) -> None:
    ack = {"cursor": "inbox", "seq": 1}
    await anonymous.csrf()
    assert_json_error(
        await anonymous.send("POST", "/api/v2/events/ack", ack), 401, "unauthenticated"
    )
    refused = await SSEClient.open(edge.port, query=[("cursor", "inbox")])
    assert refused.status == 401
    member = await make_member(accounts)
    await known_token(edge.app, member)
    for bad in ({"cursor": "a.b", "seq": 1}, {"cursor": "x" * 65, "seq": 1}, {"cursor": "a"}):
        response = await anonymous.request(
            "POST", "/api/v2/events/ack", json_body=bad, headers=member.auth
        )
        assert_json_error(response, 422)
    bad_name = await SSEClient.open(edge.port, auth=member.auth, query=[("cursor", "a b")])
    assert bad_name.status == 400
    # A browser session acknowledges like any state change: with its XSRF token.
    browser = Http(edge.url)
    await sign_in(browser, member.email, PASSWORD)
    no_xsrf = await browser.request("POST", "/api/v2/events/ack", json_body=ack)
    assert_json_error(no_xsrf, 403, "xsrf_failed")
    assert (await browser.send("POST", "/api/v2/events/ack", ack)).code == 204
    browser.close()


@pytest.mark.timeout(30)
async def test_a_cursor_never_acknowledged_is_a_new_connection(
    edge: RunningServer, mesh: MeshConnection, accounts: Accounts
) -> None:
    member = await make_member(accounts, admin=True)
    await known_token(edge.app, member)
    pub = EventPublisher(mesh)
    video = new_video_id()
    await publish_status(pub, video, 1)
    latest = await publish_status(pub, video, 2)
    sse = await SSEClient.open(
        edge.port, auth=member.auth, query=[("video_id", video), ("cursor", "fresh")]
    )
    frames = await sse.until_seq(latest)
    assert [f.seq for f in frames] == [latest]  # current state, as without a cursor
    await sse.close()


class _FakeIdentity:
    """Records ``ack_cursors`` calls; fails while ``down``."""

    def __init__(self) -> None:
        self.calls: list[list[CursorPosition]] = []
        self.down = False

    async def ack_cursors(self, acks: list[CursorPosition]) -> None:
        if self.down:
            raise MeshUnavailable("identity service unreachable")
        self.calls.append(list(acks))


@pytest.mark.timeout(10)
async def test_acks_are_coalesced_per_cursor_and_kept_across_a_failed_flush(
    mesh: MeshConnection,
) -> None:
    identity = _FakeIdentity()
    acks = CursorAcks(identity, CursorStore(mesh), interval=3600)  # type: ignore[arg-type]
    user = "u_" + "b" * 32
    caller = Principal(user_id=user, credential="token:t_0000000000000000")
    credential = Credential(CredentialKind.BEARER, "culto_t_0000000000000000_secret")
    for seq in range(1, 1001):  # one ack per event ...
        await acks.ack(caller, credential, "feed", seq)
    await acks.ack(caller, credential, "feed", 500)  # ... some late and out of order
    await acks.ack(caller, credential, "other", 3)
    identity.down = True
    await acks.flush()  # fails: nothing is lost
    assert identity.calls == []
    await acks.ack(caller, credential, "feed", 999)
    assert await acks.position(user, "feed") == 1000  # this replica resumes from its own ack
    identity.down = False
    await acks.flush()
    # ... cost one write per cursor: the largest sequence of each.
    assert identity.calls == [
        [
            CursorPosition(credential=credential.header(), cursor="feed", seq=1000),
            CursorPosition(credential=credential.header(), cursor="other", seq=3),
        ]
    ]
    await acks.flush()
    assert len(identity.calls) == 1  # nothing pending, nothing sent
