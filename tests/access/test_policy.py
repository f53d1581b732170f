"""The policy table and :func:`decide`, case by case (the HTTP matrix checks the routes)."""

from __future__ import annotations

import pytest

from access.policy import (
    ANONYMOUS,
    POLICY,
    Action,
    ChannelView,
    Decision,
    Principal,
    decide,
    require,
    scope_allows,
)
from culto.errors import Forbidden, NotFound, Unauthenticated
from schemas.identity import ChannelRole, TokenScope

PUBLIC = ChannelView("pub", public=True)
PRIVATE = ChannelView("priv", public=False)


def user(role: ChannelRole | None = None, **kwargs: object) -> Principal:
    roles = {"pub": role, "priv": role} if role else {}
    return Principal(user_id="u_" + "0" * 32, roles=roles, **kwargs)  # type: ignore[arg-type]


def test_every_action_has_a_rule() -> None:
    assert set(POLICY) == set(Action)


def test_anyone_reads_public_channels_but_must_sign_in_for_more() -> None:
    assert decide(ANONYMOUS, Action.READ, PUBLIC) is Decision.ALLOW
    assert decide(ANONYMOUS, Action.SUBMIT, PUBLIC) is Decision.UNAUTHENTICATED
    assert decide(ANONYMOUS, Action.READ, PRIVATE) is Decision.UNAUTHENTICATED
    assert decide(ANONYMOUS, Action.CREATE_USER) is Decision.UNAUTHENTICATED


def test_private_channels_are_invisible_to_non_members() -> None:
    outsider = user()
    assert decide(outsider, Action.READ, PRIVATE) is Decision.NOT_FOUND
    assert decide(outsider, Action.DELETE, PRIVATE) is Decision.NOT_FOUND
    assert decide(outsider, Action.SUBMIT, None) is Decision.NOT_FOUND  # no such channel


CHANNEL_ACTIONS = (
    Action.READ,
    Action.SUBMIT,
    Action.DELETE,
    Action.MANAGE_MEMBERS,
    Action.LIST_MEMBERS,
    Action.MANAGE_CHANNEL,
)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (ChannelRole.VIEWER, {Action.READ}),
        (ChannelRole.EDITOR, {Action.READ, Action.SUBMIT, Action.DELETE}),
        (ChannelRole.OWNER, set(CHANNEL_ACTIONS)),
    ],
)
def test_roles_include_the_ones_before_them(role: ChannelRole, allowed: set[Action]) -> None:
    principal = user(role)  # a browser session: no scope limit, but never PUBLISH
    for action in CHANNEL_ACTIONS:
        expected = Decision.ALLOW if action in allowed else Decision.FORBIDDEN
        assert decide(principal, action, PRIVATE) is expected, action
    assert decide(principal, Action.PUBLISH, PRIVATE) is Decision.FORBIDDEN


def test_scopes_limit_tokens_and_publish_is_separate() -> None:
    reader = user(ChannelRole.OWNER, scope=TokenScope.READ)
    assert decide(reader, Action.READ, PRIVATE) is Decision.ALLOW
    assert decide(reader, Action.SUBMIT, PRIVATE) is Decision.FORBIDDEN
    publisher = user(ChannelRole.EDITOR, scope=TokenScope.PUBLISH)
    assert decide(publisher, Action.PUBLISH, PRIVATE) is Decision.ALLOW
    assert decide(publisher, Action.READ, PRIVATE) is Decision.FORBIDDEN  # cannot read it back
    assert decide(publisher, Action.READ, PUBLIC) is Decision.ALLOW  # public is public
    assert decide(publisher, Action.DELETE, PRIVATE) is Decision.FORBIDDEN
    assert not scope_allows(TokenScope.ADMIN, TokenScope.PUBLISH)
    assert scope_allows(None, TokenScope.ADMIN) and not scope_allows(None, TokenScope.PUBLISH)


def test_a_token_bound_to_a_channel_knows_no_other() -> None:
    bound = user(ChannelRole.OWNER, scope=TokenScope.WRITE, token_channel="pub")
    assert decide(bound, Action.SUBMIT, PUBLIC) is Decision.ALLOW
    assert decide(bound, Action.READ, PRIVATE) is Decision.NOT_FOUND
    admin_bound = Principal(user_id="u_x", admin=True, token_channel="pub")
    assert not admin_bound.reads_everything()
    assert decide(admin_bound, Action.READ, PRIVATE) is Decision.NOT_FOUND


def test_admins_do_everything_within_their_scope() -> None:
    admin = Principal(user_id="u_x", admin=True)
    assert admin.reads_everything()
    for action in Action:
        channel = PRIVATE if POLICY[action].role else None
        expected = Decision.FORBIDDEN if action is Action.PUBLISH else Decision.ALLOW
        assert decide(admin, action, channel) is expected, action
    reading_admin = Principal(user_id="u_x", admin=True, scope=TokenScope.READ)
    assert decide(reading_admin, Action.CREATE_CHANNEL) is Decision.FORBIDDEN


def test_global_actions_need_a_signed_in_caller_and_admin_ones_an_admin() -> None:
    assert decide(user(), Action.MANAGE_TOKENS) is Decision.ALLOW
    assert decide(user(scope=TokenScope.WRITE), Action.MANAGE_TOKENS) is Decision.FORBIDDEN
    assert decide(user(), Action.CREATE_CHANNEL) is Decision.FORBIDDEN
    # One's own password: any signed-in user; another's, or the list of users: admins only.
    assert decide(user(), Action.CHANGE_PASSWORD) is Decision.ALLOW
    assert decide(user(scope=TokenScope.WRITE), Action.CHANGE_PASSWORD) is Decision.FORBIDDEN
    assert decide(ANONYMOUS, Action.CHANGE_PASSWORD) is Decision.UNAUTHENTICATED
    for action in (Action.LIST_USERS, Action.RESET_PASSWORD):
        assert decide(user(ChannelRole.OWNER), action) is Decision.FORBIDDEN
        assert decide(Principal(user_id="u_x", admin=True), action) is Decision.ALLOW


def test_owners_see_and_manage_their_channel_and_no_other() -> None:
    owner = user(ChannelRole.OWNER)
    assert decide(owner, Action.LIST_MEMBERS, PRIVATE) is Decision.ALLOW
    assert decide(owner, Action.MANAGE_CHANNEL, PRIVATE) is Decision.ALLOW
    reading = user(ChannelRole.OWNER, scope=TokenScope.READ)
    assert decide(reading, Action.LIST_MEMBERS, PRIVATE) is Decision.ALLOW
    assert decide(reading, Action.MANAGE_CHANNEL, PRIVATE) is Decision.FORBIDDEN
    outsider = user()
    assert decide(outsider, Action.MANAGE_CHANNEL, PRIVATE) is Decision.NOT_FOUND
    assert decide(outsider, Action.LIST_MEMBERS, PUBLIC) is Decision.FORBIDDEN


def test_require_raises_the_error_of_each_decision() -> None:
    with pytest.raises(Unauthenticated):
        require(ANONYMOUS, Action.SUBMIT, PUBLIC)
    with pytest.raises(NotFound, match="video abc not found"):
        require(user(), Action.READ, PRIVATE, what="video abc")
    with pytest.raises(Forbidden, match="submit"):
        require(user(ChannelRole.VIEWER), Action.SUBMIT, PRIVATE)
    require(user(ChannelRole.VIEWER), Action.READ, PRIVATE)
