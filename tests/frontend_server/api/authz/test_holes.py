"""The authorization holes found by the round-3 review, each reproduced over real HTTP (a real
frontend, the real API role, a real nats-server) and shut (docs/security.md).

Each test failed on the code before zero trust; the names and values differ from the report's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from mesh.connection import MeshConnection
from mesh.cursors import MAX_CURSORS_PER_USER, CursorStore
from ops.server import RunningServer
from schemas.identity import ChannelRole, TokenScope, Visibility
from services.identity.accounts import Accounts
from tests.frontend_server.ws_client import close_all, ws_open
from tests.support import (
    Http,
    Member,
    assert_json_error,
    body_json,
    known_to_edge,
    make_member,
)

pytestmark = pytest.mark.timeout(60)

YOUTUBE_ID = "Zz9_yT4pLq0"


def _submit_body(channel_id: str, title: str, **extra: object) -> dict[str, object]:
    return {
        "youtube_id": YOUTUBE_ID,
        "title": title,
        "channel_id": channel_id,
        "transcript": {"content": f"{title}: leiam Romanos 8:28."},
        **extra,
    }


async def test_a_youtube_id_of_another_churchs_private_video_reveals_and_changes_nothing(
    http: Http, accounts: Accounts
) -> None:
    mine = await accounts.add_channel("Igreja Esperança", Visibility.PRIVATE)
    theirs = await accounts.add_channel("Igreja Vizinha", Visibility.PRIVATE)
    editor = await make_member(accounts, roles={mine.id: ChannelRole.EDITOR})
    owner = await make_member(accounts, roles={theirs.id: ChannelRole.EDITOR})
    await known_to_edge(http, editor)
    await known_to_edge(http, owner)
    created = await http.request(
        "POST",
        "/api/v2/videos/",
        json_body=_submit_body(theirs.id, "Culto deles"),
        headers=owner.auth,
        cookies=False,
    )
    assert created.code == 201
    theirs_id = body_json(created)["id"]
    # The same YouTube id in my channel: my own record, not a 409 naming theirs.
    mine_first = await http.request(
        "POST",
        "/api/v2/videos/",
        json_body=_submit_body(mine.id, "Meu culto"),
        headers=editor.auth,
        cookies=False,
    )
    assert mine_first.code == 201
    mine_id = body_json(mine_first)["id"]
    assert mine_id != theirs_id and theirs_id not in mine_first.body.decode()
    # Again in my channel: a 409 naming my video; reprocess requeues mine, never theirs.
    again = await http.request(
        "POST",
        "/api/v2/videos/",
        json_body=_submit_body(mine.id, "De novo"),
        headers=editor.auth,
        cookies=False,
    )
    assert assert_json_error(again, 409)["details"]["existing_id"] == mine_id
    redo = await http.request(
        "POST",
        "/api/v2/videos/",
        json_body=_submit_body(mine.id, "Reprocessado", reprocess=True),
        headers=editor.auth,
        cookies=False,
    )
    assert redo.code == 201 and body_json(redo)["id"] == mine_id
    untouched = await http.request(
        "GET", f"/api/v2/videos/{theirs_id}", headers=owner.auth, cookies=False
    )
    assert body_json(untouched)["title"] == "Culto deles"
    hidden = await http.request(
        "GET", f"/api/v2/videos/{theirs_id}", headers=editor.auth, cookies=False
    )
    assert_json_error(hidden, 404)


async def test_a_token_lives_at_least_a_minute(http: Http) -> None:
    for days in (1e-12, 0.0001):  # 0 minutes, and 0.14 minutes
        response = await http.send("POST", "/api/v2/tokens", {"expires_in_days": days})
        assert_json_error(response, 422)
    ok = await http.send("POST", "/api/v2/tokens", {"expires_in_days": 0.0007})  # ~1 minute
    assert ok.code == 201 and body_json(ok)["expires_at"] is not None


async def _token(http: Http, member: Member, **body: object) -> Member:
    response = await http.request(
        "POST", "/api/v2/tokens", json_body=body, headers=member.auth, cookies=False
    )
    assert response.code == 201, response.body
    return Member(member.user_id, member.email, body_json(response)["token"])


async def test_bound_or_expiring_admin_tokens_do_not_act_instance_wide(
    http: Http, accounts: Accounts
) -> None:
    church = await accounts.add_channel("Igreja A", Visibility.PRIVATE)
    other_channel = await accounts.add_channel("Igreja B", Visibility.PRIVATE)
    admin = await make_member(accounts, admin=True)
    other = await make_member(accounts, roles={other_channel.id: ChannelRole.OWNER})
    await known_to_edge(http, admin)
    await known_to_edge(http, other)
    bound = await _token(http, admin, scope="admin", channel_id=church.id)
    expiring = await _token(http, admin, scope="admin", expires_in_days=1)
    others_token = await accounts.create_token(
        other.user_id, scope=TokenScope.READ, channel_id=other_channel.id
    )
    for limited in (bound, expiring):
        await known_to_edge(http, limited)
        new_user = {"email": f"x{uuid.uuid4().hex[:8]}@example.org", "admin": True}
        for method, path, body in (
            ("POST", "/api/v2/users", new_user),
            ("POST", "/api/v2/channels", {"name": "rogue"}),
        ):
            response = await http.request(
                method, path, json_body=body, headers=limited.auth, cookies=False
            )
            assert_json_error(response, 403)
        listed = await http.request(
            "GET", f"/api/v2/tokens?user_id={other.user_id}", headers=limited.auth, cookies=False
        )
        assert_json_error(listed, 403)
        revoked = await http.request(
            "DELETE", f"/api/v2/tokens/{others_token.id}", headers=limited.auth, cookies=False
        )
        assert_json_error(revoked, 404)
    # The admin's unbound, non-expiring admin token still acts instance-wide.
    made = await http.request(
        "POST",
        "/api/v2/users",
        json_body={"email": f"y{uuid.uuid4().hex[:8]}@example.org"},
        headers=admin.auth,
        cookies=False,
    )
    assert made.code == 201


async def test_a_bound_token_manages_only_tokens_of_its_channel(
    http: Http, accounts: Accounts
) -> None:
    a = await accounts.add_channel("Igreja A", Visibility.PRIVATE)
    b = await accounts.add_channel("Igreja B", Visibility.PRIVATE)
    owner = await make_member(accounts, roles={a.id: ChannelRole.OWNER, b.id: ChannelRole.OWNER})
    await known_to_edge(http, owner)
    bound_a = await _token(http, owner, scope="admin", channel_id=a.id)
    in_b = await accounts.create_token(owner.user_id, scope=TokenScope.READ, channel_id=b.id)
    await known_to_edge(http, bound_a)
    listed = body_json(
        await http.request("GET", "/api/v2/tokens", headers=bound_a.auth, cookies=False)
    )
    assert listed and all(t["channel_id"] == a.id for t in listed)
    refused = await http.request(
        "DELETE", f"/api/v2/tokens/{in_b.id}", headers=bound_a.auth, cookies=False
    )
    assert_json_error(refused, 404)
    wider = await http.request(
        "POST",
        "/api/v2/tokens",
        json_body={"scope": "admin", "channel_id": b.id},
        headers=bound_a.auth,
        cookies=False,
    )
    assert_json_error(wider, 404)  # channel B does not exist for a token bound to A


async def test_a_token_mints_nothing_wider_or_longer_lived_than_itself(
    http: Http, accounts: Accounts
) -> None:
    member = await make_member(accounts, scope=TokenScope.ADMIN, expires_in=timedelta(hours=2))
    await known_to_edge(http, member)
    for body in ({}, {"expires_in_days": 1}, {"scope": "publish", "expires_in_days": 0.01}):
        response = await http.request(
            "POST", "/api/v2/tokens", json_body=body, headers=member.auth, cookies=False
        )
        assert_json_error(response, 403)
    ok = await http.request(
        "POST",
        "/api/v2/tokens",
        json_body={"scope": "read", "expires_in_days": 0.04},
        headers=member.auth,
        cookies=False,
    )
    assert ok.code == 201


async def test_cursors_have_a_per_user_quota_and_publish_tokens_move_none(
    http: Http, accounts: Accounts, mesh: MeshConnection
) -> None:
    member = await make_member(accounts, scope=TokenScope.READ)
    publisher = await make_member(accounts, scope=TokenScope.PUBLISH)
    await known_to_edge(http, member)
    await known_to_edge(http, publisher)
    store = CursorStore(mesh)
    for n in range(MAX_CURSORS_PER_USER):
        await store.advance(member.user_id, f"c{n}", 1)
    new = await http.request(
        "POST",
        "/api/v2/events/ack",
        json_body={"cursor": "one-more", "seq": 5},
        headers=member.auth,
        cookies=False,
    )
    assert assert_json_error(new, 429)["code"] == "too_many_cursors"
    known = await http.request(
        "POST",
        "/api/v2/events/ack",
        json_body={"cursor": "c7", "seq": 5},
        headers=member.auth,
        cookies=False,
    )
    assert known.code == 204
    by_publisher = await http.request(
        "POST",
        "/api/v2/events/ack",
        json_body={"cursor": "feed", "seq": 5},
        headers=publisher.auth,
        cookies=False,
    )
    assert_json_error(by_publisher, 403)


async def test_a_websocket_that_floods_messages_is_refused_then_closed(
    edge: RunningServer, http: Http, accounts: Accounts
) -> None:
    member = await make_member(accounts, scope=TokenScope.READ)
    await known_to_edge(http, member)
    client = await ws_open(edge.port, auth=member.auth)
    try:
        for n in range(400):
            await client.send(op="ack", cursor="flood", seq=n)
        code = await client.until_closed(timeout=20)
        errors = [m for m in client.control if m.get("op") == "error"]
        assert code == 1008
        assert errors and errors[0]["code"] == "rate_limited"
    finally:
        await close_all()


async def test_a_malformed_member_id_is_a_400_not_a_500(http: Http, accounts: Accounts) -> None:
    channel = await accounts.add_channel("Igreja", Visibility.PRIVATE)
    for user_id in ("u" * 300, "..%2f..", "u_XYZ"):
        response = await http.send(
            "PUT", f"/api/v2/channels/{channel.id}/members/{user_id}", {"role": "viewer"}
        )
        assert assert_json_error(response, 400)["code"] == "invalid_user_id"


@pytest.mark.parametrize(
    "email",
    [
        "ad\u202emin@example.org",  # right-to-left override
        "admin\u200b@example.org",  # zero-width space
        "ad\u0000min@example.org",  # control character
    ],
)
async def test_invisible_or_bidi_characters_in_an_email_are_refused(http: Http, email: str) -> None:
    response = await http.send("POST", "/api/v2/users", {"email": email})
    assert_json_error(response, 422)


async def test_full_width_and_case_variants_of_an_email_are_the_same_account(
    http: Http,
) -> None:
    plain = f"pastor{uuid.uuid4().hex[:6]}@example.org"
    assert (await http.send("POST", "/api/v2/users", {"email": plain})).code == 201
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in plain.upper())
    response = await http.send("POST", "/api/v2/users", {"email": wide})
    assert_json_error(response, 409)
