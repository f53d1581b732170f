"""Sign-in, sessions, tokens and the session-bound XSRF token, against real servers."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from access.credentials import session_key, split_token
from culto.errors import Unauthenticated
from frontend_server.security.auth import SESSION_COOKIE
from mesh.connection import MeshConnection
from mesh.identity.client import IdentityClient
from ops.server import RunningServer
from schemas.identity import ChannelRole, Visibility
from services.identity.accounts import Accounts
from tests.support import (
    PASSWORD,
    Http,
    StartEdge,
    assert_json_error,
    body_json,
    eventually,
    known_to_edge,
    make_member,
    sign_in,
)

pytestmark = pytest.mark.timeout(60)


async def test_sign_in_sets_a_hardened_session_cookie_and_me_answers(
    anonymous: Http, accounts: Accounts
) -> None:
    member = await make_member(accounts)
    response = await anonymous.send(
        "POST", "/api/v2/auth/login", {"email": member.email.upper(), "password": PASSWORD}
    )
    assert response.code == 204, response.body
    (cookie,) = [c for c in response.headers.get_list("Set-Cookie") if c.startswith("culto_")]
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "secure" not in attributes  # plain HTTP (culto up on localhost)
    raw = cookie.split(";", 1)[0].split("=", 1)[1]
    assert member.email not in raw and member.user_id not in raw
    # Answered only once this replica knows the session: the very next request is signed in.
    body = body_json(await anonymous.request("GET", "/api/v2/auth/me"))
    assert body["user"]["email"] == member.email and "password_hash" not in body["user"]
    assert body["channels"] == []


async def test_session_cookie_is_secure_behind_a_trusted_https_proxy(
    start_edge: StartEdge, accounts: Accounts, identity_service: object, api_service: object
) -> None:
    member = await make_member(accounts)
    server = await start_edge(trusted_proxies=("127.0.0.1",))
    client = Http(server.url)
    https = {"X-Forwarded-Proto": "https"}
    try:
        body = {"email": member.email, "password": PASSWORD}
        response = await client.send("POST", "/api/v2/auth/login", body, headers=https)
        assert response.code == 204, response.body
        cookie = next(c for c in response.headers.get_list("Set-Cookie") if "culto_" in c)
        assert "secure" in [a.strip().lower() for a in cookie.split(";")]
    finally:
        client.close()


async def test_a_failed_sign_in_says_nothing_about_the_email(
    anonymous: Http, accounts: Accounts
) -> None:
    member = await make_member(accounts)
    timings = {}
    bodies = {}
    for name, email in (("known", member.email), ("unknown", "nobody-here@example.org")):
        started = time.monotonic()
        response = await anonymous.send(
            "POST", "/api/v2/auth/login", {"email": email, "password": "wrong password!"}
        )
        timings[name] = time.monotonic() - started
        bodies[name] = assert_json_error(response, 401, "login_failed")
    assert bodies["known"] == bodies["unknown"]
    # Both run the KDF (an unknown email is checked against a dummy hash): the unknown one is
    # not answered in a fraction of the time. Generous bound: scheduling noise only.
    assert timings["unknown"] > 0.3 * timings["known"], timings


async def test_sign_in_attempts_are_limited_per_account(
    start_edge: StartEdge, accounts: Accounts, identity_service: object, api_service: object
) -> None:
    member = await make_member(accounts)
    server = await start_edge(logins_per_minute=2)
    client = Http(server.url)
    try:
        wrong = {"email": member.email, "password": "not it at all"}
        codes = [(await client.send("POST", "/api/v2/auth/login", wrong)).code for _ in range(4)]
        assert codes[:2] == [401, 401] and codes[-1] == 429, codes
        response = await client.send("POST", "/api/v2/auth/login", wrong)
        assert_json_error(response, 429, "too_many_logins")
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        client.close()


async def test_forged_cookies_and_xsrf_pairs_are_refused(
    anonymous: Http, http: Http, accounts: Accounts
) -> None:
    # A made-up session cookie is no session at all.
    forged = {"Cookie": f"{SESSION_COOKIE}=2|1:0|10:1700000000|13:culto_session|4:YWJj|00"}
    assert (await anonymous.request("GET", "/api/v2/auth/me", headers=forged)).code == 401
    # A signed cookie with its payload changed fails its signature.
    value = http.cookies[SESSION_COOKIE]
    tampered = value[:-3] + ("000" if not value.endswith("000") else "111")
    cookie = {"Cookie": f"{SESSION_COOKIE}={tampered}"}
    assert (await anonymous.request("GET", "/api/v2/auth/me", headers=cookie)).code == 401
    # A made-up _xsrf cookie with a matching header: refused (the token is an HMAC).
    pair = {"Cookie": "_xsrf=attacker", "X-XSRFToken": "attacker"}
    body = {"title": "x", "transcript": {"content": "Leiam João 3:16."}}
    response = await anonymous.request("POST", "/api/v2/videos/", json_body=body, headers=pair)
    assert_json_error(response, 403, "xsrf_failed")
    # A token from another browser (or from before sign-in) does not fit this session.
    foreign = await anonymous.csrf()
    headers = {"X-XSRFToken": foreign}
    response = await http.request("POST", "/api/v2/videos/", json_body=body, headers=headers)
    assert_json_error(response, 403, "xsrf_failed")


async def test_tokens_in_query_strings_are_refused(http: Http, accounts: Accounts) -> None:
    member = await make_member(accounts)
    await known_to_edge(http, member)
    for path in (
        f"/api/v2/videos/?access_token={member.token}",
        f"/api/v2/videos/?q={member.token}",
        "/api/v2/auth/me?access_token=anything",
    ):
        response = await http.request("GET", path, cookies=False)
        err = assert_json_error(response, 400, "token_in_query")
        assert "Authorization: Bearer" in err["message"]
        assert member.token not in response.body.decode()


async def test_a_bearer_token_needs_no_xsrf_and_a_bad_one_is_401(
    http: Http, accounts: Accounts
) -> None:
    admin = await make_member(accounts, admin=True)
    await known_to_edge(http, admin)
    body = {"title": "Bearer", "transcript": {"content": "Leiam João 3:16."}}
    response = await http.request(
        "POST", "/api/v2/videos/", json_body=body, headers=admin.auth, cookies=False
    )
    assert response.code == 201, response.body
    for header in ("Bearer culto_t_0123456789abcdef_nope", "Basic dXNlcjpwYXNz", "Bearer "):
        response = await http.request(
            "GET", "/api/v2/videos/", headers={"Authorization": header}, cookies=False
        )
        assert_json_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_sign_out_ends_the_session_on_every_replica(
    start_edge: StartEdge, http: Http, accounts: Accounts
) -> None:
    member = await make_member(accounts)
    first = Http(http.base_url)
    await sign_in(first, member.email, PASSWORD)
    other = await start_edge()
    second = Http(other.url)
    second.cookies.update(first.cookies)  # the same browser, routed to another replica
    try:
        assert (await second.request("GET", "/api/v2/auth/me")).code == 200
        assert (await first.send("POST", "/api/v2/auth/logout")).code == 204
        assert first.cookies.get(SESSION_COOKIE) in ("", '""', None)
        first.cookies[SESSION_COOKIE] = second.cookies[SESSION_COOKIE]  # a stale tab replays it
        assert (await first.request("GET", "/api/v2/auth/me")).code == 401  # at once, here

        async def refused() -> bool:
            return (await second.request("GET", "/api/v2/auth/me")).code == 401

        started = time.monotonic()
        await eventually(refused, timeout=5, what="the other replica refusing the session")
        assert time.monotonic() - started < 5
    finally:
        first.close()
        second.close()


async def test_a_one_time_link_signs_in_once(anonymous: Http, accounts: Accounts) -> None:
    member = await make_member(accounts)
    secret = await accounts.once_link(member.user_id)
    response = await anonymous.send("POST", "/api/v2/auth/login", {"once": secret})
    assert response.code == 204, response.body
    again = Http(anonymous.base_url)
    try:
        response = await again.send("POST", "/api/v2/auth/login", {"once": secret})
        assert_json_error(response, 401, "login_failed")
    finally:
        again.close()
    # The secret itself never became a session.
    assert await accounts.store.session(session_key(secret)) is None


async def test_tokens_are_shown_once_listed_without_secrets_and_revocable(
    http: Http, accounts: Accounts, edge: RunningServer, mesh: MeshConnection
) -> None:
    created = await http.send("POST", "/api/v2/tokens", {"name": "ci", "scope": "read"})
    assert created.code == 201, created.body
    token = body_json(created)
    assert token["token"].startswith("culto_t_") and token["scope"] == "read"
    auth = {"Authorization": f"Bearer {token['token']}"}

    async def accepted() -> bool:
        response = await http.request("GET", "/api/v2/videos/", headers=auth, cookies=False)
        return response.code == 200

    await eventually(accepted, what="the edge accepting the new token")
    listed = body_json(await http.request("GET", "/api/v2/tokens"))
    mine = [t for t in listed if t["id"] == token["id"]]
    assert mine and "token" not in mine[0] and "secret_hash" not in mine[0]
    assert token["token"] not in str(listed)
    # The edge reports use in batches (last_used_at); one report, by hand.
    authenticator = edge.app.settings["authenticator"]
    await IdentityClient(mesh).touch(authenticator.take_usage())
    stored = await accounts.store.token(token["id"])
    assert stored is not None and stored.last_used_at is not None
    assert (await http.send("DELETE", f"/api/v2/tokens/{token['id']}")).code == 204

    async def refused() -> bool:
        response = await http.request("GET", "/api/v2/videos/", headers=auth, cookies=False)
        return response.code == 401

    await eventually(refused, timeout=5, what="the revoked token refused")


async def test_an_expired_token_is_401(http: Http, accounts: Accounts) -> None:
    member = await make_member(accounts, expires_in=timedelta(seconds=1))
    await known_to_edge(http, member)

    async def expired() -> bool:
        response = await http.request("GET", "/api/v2/auth/me", headers=member.auth)
        return response.code == 401 and b"token_expired" in response.body

    await eventually(expired, timeout=5, what="the token to expire")
    assert split_token(member.token) is not None


async def test_a_token_cannot_mint_a_wider_or_longer_lived_token(
    http: Http, accounts: Accounts
) -> None:
    channel = (await accounts.add_channel("Mint", Visibility.PRIVATE)).id
    bound = await make_member(
        accounts, roles={channel: ChannelRole.OWNER}, channel=channel, expires_in=timedelta(days=1)
    )
    await known_to_edge(http, bound)
    for body in (
        {"scope": "read"},  # unbound
        {"scope": "read", "channel_id": channel},  # never expires
        {"scope": "read", "channel_id": channel, "expires_in_days": 30},  # outlives it
    ):
        response = await http.request("POST", "/api/v2/tokens", json_body=body, headers=bound.auth)
        assert_json_error(response, 403, "forbidden")
    ok = {"scope": "read", "channel_id": channel, "expires_in_days": 0.5}
    response = await http.request("POST", "/api/v2/tokens", json_body=ok, headers=bound.auth)
    assert response.code == 201, response.body


async def test_a_one_time_link_opens_one_session_even_when_raced(accounts: Accounts) -> None:
    member = await make_member(accounts)
    secret = await accounts.once_link(member.user_id)
    results = await asyncio.gather(
        *(accounts.login_once(secret) for _ in range(5)), return_exceptions=True
    )
    opened = [r for r in results if not isinstance(r, BaseException)]
    assert len(opened) == 1, results
    assert all(isinstance(r, Unauthenticated) for r in results if r not in opened), results
