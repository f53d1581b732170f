"""Channels, members and users over HTTP, and what each change does to the caller's rights."""

from __future__ import annotations

import uuid

import pytest

from ops.server import RunningServer
from schemas.identity import ChannelRole, Visibility
from services.identity.accounts import Accounts
from tests.frontend_server.sse_client import SSEClient
from tests.support import (
    Http,
    Member,
    assert_json_error,
    body_json,
    eventually,
    known_to_edge,
    make_member,
    sign_in,
)

pytestmark = pytest.mark.timeout(60)


def _sermon(channel_id: str) -> dict[str, object]:
    return {
        "title": f"Culto {uuid.uuid4().hex[:6]}",
        "channel_id": channel_id,
        "transcript": {"content": "Leiam Salmos 23 comigo."},
    }


async def _submit(http: Http, member: Member, channel_id: str) -> int:
    response = await http.request(
        "POST", "/api/v2/videos/", json_body=_sermon(channel_id), headers=member.auth
    )
    return response.code


async def test_channels_are_listed_as_the_caller_may_read_them(
    http: Http, anonymous: Http, accounts: Accounts
) -> None:
    public = await accounts.add_channel("Igreja aberta", Visibility.PUBLIC)
    private = await accounts.add_channel("Conselho", Visibility.PRIVATE)
    member = await make_member(accounts, roles={private.id: ChannelRole.VIEWER})
    await known_to_edge(http, member)
    seen_anonymous = {
        c["id"] for c in body_json(await anonymous.request("GET", "/api/v2/channels"))
    }
    assert public.id in seen_anonymous and private.id not in seen_anonymous
    response = await http.request("GET", "/api/v2/channels", headers=member.auth, cookies=False)
    assert {public.id, private.id} <= {c["id"] for c in body_json(response)}
    me = body_json(await http.request("GET", "/api/v2/auth/me", headers=member.auth))
    assert me["channels"] == [
        {"id": private.id, "name": "Conselho", "role": "viewer", "visibility": "private"}
    ]


async def test_an_owner_grants_and_removes_roles_and_rights_follow(
    http: Http, accounts: Accounts
) -> None:
    channel = await accounts.add_channel("Jovens", Visibility.PRIVATE)
    owner = await make_member(accounts, roles={channel.id: ChannelRole.OWNER})
    helper = await make_member(accounts)
    await known_to_edge(http, helper)
    await known_to_edge(http, owner)
    assert await _submit(http, helper, channel.id) == 404  # not a member: the channel is unknown
    path = f"/api/v2/channels/{channel.id}/members/{helper.user_id}"
    granted = await http.request("PUT", path, json_body={"role": "editor"}, headers=owner.auth)
    assert granted.code == 200, granted.body
    assert body_json(granted)["role"] == "editor"

    async def can_submit() -> bool:
        return await _submit(http, helper, channel.id) == 201

    await eventually(can_submit, what="the new editor's right to submit")
    # An editor may not manage members; the owner may remove them.
    response = await http.request("PUT", path, json_body={"role": "owner"}, headers=helper.auth)
    assert_json_error(response, 403, "forbidden")
    assert (await http.request("DELETE", path, headers=owner.auth)).code == 204

    async def cannot_submit() -> bool:
        return await _submit(http, helper, channel.id) == 404

    await eventually(cannot_submit, timeout=5, what="the removed member losing its rights")
    response = await http.request("DELETE", path, headers=owner.auth)
    assert_json_error(response, 404)
    unknown_user = f"/api/v2/channels/{channel.id}/members/u_{'0' * 32}"
    response = await http.request(
        "PUT", unknown_user, json_body={"role": "viewer"}, headers=owner.auth
    )
    assert_json_error(response, 404)
    response = await http.request("PUT", path, json_body={"role": "pope"}, headers=owner.auth)
    assert_json_error(response, 422)


async def test_an_admin_creates_users_and_channels(http: Http, anonymous: Http) -> None:
    email = f"media-{uuid.uuid4().hex[:8]}@example.org"
    created = await http.send("POST", "/api/v2/users", {"email": email})
    assert created.code == 201, created.body
    body = body_json(created)
    assert body["user"]["email"] == email and len(body["password"]) >= 16
    await sign_in(anonymous, email, body["password"])
    again = await http.send("POST", "/api/v2/users", {"email": email.upper()})
    assert_json_error(again, 409, "email_taken")
    chosen = f"igreja-{uuid.uuid4().hex[:6]}"
    channel = await http.send("POST", "/api/v2/channels", {"name": "Igreja", "id": chosen})
    assert channel.code == 201 and body_json(channel)["visibility"] == "private"
    taken = await http.send("POST", "/api/v2/channels", {"name": "Outra", "id": chosen})
    assert_json_error(taken, 409, "channel_exists")
    # A signed-in user who is not an admin may not.
    response = await anonymous.send("POST", "/api/v2/channels", {"name": "Minha"})
    assert_json_error(response, 403, "forbidden")


async def test_lists_count_and_page_only_readable_videos(http: Http, accounts: Accounts) -> None:
    mine = await accounts.add_channel("Minha", Visibility.PRIVATE)
    theirs = await accounts.add_channel("Deles", Visibility.PRIVATE)
    viewer = await make_member(accounts, roles={mine.id: ChannelRole.VIEWER})
    await known_to_edge(http, viewer)
    for channel in (mine.id, theirs.id, mine.id, theirs.id, mine.id):
        assert (await http.send("POST", "/api/v2/videos/", _sermon(channel))).code == 201
    everything = body_json(
        await http.request("GET", "/api/v2/videos/?limit=200", headers=viewer.auth, cookies=False)
    )
    channels = [v["channel_id"] for v in everything["items"]]
    assert theirs.id not in channels and channels.count(mine.id) == 3
    seen: list[str] = []
    cursor = ""
    while True:
        page = body_json(
            await http.request(
                "GET",
                f"/api/v2/videos/?channel_id={mine.id}&limit=2{cursor}",
                headers=viewer.auth,
                cookies=False,
            )
        )
        assert page["total"] == 3
        seen += [v["id"] for v in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == 3
    response = await http.request(
        "GET", f"/api/v2/videos/?channel_id={theirs.id}", headers=viewer.auth, cookies=False
    )
    assert_json_error(response, 404)


@pytest.mark.timeout(60)
async def test_an_owner_turns_a_channel_private_and_open_streams_follow(
    http: Http, anonymous: Http, accounts: Accounts, edge: RunningServer
) -> None:
    church = await accounts.add_channel("Igreja Aberta", Visibility.PUBLIC)
    owner = await make_member(accounts, roles={church.id: ChannelRole.OWNER})
    viewer = await make_member(accounts, roles={church.id: ChannelRole.VIEWER})
    await known_to_edge(http, owner)
    await known_to_edge(http, viewer)
    created = await http.request(
        "POST", "/api/v2/videos/", json_body=_sermon(church.id), headers=owner.auth
    )
    video = body_json(created)["id"]
    stream = await SSEClient.open(edge.port, query=[("video_id", video)])
    assert await stream.collect(1)  # the current state: the channel is public
    path = f"/api/v2/channels/{church.id}"
    assert_json_error(await anonymous.send("PATCH", path, {"visibility": "private"}), 401)
    refused = await http.request(
        "PATCH", path, json_body={"visibility": "private"}, headers=viewer.auth, cookies=False
    )
    assert_json_error(refused, 403)
    changed = await http.request(
        "PATCH",
        path,
        json_body={"visibility": "private", "name": "Igreja Fechada"},
        headers=owner.auth,
        cookies=False,
    )
    assert changed.code == 200
    assert body_json(changed)["visibility"] == "private"
    assert body_json(changed)["name"] == "Igreja Fechada"
    assert await stream.collect(1, timeout=5) == [] and stream.ended  # it may not read it now
    assert_json_error(await anonymous.request("GET", f"/api/v2/videos/{video}"), 401)
    await stream.close()
    bad = await http.request(
        "PATCH", path, json_body={"visibility": "secret"}, headers=owner.auth, cookies=False
    )
    assert_json_error(bad, 422)
