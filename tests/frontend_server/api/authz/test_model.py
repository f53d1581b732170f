"""Model-based authorization test: random worlds of users, channels, roles, visibility and
tokens, driven against the real frontend and API role, checked after every step against a small
reference model written from docs/security.md (not from ``access.policy``).

Each step changes the world (as the operator's CLI would, or through the API with a parent
credential for tokens, so the token rules are exercised too) and then samples (caller, action,
resource) over HTTP. ``CULTO_AUTHZ_EXAMPLES`` raises the bound for a release run
(``scripts/test -e authz-long``); CI runs the default, under two minutes.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from tornado.ioloop import IOLoop
from tornado.web import create_signed_value

from access.credentials import session_key
from culto_app.roles import ApiRole
from ops.server import RunningServer
from schemas.identity import ChannelRole, Visibility
from schemas.timestamps import utc_now
from services.identity.accounts import Accounts
from tests.support import PASSWORD, Http, StartEdge, body_json, eventually, make_member

EXAMPLES = int(os.environ.get("CULTO_AUTHZ_EXAMPLES", "6"))
STEPS = int(os.environ.get("CULTO_AUTHZ_STEPS", "12"))
RANK = {"viewer": 0, "editor": 1, "owner": 2}
SCOPE_RIGHTS = {
    "read": {"read"},
    "write": {"read", "write"},
    "admin": {"read", "write", "admin"},
    "publish": {"publish"},
}

# -- the reference model (docs/security.md "Who may do what") ---------------------------------


@dataclass
class User:
    id: str
    email: str
    admin: bool
    roles: dict[str, str] = field(default_factory=dict)


@dataclass
class Caller:
    """A credential: a browser session (``scope`` None) or an API token."""

    user: User | None
    headers: dict[str, str]
    scope: str | None = None
    channel: str | None = None
    expires: datetime | None = None
    revoked: bool = False
    token_id: str | None = None


@dataclass
class World:
    users: list[User] = field(default_factory=list)
    public: dict[str, bool] = field(default_factory=dict)  # channel → public
    videos: dict[str, str] = field(default_factory=dict)  # channel → one video of it


def _valid(c: Caller) -> bool:
    return c.user is not None and not c.revoked and (c.expires is None or c.expires > utc_now())


def _rights(c: Caller) -> set[str]:
    """What the credential's scope allows (a session: everything but publishing)."""
    return {"read", "write", "admin"} if c.scope is None else SCOPE_RIGHTS[c.scope]


def _knows(c: Caller, world: World, channel: str) -> bool:
    """docs: a token bound to a channel knows no other; public channels are readable by all;
    private ones by admins and members."""
    if c.channel is not None and c.channel != channel:
        return False
    if world.public[channel]:
        return True
    assert c.user is not None
    return c.user.admin or channel in c.user.roles


def expected(c: Caller, world: World, action: str, channel: str) -> int:
    """The HTTP status the docs promise for ``c`` doing ``action`` in ``channel``."""
    needs = {
        "read": ("viewer", "read"),
        "submit": ("editor", "write"),
        "manage_channel": ("owner", "admin"),
    }[action]
    if c.user is None:  # anonymous
        if action == "read" and world.public[channel]:
            return 200
        return 401
    if not _valid(c):
        return 401
    if not _knows(c, world, channel):
        return 404
    role_needed, scope_needed = needs
    if action == "read" and (world.public[channel] or scope_needed in _rights(c)):
        return 200
    if scope_needed not in _rights(c):
        return 403
    if c.user.admin:
        return 200
    role = c.user.roles.get(channel)
    return 200 if role is not None and RANK[role] >= RANK[role_needed] else 403


def expected_token(parent: Caller, world: World, body: dict[str, Any]) -> int:
    """docs "Token rules": POST /api/v2/tokens by ``parent``."""
    if parent.user is None or not _valid(parent):
        return 401
    if "admin" not in _rights(parent):
        return 403
    channel = body.get("channel_id")
    if channel is not None and not _knows(parent, world, channel):
        return 404
    if parent.channel is not None and channel != parent.channel:
        return 403
    if parent.scope is not None:
        if not SCOPE_RIGHTS[body["scope"]] <= _rights(parent):
            return 403
        if parent.expires is not None:
            days = body.get("expires_in_days")
            if days is None or utc_now() + timedelta(days=days) > parent.expires:
                return 403
    return 201


# -- the machine --------------------------------------------------------------------------------


class AuthorizationMachine(RuleBasedStateMachine):
    io_loop: IOLoop
    http: Http
    anonymous: Http
    accounts: Accounts
    edge: RunningServer
    secret: str

    callers = Bundle("callers")
    channels = Bundle("channels")

    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.all_callers: list[Caller] = [Caller(None, {})]

    def run(self, coro: Any) -> Any:
        return self.io_loop.run_sync(lambda: coro, timeout=30)

    @initialize(target=channels)
    def first_channel(self) -> str:
        return self._add_channel(public=False)

    def _add_channel(self, public: bool) -> str:
        visibility = Visibility.PUBLIC if public else Visibility.PRIVATE
        channel = self.run(self.accounts.add_channel(f"c{uuid.uuid4().hex[:6]}", visibility))
        self.world.public[channel.id] = public
        self.world.videos[channel.id] = self.run(self._video(channel.id))
        return str(channel.id)

    async def _video(self, channel: str) -> str:
        admin = await make_member(self.accounts, admin=True)
        body = {"title": "t", "channel_id": channel, "transcript": {"content": "Sermão."}}
        response = await self.http.request(
            "POST", "/api/v2/videos/", json_body=body, headers=admin.auth, cookies=False
        )
        assert response.code == 201, response.body
        return str(body_json(response)["id"])

    @rule(target=channels, public=st.booleans())
    def add_channel(self, public: bool) -> str:
        return self._add_channel(public)

    @rule(target=callers, admin=st.booleans(), session=st.booleans())
    def add_user(self, admin: bool, session: bool) -> Caller:
        member = self.run(make_member(self.accounts, admin=admin))
        user = User(member.user_id, member.email, admin)
        self.world.users.append(user)
        if session:
            # Signed in as the operator would (no sign-in rate limit in the way), the cookie
            # signed with the edge's secret exactly as the edge signs it.
            opened = self.run(self.accounts.login(member.email, PASSWORD))
            cookie = create_signed_value(self.secret, "culto_session", opened.session_id)
            directory = self.edge.app.settings["authenticator"].directory
            key = session_key(opened.session_id)
            self.run(eventually(lambda: key in directory.sessions, what="the session"))
            caller = Caller(user, {"Cookie": f"culto_session={cookie.decode()}"})
        else:
            caller = Caller(user, member.auth, scope="admin", token_id=member.token[6:24])
        self.all_callers.append(caller)
        return caller

    @rule(caller=callers, channel=channels, role=st.sampled_from(["viewer", "editor", "owner"]))
    def grant(self, caller: Caller, channel: str, role: str) -> None:
        assert caller.user is not None
        self.run(self.accounts.grant(channel, caller.user.id, ChannelRole(role)))
        caller.user.roles[channel] = role

    @rule(caller=callers, channel=channels)
    def remove(self, caller: Caller, channel: str) -> None:
        assert caller.user is not None
        if channel in caller.user.roles:
            self.run(self.accounts.remove_member(channel, caller.user.id))
            del caller.user.roles[channel]

    @rule(channel=channels, public=st.booleans())
    def set_visibility(self, channel: str, public: bool) -> None:
        visibility = Visibility.PUBLIC if public else Visibility.PRIVATE
        self.run(self.accounts.change_channel(channel, visibility=visibility))
        self.world.public[channel] = public

    @rule(
        target=callers,
        parent=callers,
        scope=st.sampled_from(["read", "write", "admin", "publish"]),
        channel=st.none() | channels,
        days=st.none() | st.sampled_from([0.01, 0.5, 30.0]),
    )
    def create_token(
        self, parent: Caller, scope: str, channel: str | None, days: float | None
    ) -> Caller:
        body: dict[str, Any] = {"scope": scope}
        if channel is not None:
            body["channel_id"] = channel
        if days is not None:
            body["expires_in_days"] = days
        want = expected_token(parent, self.world, body)
        headers = {**parent.headers}
        if parent.scope is None:  # a browser session needs its XSRF token
            headers.update(self._xsrf(parent))
        response = self.run(
            self.http.request(
                "POST", "/api/v2/tokens", json_body=body, headers=headers, cookies=False
            )
        )
        assert response.code == want, (body, parent.scope, parent.channel, response.body)
        if response.code != 201:
            return parent
        made = body_json(response)
        token = made["token"]
        expires = datetime.fromisoformat(made["expires_at"]) if made["expires_at"] else None
        child = Caller(
            parent.user,
            {"Authorization": f"Bearer {token}"},
            scope=scope,
            channel=channel,
            expires=expires,
            token_id=made["id"],
        )
        self.all_callers.append(child)
        return child

    def _xsrf(self, caller: Caller) -> dict[str, str]:
        response = self.run(
            self.http.request("GET", "/api/v2/csrf", headers=caller.headers, cookies=False)
        )
        token = body_json(response)["csrf_token"]
        return {"X-XSRFToken": token}

    @rule(caller=consumes(callers))
    def revoke(self, caller: Caller) -> None:
        if caller.token_id is not None and not caller.revoked:
            self.run(self.accounts.revoke_token(caller.token_id))
            caller.revoked = True

    @invariant()
    def http_agrees_with_the_model(self) -> None:
        if not self.world.public:
            return
        for caller in self.all_callers[-4:] + self.all_callers[:1]:
            for channel in list(self.world.public)[-3:]:
                self._check(caller, "read", channel)
                self._check(caller, "manage_channel", channel)

    def _check(self, caller: Caller, action: str, channel: str) -> None:
        want = expected(caller, self.world, action, channel)
        if action == "read":
            video = self.world.videos[channel]
            response = self.run(
                self.http.request(
                    "GET", f"/api/v2/videos/{video}", headers=caller.headers, cookies=False
                )
            )
        elif caller.user is None:  # anonymous: its own cookie jar holds the XSRF nonce
            body = {"visibility": "public" if self.world.public[channel] else "private"}
            response = self.run(self.anonymous.send("PATCH", f"/api/v2/channels/{channel}", body))
        else:
            headers = {**caller.headers}
            if caller.scope is None and _valid(caller):
                headers.update(self._xsrf(caller))
            body = {"visibility": "public" if self.world.public[channel] else "private"}
            response = self.run(
                self.http.request(
                    "PATCH",
                    f"/api/v2/channels/{channel}",
                    json_body=body,
                    headers=headers,
                    cookies=False,
                )
            )
        assert response.code == want, (action, channel, caller.scope, caller.channel, response.body)


@pytest.mark.timeout(int(os.environ.get("CULTO_AUTHZ_TIMEOUT", "600")))
def test_authorization_follows_the_documented_model(
    io_loop: IOLoop, start_edge: StartEdge, api_role: ApiRole, accounts: Accounts
) -> None:
    # Its own frontend: hundreds of requests from one address, each on a new connection, must
    # meet neither the request rate limit nor the new-connection rate (a fast machine did).
    edge = io_loop.run_sync(
        lambda: start_edge(
            rate_limit_per_minute=10_000_000,
            rate_limit_burst=10_000_000,
            max_connections_per_second=1_000_000,
        )
    )
    AuthorizationMachine.io_loop = io_loop
    AuthorizationMachine.http = Http(edge.url)
    AuthorizationMachine.anonymous = Http(edge.url)
    AuthorizationMachine.accounts = accounts
    AuthorizationMachine.edge = edge
    AuthorizationMachine.secret = edge.app.settings["cookie_secret"]
    try:
        run_state_machine_as_test(
            AuthorizationMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        AuthorizationMachine.http.close()
        AuthorizationMachine.anonymous.close()
