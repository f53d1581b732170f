"""The authorization matrix: every kind of caller, on every route, for every kind of channel.

Expected statuses come from the policy table alone (``access.policy.decide`` on a principal the
test builds from what it granted), and every cell is checked over HTTP against a real frontend,
the real API and identity services and a real nats-server. A mismatch names its cell.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from tornado.httpclient import HTTPResponse

from access.credentials import split_token
from access.policy import Action, ChannelView, Decision, Principal, decide
from schemas.identity import ChannelRole, TokenScope, Visibility
from services.identity.accounts import Accounts
from tests.support import (
    PASSWORD,
    Http,
    Member,
    StartEdge,
    body_json,
    eventually,
    known_to_edge,
    make_member,
    sign_in,
)

pytestmark = pytest.mark.timeout(120)

KINDS = ("public", "private", "other")
"""public and private: channels the users of the matrix have their roles in; other: a private
channel where they have none."""


@dataclass
class Caller:
    """One row of the matrix: how it authenticates and what the policy should think of it."""

    name: str
    principal: Principal | None
    """``None``: credentials that must be refused (expired, revoked) → always 401."""
    member: Member | None = None
    http: Http | None = None
    """A signed-in browser client (session + XSRF) instead of a token."""

    @property
    def headers(self) -> dict[str, str]:
        return self.member.auth if self.member is not None else {}


@dataclass
class World:
    channels: dict[str, str]
    views: dict[str, ChannelView]
    callers: list[Caller]
    admin: dict[str, str]
    target_user: str
    target_email: str


async def _token_caller(
    accounts: Accounts, name: str, roles: dict[str, ChannelRole], **kwargs: Any
) -> Caller:
    member = await make_member(accounts, roles=roles, **kwargs)
    principal = Principal(
        user_id=member.user_id,
        admin=kwargs.get("admin", False),
        roles=roles,
        scope=kwargs.get("scope", TokenScope.ADMIN),
        token_channel=kwargs.get("channel"),
    )
    return Caller(name, principal, member)


async def _callers(accounts: Accounts, url: str, channels: dict[str, str]) -> list[Caller]:
    def both(role: ChannelRole) -> dict[str, ChannelRole]:
        return {channels["public"]: role, channels["private"]: role}

    callers = [Caller("anonymous", Principal())]
    for role in ChannelRole:
        callers.append(await _token_caller(accounts, f"{role.value} (token)", both(role)))
    callers.append(await _token_caller(accounts, "admin", {}, admin=True))
    editor = both(ChannelRole.EDITOR)
    for scope in (TokenScope.READ, TokenScope.WRITE, TokenScope.PUBLISH):
        name = f"editor's {scope.value} token"
        callers.append(await _token_caller(accounts, name, editor, scope=scope))
    callers.append(
        await _token_caller(
            accounts,
            "editor's write token bound to the public channel",
            editor,
            scope=TokenScope.WRITE,
            channel=channels["public"],
        )
    )
    # A browser session of an editor: cookie + session-bound XSRF token.
    member = await make_member(accounts, roles=editor)
    browser = Http(url)
    await sign_in(browser, member.email, PASSWORD)
    session = Principal(user_id=member.user_id, roles=editor, scope=None, credential="session")
    callers.append(Caller("editor (browser session)", session, http=browser))
    return callers


async def _refused_callers(accounts: Accounts, http: Http) -> list[Caller]:
    """Credentials the edge must refuse, whatever they once allowed."""
    expired = await make_member(accounts, admin=True, expires_in=timedelta(milliseconds=1))
    revoked = await make_member(accounts, admin=True)
    await known_to_edge(http, revoked)
    parts = split_token(revoked.token)
    assert parts is not None
    await accounts.revoke_token(parts[0])

    async def refused() -> bool:
        response = await http.request("GET", "/api/v2/auth/me", headers=revoked.auth)
        return response.code == 401

    await eventually(refused, what="the edge refusing the revoked token")
    return [
        Caller("expired admin token", None, expired),
        Caller("revoked admin token", None, revoked),
    ]


@pytest.fixture
def matrix_edge(io_loop: Any, start_edge: StartEdge, http: Http) -> Http:
    """A frontend whose rate limits stay out of the way (hundreds of requests per caller),
    and the admin browser session of ``http`` on it."""
    server = io_loop.run_sync(
        lambda: start_edge(
            rate_limit_per_minute=10**6,
            rate_limit_burst=10**6,
            logins_per_minute=10_000,
            max_connections_per_second=10**6,
        )
    )
    client = Http(server.url)
    client.cookies.update(http.cookies)
    return client


@pytest.fixture
def world(io_loop: Any, matrix_edge: Http, accounts: Accounts) -> World:
    async def build() -> World:
        channels = {}
        for kind in KINDS:
            visibility = Visibility.PUBLIC if kind == "public" else Visibility.PRIVATE
            channels[kind] = (await accounts.add_channel(f"Matrix {kind}", visibility)).id
        views = {k: ChannelView(v, k == "public") for k, v in channels.items()}
        callers = await _callers(accounts, matrix_edge.base_url, channels)
        callers += await _refused_callers(accounts, matrix_edge)
        admin = await make_member(accounts, admin=True)
        target = await make_member(accounts)
        for member in [admin, *(c.member for c in callers if c.principal and c.member)]:
            assert member is not None
            await known_to_edge(matrix_edge, member)
        return World(channels, views, callers, admin.auth, target.user_id, target.email)

    return io_loop.run_sync(build)  # type: ignore[no-any-return]


# -- the routes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One route: the action it performs, its success status, and how to prepare a request."""

    name: str
    action: Action
    ok: int
    method: str
    channel_bound: bool
    prepare: Callable[[World, str, Http], Awaitable[tuple[str, Any]]]
    """(world, channel kind, admin http) → (path, JSON body or None)."""
    not_found: int = 404
    bearer_only: bool = False
    """Only an API token is a credential here (a browser session gets 401)."""


def _transcript(channel_id: str) -> dict[str, Any]:
    return {
        "title": f"Matrix {uuid.uuid4().hex[:6]}",
        "channel_id": channel_id,
        "transcript": {"format": "txt", "content": "Leiam Romanos 8:28 comigo."},
    }


async def _video(world: World, kind: str, http: Http) -> str:
    response = await http.request(
        "POST",
        "/api/v2/videos/",
        json_body=_transcript(world.channels[kind]),
        headers=world.admin,
    )
    assert response.code == 201, response.body
    return str(body_json(response)["id"])


async def _list(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return f"/api/v2/videos/?channel_id={world.channels[kind]}", None


async def _get(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return f"/api/v2/videos/{await _video(world, kind, http)}", None


async def _submit(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return "/api/v2/videos/", _transcript(world.channels[kind])


async def _publish(world: World, kind: str, http: Http) -> tuple[str, Any]:
    video = await _video(world, kind, http)
    event = {"type": "video.status", "video_id": video, "status": "PROCESSING", "progress": 10}
    return "/api/v2/events/publish", event


async def _member(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return f"/api/v2/channels/{world.channels[kind]}/members/{world.target_user}", {
        "role": "viewer"
    }


async def _channel(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return f"/api/v2/channels/{world.channels[kind]}", None


async def _rename(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return f"/api/v2/channels/{world.channels[kind]}", {
        "name": f"Matrix {kind} {uuid.uuid4().hex[:4]}"
    }


async def _members(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return f"/api/v2/channels/{world.channels[kind]}/members", None


async def _add_member(world: World, kind: str, http: Http) -> tuple[str, Any]:
    body = {"email": world.target_email, "role": "viewer"}
    return f"/api/v2/channels/{world.channels[kind]}/members", body


async def _reset(world: World, kind: str, http: Http) -> tuple[str, Any]:
    return f"/api/v2/users/{world.target_user}/password", {"password": PASSWORD}


def _global(
    path: str, body: Callable[[], Any] | None = None
) -> Callable[[World, str, Http], Awaitable[tuple[str, Any]]]:
    async def prepare(world: World, kind: str, http: Http) -> tuple[str, Any]:
        return path, body() if body else None

    return prepare


ROUTES: list[Route] = [
    Route("list videos of a channel", Action.READ, 200, "GET", True, _list),
    Route("get a video", Action.READ, 200, "GET", True, _get),
    Route("submit a video", Action.SUBMIT, 201, "POST", True, _submit),
    Route("delete a video", Action.DELETE, 204, "DELETE", True, _get),
    Route(
        "publish an event",
        Action.PUBLISH,
        202,
        "POST",
        True,
        _publish,
        not_found=422,
        bearer_only=True,
    ),
    Route("grant a role", Action.MANAGE_MEMBERS, 200, "PUT", True, _member),
    Route("read a channel", Action.READ, 200, "GET", True, _channel),
    Route("rename a channel", Action.MANAGE_CHANNEL, 200, "PATCH", True, _rename),
    Route("list members", Action.LIST_MEMBERS, 200, "GET", True, _members),
    Route("add a member by email", Action.MANAGE_MEMBERS, 200, "POST", True, _add_member),
]


GLOBAL_ROUTES: list[Route] = [
    Route("me", Action.LIST_CHANNELS, 200, "GET", False, _global("/api/v2/auth/me")),
    Route("list tokens", Action.MANAGE_TOKENS, 200, "GET", False, _global("/api/v2/tokens")),
    Route(
        "create a token",
        Action.MANAGE_TOKENS,
        201,
        "POST",
        False,
        _global("/api/v2/tokens", lambda: {"scope": "read"}),
    ),
    Route(
        "create a channel",
        Action.CREATE_CHANNEL,
        201,
        "POST",
        False,
        _global("/api/v2/channels", lambda: {"name": f"C {uuid.uuid4().hex[:6]}"}),
    ),
    Route(
        "create a user",
        Action.CREATE_USER,
        201,
        "POST",
        False,
        _global("/api/v2/users", lambda: {"email": f"m-{uuid.uuid4().hex[:10]}@example.org"}),
    ),
    Route("list users", Action.LIST_USERS, 200, "GET", False, _global("/api/v2/users")),
    Route("reset a password", Action.RESET_PASSWORD, 200, "PUT", False, _reset),
    Route(
        "change one's password",
        Action.CHANGE_PASSWORD,
        204,
        "POST",
        False,
        _global(
            "/api/v2/auth/password",
            lambda: {"current_password": PASSWORD, "new_password": PASSWORD},
        ),
    ),
]


def _expected(route: Route, caller: Caller, view: ChannelView | None) -> int:
    if caller.principal is None or (route.bearer_only and caller.http is not None):
        return 401
    decision = decide(caller.principal, route.action, view)
    return {
        Decision.ALLOW: route.ok,
        Decision.UNAUTHENTICATED: 401,
        Decision.NOT_FOUND: route.not_found,
        Decision.FORBIDDEN: 403,
    }[decision]


async def _send(caller: Caller, edge_http: Http, method: str, path: str, body: Any) -> HTTPResponse:
    if caller.http is not None:
        if method in ("GET", "HEAD"):
            return await caller.http.request(method, path)
        return await caller.http.send(method, path, body)
    if method in ("GET", "HEAD") or caller.headers:
        return await edge_http.request(
            method, path, json_body=body, headers=caller.headers, cookies=False
        )
    anonymous = Http(edge_http.base_url)  # XSRF passes: what is tested is the policy
    try:
        return await anonymous.send(method, path, body)
    finally:
        anonymous.close()


async def test_every_caller_on_every_route_gets_what_the_policy_says(
    world: World, matrix_edge: Http
) -> None:
    http = matrix_edge
    mismatches: list[str] = []
    checked = 0
    seen: Counter[int] = Counter()
    for route in [*ROUTES, *GLOBAL_ROUTES]:
        kinds = KINDS if route.channel_bound else ("-",)
        for kind in kinds:
            view = world.views.get(kind)
            for caller in world.callers:
                path, body = await route.prepare(world, kind, http)
                response = await _send(caller, http, route.method, path, body)
                expected = _expected(route, caller, view)
                checked += 1
                seen[response.code] += 1
                if response.code != expected:
                    mismatches.append(
                        f"{route.name} [{kind}] as {caller.name}: {response.code}, expected"
                        f" {expected}: {response.body[:160]!r}"
                    )
    assert not mismatches, f"{len(mismatches)} of {checked} cells differ:\n" + "\n".join(mismatches)
    print(f"matrix: {checked} cells, statuses {sorted(seen.items())}")
    assert checked >= 150
    # Every outcome of the policy occurs, so no status is right by accident.
    assert {200, 201, 202, 204, 401, 403, 404, 422} <= set(seen)
