"""The authorization policy: one table of action by role, and the one function that applies it.

Every route, the event hub and the publish ingress ask :func:`decide`; nothing else in the
product decides who may do what.

=================  =============  ===========  ==========================================
action             channel role   token scope  notes
=================  =============  ===========  ==========================================
READ               viewer         read         public channels: anyone, signed in or not
SUBMIT             editor         write        submit a video to the channel
DELETE             editor         write        cancel and delete one of its videos
PUBLISH            editor         publish      HTTP publish ingress; publish tokens only
MANAGE_MEMBERS     owner          admin        grant, change and remove roles
LIST_MEMBERS       owner          read         a channel's members with their emails
MANAGE_CHANNEL     owner          admin        visibility and name of the channel
LIST_CHANNELS      (signed in)    read         the channels the caller may read
ACK_CURSOR         (signed in)    read         move one's own acknowledged cursors
MANAGE_TOKENS      (signed in)    admin        one's own tokens (sessions always may)
CHANGE_PASSWORD    (signed in)    admin        one's own password (sessions always may)
CREATE_CHANNEL     (instance)     admin        an admin user, not through a bound or
CREATE_USER        (instance)     admin        expiring token (see below)
LIST_USERS         (instance)     admin        every user with its channels
RESET_PASSWORD     (instance)     admin        set another user's password
=================  =============  ===========  ==========================================

Scopes: ``read`` < ``write`` < ``admin`` (each includes the ones before), and ``publish``
allows only PUBLISH (a worker's token cannot read or delete anything). A token never gives more
than its user has; a token bound to a channel acts on that channel only (any other is
unreadable to it), so even an admin's bound token acts at most as an owner of that channel. An
``admin`` user may do everything, within its token's scope; instance-wide actions (creating
users and channels, managing another user's tokens) need an *instance admin*: an admin user
signed in, or an admin-scope token of an admin user that is bound to no channel and never
expires (what an expiring token creates would outlive it).

Outcomes (docs/contracts.md §9): credentials needed but absent → ``UNAUTHENTICATED`` (401); a
channel
(or video) the caller may not read → ``NOT_FOUND`` (404: existence is not revealed); readable
but not allowed → ``FORBIDDEN`` (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from culto.errors import CultoError, Forbidden, NotFound, Unauthenticated
from schemas.identity import ChannelRole, TokenScope


class Action(StrEnum):
    """Everything the policy rules on."""

    READ = "read"
    SUBMIT = "submit"
    DELETE = "delete"
    PUBLISH = "publish"
    MANAGE_MEMBERS = "manage_members"
    LIST_MEMBERS = "list_members"
    MANAGE_CHANNEL = "manage_channel"
    LIST_CHANNELS = "list_channels"
    ACK_CURSOR = "ack_cursor"
    MANAGE_TOKENS = "manage_tokens"
    CHANGE_PASSWORD = "change_password"
    CREATE_CHANNEL = "create_channel"
    CREATE_USER = "create_user"
    LIST_USERS = "list_users"
    RESET_PASSWORD = "reset_password"


class Decision(Enum):
    """What :func:`decide` answers."""

    ALLOW = "allow"
    UNAUTHENTICATED = "unauthenticated"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the table.

    Attributes:
        role: The channel role needed (``None``: the action is not about one channel).
        scope: The token scope needed.
        admin_only: Only ``admin`` users.
        public: Anyone may do it on a public channel (READ).
    """

    role: ChannelRole | None
    scope: TokenScope
    admin_only: bool = False
    public: bool = False


POLICY: Mapping[Action, Rule] = {
    Action.READ: Rule(ChannelRole.VIEWER, TokenScope.READ, public=True),
    Action.SUBMIT: Rule(ChannelRole.EDITOR, TokenScope.WRITE),
    Action.DELETE: Rule(ChannelRole.EDITOR, TokenScope.WRITE),
    Action.PUBLISH: Rule(ChannelRole.EDITOR, TokenScope.PUBLISH),
    Action.MANAGE_MEMBERS: Rule(ChannelRole.OWNER, TokenScope.ADMIN),
    Action.LIST_MEMBERS: Rule(ChannelRole.OWNER, TokenScope.READ),
    Action.MANAGE_CHANNEL: Rule(ChannelRole.OWNER, TokenScope.ADMIN),
    Action.LIST_CHANNELS: Rule(None, TokenScope.READ),
    Action.ACK_CURSOR: Rule(None, TokenScope.READ),
    Action.MANAGE_TOKENS: Rule(None, TokenScope.ADMIN),
    Action.CHANGE_PASSWORD: Rule(None, TokenScope.ADMIN),
    Action.CREATE_CHANNEL: Rule(None, TokenScope.ADMIN, admin_only=True),
    Action.CREATE_USER: Rule(None, TokenScope.ADMIN, admin_only=True),
    Action.LIST_USERS: Rule(None, TokenScope.ADMIN, admin_only=True),
    Action.RESET_PASSWORD: Rule(None, TokenScope.ADMIN, admin_only=True),
}
"""Action → rule; the matrix test derives every expected HTTP status from this table."""

_SCOPE_INCLUDES: Mapping[TokenScope, frozenset[TokenScope]] = {
    TokenScope.READ: frozenset({TokenScope.READ}),
    TokenScope.WRITE: frozenset({TokenScope.READ, TokenScope.WRITE}),
    TokenScope.ADMIN: frozenset({TokenScope.READ, TokenScope.WRITE, TokenScope.ADMIN}),
    TokenScope.PUBLISH: frozenset({TokenScope.PUBLISH}),
}


def scope_allows(held: TokenScope | None, needed: TokenScope) -> bool:
    """Whether a credential of scope ``held`` covers ``needed`` (``None``: a browser session,
    which may do everything but publish: the ingress is for programs)."""
    if held is None:
        return needed is not TokenScope.PUBLISH
    return needed in _SCOPE_INCLUDES[held]


@dataclass(frozen=True, slots=True)
class ChannelView:
    """What the policy needs to know about a channel."""

    id: str
    public: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, resolved from a session or token (see ``frontend_server.security.auth``).

    Attributes:
        user_id: ``None`` for an anonymous caller.
        admin: The user is an instance admin.
        roles: Channel id → the user's role there.
        scope: The token's scope; ``None`` for a browser session (and anonymous callers).
        token_channel: The channel a token is bound to, if any.
        credential: What to revoke to end this principal's access: ``session:<key>``,
            ``token:<id>``, or ``anonymous``.
        expires_at: When the credential expires.
    """

    user_id: str | None = None
    admin: bool = False
    roles: Mapping[str, ChannelRole] = field(default_factory=dict)
    scope: TokenScope | None = None
    token_channel: str | None = None
    credential: str = "anonymous"
    expires_at: datetime | None = None

    @property
    def authenticated(self) -> bool:
        """True for a signed-in user or a token."""
        return self.user_id is not None

    def reads_channel(self, channel: ChannelView) -> bool:
        """Whether this principal may read ``channel``'s videos (the hub's hot-path test)."""
        return decide(self, Action.READ, channel) is Decision.ALLOW

    @property
    def instance_admin(self) -> bool:
        """An admin user acting instance-wide: signed in, or through an admin-scope token bound
        to no channel that never expires."""
        if not self.admin:
            return False
        if not self.credential.startswith("token:"):
            return self.authenticated
        return (
            self.scope is TokenScope.ADMIN
            and self.token_channel is None
            and self.expires_at is None
        )

    def reads_everything(self) -> bool:
        """An admin (with a scope that reads) not bound to a channel: reads every video."""
        return (
            self.admin and self.token_channel is None and scope_allows(self.scope, TokenScope.READ)
        )


ANONYMOUS = Principal()


def decide(principal: Principal, action: Action, channel: ChannelView | None = None) -> Decision:
    """Apply :data:`POLICY` to ``principal`` doing ``action`` (on ``channel`` when it has one).

    ``channel=None`` for a channel action means the channel does not exist: the caller gets
    what it would get for a channel it may not read.
    """
    rule = POLICY[action]
    if rule.role is None:
        return _global(principal, rule)
    if channel is None:
        return Decision.NOT_FOUND if principal.authenticated else Decision.UNAUTHENTICATED
    readable = _reads(principal, channel)
    if not readable:
        # Existence is not revealed: an unreadable channel looks like no channel. Someone not
        # signed in is asked to sign in instead (the channel may be readable to them then).
        return Decision.NOT_FOUND if principal.authenticated else Decision.UNAUTHENTICATED
    if action is Action.READ and (channel.public or scope_allows(principal.scope, rule.scope)):
        return Decision.ALLOW
    if not principal.authenticated:
        return Decision.UNAUTHENTICATED
    if not scope_allows(principal.scope, rule.scope):
        return Decision.FORBIDDEN
    if principal.admin:
        return Decision.ALLOW
    role = principal.roles.get(channel.id)
    allowed = role is not None and role.rank >= rule.role.rank
    return Decision.ALLOW if allowed else Decision.FORBIDDEN


def _reads(principal: Principal, channel: ChannelView) -> bool:
    # "Knows the channel exists": the policy's 404 line. A publish token knows its channel
    # (its publishes are 403-or-allowed, not 404s) but its scope still does not read it.
    if principal.token_channel is not None and principal.token_channel != channel.id:
        return False
    if channel.public:
        return True
    if not principal.authenticated:
        return False
    return principal.admin or channel.id in principal.roles


def _global(principal: Principal, rule: Rule) -> Decision:
    if not principal.authenticated:
        return Decision.UNAUTHENTICATED
    if not scope_allows(principal.scope, rule.scope):
        return Decision.FORBIDDEN
    if rule.admin_only and not principal.instance_admin:
        return Decision.FORBIDDEN
    return Decision.ALLOW


_ERRORS: Mapping[Decision, type[CultoError]] = {
    Decision.UNAUTHENTICATED: Unauthenticated,
    Decision.NOT_FOUND: NotFound,
    Decision.FORBIDDEN: Forbidden,
}
_MESSAGES: Mapping[Decision, str] = {
    Decision.UNAUTHENTICATED: "sign in, or send an API token (Authorization: Bearer culto_…)",
    Decision.NOT_FOUND: "not found",
    Decision.FORBIDDEN: "your role or token scope does not allow this",
}


def require(
    principal: Principal,
    action: Action,
    channel: ChannelView | None = None,
    *,
    what: str = "",
) -> None:
    """:func:`decide`, raising the matching error unless allowed.

    Args:
        what: Names the resource in a 404 (e.g. ``"video 3f2b…"``).

    Raises:
        Unauthenticated: 401.
        NotFound: 404 (the resource is not readable, or does not exist).
        Forbidden: 403.
    """
    decision = decide(principal, action, channel)
    if decision is Decision.ALLOW:
        return
    message = _MESSAGES[decision]
    if decision is Decision.NOT_FOUND and what:
        message = f"{what} not found"
    elif decision is Decision.FORBIDDEN:
        message = f"{action.value.replace('_', ' ')}: {message}"
    raise _ERRORS[decision](message)
