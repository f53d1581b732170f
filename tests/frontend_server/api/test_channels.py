"""One channel over HTTP: read, rename, change visibility; its members listed and added by
email; the admin's list of users. Who may do what follows access/policy.py."""

from __future__ import annotations

import pytest

from schemas.identity import ChannelRole, Visibility
from services.identity.accounts import Accounts
from tests.support import (
    Http,
    assert_json_error,
    body_json,
    eventually,
    known_to_edge,
    make_member,
)

pytestmark = pytest.mark.timeout(60)


async def test_owners_rename_a_channel_and_change_who_may_read_it(
    http: Http, anonymous: Http, accounts: Accounts
) -> None:
    channel = await accounts.add_channel("Jovens", Visibility.PRIVATE)
    owner = await make_member(accounts, roles={channel.id: ChannelRole.OWNER})
    editor = await make_member(accounts, roles={channel.id: ChannelRole.EDITOR})
    outsider = await make_member(accounts)
    for member in (owner, editor, outsider):
        await known_to_edge(http, member)
    path = f"/api/v2/channels/{channel.id}"

    async def call(method: str, who: dict[str, str], body: object = None) -> tuple[int, object]:
        response = await http.request(method, path, json_body=body, headers=who, cookies=False)
        return response.code, body_json(response)

    assert (await call("GET", editor.auth))[0] == 200
    assert (await call("GET", outsider.auth))[0] == 404  # private: not revealed
    assert_json_error(await anonymous.request("GET", path), 401)
    code, changed = await call(
        "PATCH", owner.auth, {"name": " Jovens em Cristo ", "visibility": "public"}
    )
    assert code == 200 and changed == {
        **changed,
        "name": "Jovens em Cristo",
        "visibility": "public",
    }
    # Public now: anyone reads it, and the edge answers from what was just written.
    assert body_json(await anonymous.request("GET", path))["name"] == "Jovens em Cristo"
    listed = body_json(await anonymous.request("GET", "/api/v2/channels"))
    assert channel.id in {c["id"] for c in listed}
    # Editors and outsiders may not; bad bodies are 422 naming the problem.
    assert (await call("PATCH", editor.auth, {"name": "Meu"}))[0] == 403
    assert (await call("PATCH", outsider.auth, {"name": "Meu"}))[0] == 403  # public: known
    for bad in ({}, {"name": "   "}, {"visibility": "secret"}, {"name": "x", "color": "red"}):
        response = await http.request(
            "PATCH", path, json_body=bad, headers=owner.auth, cookies=False
        )
        assert_json_error(response, 422)
    assert (await http.send("PATCH", path, {"visibility": "private"})).code == 200  # an admin
    assert_json_error(await anonymous.request("GET", path), 401)
    unknown = await http.send("PATCH", "/api/v2/channels/no-such-channel", {"name": "x"})
    assert_json_error(unknown, 404)


async def test_owners_list_members_and_add_them_by_email(http: Http, accounts: Accounts) -> None:
    channel = await accounts.add_channel("Conselho", Visibility.PRIVATE)
    owner = await make_member(accounts, roles={channel.id: ChannelRole.OWNER})
    viewer = await make_member(accounts, roles={channel.id: ChannelRole.VIEWER})
    newcomer = await make_member(accounts)
    for member in (owner, viewer, newcomer):
        await known_to_edge(http, member)
    path = f"/api/v2/channels/{channel.id}/members"

    listed = body_json(await http.request("GET", path, headers=owner.auth, cookies=False))
    assert listed == [
        {"user_id": owner.user_id, "email": owner.email, "role": "owner"},
        {"user_id": viewer.user_id, "email": viewer.email, "role": "viewer"},
    ]
    response = await http.request("GET", path, headers=viewer.auth, cookies=False)
    assert_json_error(response, 403, "forbidden")
    add = {"email": newcomer.email.upper(), "role": "editor"}
    added = await http.request("POST", path, json_body=add, headers=owner.auth, cookies=False)
    assert added.code == 200, added.body
    assert body_json(added) == {
        "user_id": newcomer.user_id,
        "email": newcomer.email,
        "role": "editor",
    }
    listed = body_json(await http.request("GET", path, headers=owner.auth, cookies=False))
    assert [m["role"] for m in listed] == ["owner", "editor", "viewer"]  # owners first

    async def may_submit() -> bool:
        me = body_json(await http.request("GET", "/api/v2/auth/me", headers=newcomer.auth))
        return {"id": channel.id, "role": "editor"}.items() <= next(
            (c for c in me["channels"] if c["id"] == channel.id), {}
        ).items()

    await eventually(may_submit, what="the newcomer's role")
    ghost = {"email": "ghost@example.org", "role": "viewer"}
    response = await http.request("POST", path, json_body=ghost, headers=owner.auth, cookies=False)
    assert_json_error(response, 404, "user_not_found")
    bad = {"email": newcomer.email, "role": "pope"}
    response = await http.request("POST", path, json_body=bad, headers=owner.auth, cookies=False)
    assert_json_error(response, 422)
    response = await http.request("POST", path, json_body=add, headers=viewer.auth, cookies=False)
    assert_json_error(response, 403, "forbidden")


async def test_admins_list_every_user_with_its_channels(http: Http, accounts: Accounts) -> None:
    channel = await accounts.add_channel("Coral", Visibility.PUBLIC)
    singer = await make_member(accounts, roles={channel.id: ChannelRole.EDITOR})
    await known_to_edge(http, singer)
    users = body_json(await http.request("GET", "/api/v2/users"))
    emails = [u["email"] for u in users]
    assert emails == sorted(emails)
    (entry,) = [u for u in users if u["id"] == singer.user_id]
    assert entry["channels"] == [
        {"id": channel.id, "name": "Coral", "role": "editor", "visibility": "public"}
    ]
    assert "password_hash" not in entry and "password_set_at" not in entry
    response = await http.request("GET", "/api/v2/users", headers=singer.auth, cookies=False)
    assert_json_error(response, 403, "forbidden")
