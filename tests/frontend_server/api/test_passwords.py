"""Passwords over HTTP: one's own change (current password, or a one-time link's hour), an
admin's reset, and the sessions each ends."""

from __future__ import annotations

import pytest

from ops.server import RunningServer
from services.identity.accounts import Accounts
from tests.support import (
    PASSWORD,
    Http,
    assert_json_error,
    body_json,
    eventually,
    make_member,
    sign_in,
)

pytestmark = pytest.mark.timeout(60)

PATH = "/api/v2/auth/password"


async def _signed_out(client: Http) -> None:
    async def gone() -> bool:
        return (await client.request("GET", "/api/v2/auth/me")).code == 401

    await eventually(gone, timeout=5, what="the other session ending")


async def test_changing_ones_password_needs_the_current_one_and_ends_other_sessions(
    edge: RunningServer, accounts: Accounts
) -> None:
    member = await make_member(accounts)
    here, elsewhere = Http(edge.url), Http(edge.url)
    try:
        await sign_in(here, member.email, PASSWORD)
        await sign_in(elsewhere, member.email, PASSWORD)
        me = body_json(await here.request("GET", "/api/v2/auth/me"))
        assert me["set_password_until"] is None  # signed in with a password: no link window
        response = await here.send("POST", PATH, {"new_password": "a brand new passphrase"})
        err = assert_json_error(response, 422, "wrong_password")
        assert err["details"]["errors"][0]["field"] == "current_password"
        wrong = {"current_password": "not it at all", "new_password": "a brand new passphrase"}
        err = assert_json_error(await here.send("POST", PATH, wrong), 422, "wrong_password")
        assert err["details"]["errors"][0]["field"] == "current_password"
        short = {"current_password": PASSWORD, "new_password": "short"}
        assert_json_error(await here.send("POST", PATH, short), 422)
        right = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
        assert (await here.send("POST", PATH, right)).code == 204
        await _signed_out(elsewhere)
        assert (await here.request("GET", "/api/v2/auth/me")).code == 200  # this one stays
        again = Http(edge.url)
        try:
            old = {"email": member.email, "password": PASSWORD}
            assert_json_error(await again.send("POST", "/api/v2/auth/login", old), 401)
            await sign_in(again, member.email, "a brand new passphrase")
        finally:
            again.close()
        # The member's API token still works: tokens are revoked on their own.
        response = await here.request("GET", "/api/v2/auth/me", headers=member.auth, cookies=False)
        assert response.code == 200
    finally:
        here.close()
        elsewhere.close()


async def test_after_a_one_time_link_a_password_is_set_without_the_current_one(
    edge: RunningServer, accounts: Accounts, anonymous: Http
) -> None:
    member = await make_member(accounts)
    secret = await accounts.once_link(member.user_id)
    response = await anonymous.send("POST", "/api/v2/auth/login", {"once": secret})
    assert response.code == 204

    async def known() -> bool:
        return (await anonymous.request("GET", "/api/v2/auth/me")).code == 200

    await eventually(known, what="the link's session")
    me = body_json(await anonymous.request("GET", "/api/v2/auth/me"))
    assert me["set_password_until"] is not None
    chosen = {"new_password": "chosen after the link"}
    assert (await anonymous.send("POST", PATH, chosen)).code == 204
    # Set once: from now on this session needs the current password like any other.
    me = body_json(await anonymous.request("GET", "/api/v2/auth/me"))
    assert me["set_password_until"] is None
    again = await anonymous.send("POST", PATH, {"new_password": "and once more please"})
    assert_json_error(again, 422, "wrong_password")
    fresh = Http(edge.url)
    try:
        await sign_in(fresh, member.email, "chosen after the link")
    finally:
        fresh.close()


async def test_an_admin_resets_a_password_and_the_users_sessions_end(
    http: Http, edge: RunningServer, accounts: Accounts
) -> None:
    member = await make_member(accounts)
    theirs = Http(edge.url)
    try:
        await sign_in(theirs, member.email, PASSWORD)
        path = f"/api/v2/users/{member.user_id}/password"
        done = await http.send("PUT", path, {})
        assert done.code == 200, done.body
        body = body_json(done)
        assert body["user"]["id"] == member.user_id and len(body["password"]) >= 16
        await _signed_out(theirs)
        await sign_in(theirs, member.email, body["password"])
        chosen = await http.send("PUT", path, {"password": "set by the admin"})
        assert body_json(chosen)["password"] is None
        await _signed_out(theirs)
        # Only admins; unknown and malformed ids.
        response = await http.request("PUT", path, json_body={}, headers=member.auth, cookies=False)
        assert_json_error(response, 403, "forbidden")
        unknown = f"/api/v2/users/u_{'0' * 32}/password"
        assert_json_error(await http.send("PUT", unknown, {}), 404)
        assert_json_error(await http.send("PUT", "/api/v2/users/nobody/password", {}), 400)
        assert_json_error(await http.send("PUT", path, {"password": "short"}), 422)
    finally:
        theirs.close()
