"""Identity DTOs: users, channels, memberships, API tokens, sessions, and their API bodies.

Records (``*Record``) are what the ``culto_identity`` and ``culto_sessions`` KV buckets store;
DTOs are what the HTTP API shows. Secrets never appear in a DTO: a password only as its slow
hash, a token's secret only as its SHA-256 (``secret_hash``), a session id only as the key of
its record (its SHA-256). The one exception is :class:`TokenCreated`, the reply that shows a
new token once.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.timestamps import UtcDatetime, utc_now

LINK_PASSWORD_WINDOW = timedelta(hours=1)
"""How long a session opened with a one-time link may set a password without the current one."""

DEFAULT_CHANNEL_ID = "default"
"""The instance's default channel: videos stored before channels existed belong to it."""

CHANNEL_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
USER_ID_PATTERN = r"^u_[0-9a-f]{32}$"
TOKEN_ID_PATTERN = r"^t_[0-9a-f]{16}$"
MINUTES_PER_DAY = 24 * 60
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (invisible and bidi controls), surrogate, private-use, unassigned and
line/paragraph separators: characters a person cannot see or type reliably, so an address
with one could pass for another (a homoglyph admin)."""


def _email(value: str) -> str:
    # NFKC folds compatibility forms (full-width letters, ligatures) into their plain letters,
    # casefold() folds case beyond ASCII: two spellings of one address become one key.
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value):
        raise ValueError("email contains invisible, control or bidirectional characters")
    value = unicodedata.normalize("NFKC", value).strip().casefold()
    if not _EMAIL.fullmatch(value) or len(value) > 254:
        raise ValueError("not an email address (expected name@example.org)")
    return value


Email = Annotated[
    str, Field(max_length=320, examples=["pastor@example.org"]), AfterValidator(_email)
]
ChannelId = Annotated[str, Field(pattern=CHANNEL_ID_PATTERN, examples=[DEFAULT_CHANNEL_ID])]
UserId = Annotated[str, Field(pattern=USER_ID_PATTERN)]
TokenId = Annotated[str, Field(pattern=TOKEN_ID_PATTERN)]


class ChannelRole(StrEnum):
    """A user's role in one channel; each includes the rights of the ones before it."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for editor, 2 for owner."""
        return _RANKS[self]


_RANKS = {ChannelRole.VIEWER: 0, ChannelRole.EDITOR: 1, ChannelRole.OWNER: 2}


class Visibility(StrEnum):
    """Who may read a channel's videos without being a member."""

    PUBLIC = "public"
    PRIVATE = "private"


class TokenScope(StrEnum):
    """What an API token may do (within its user's rights, see ``access.policy``)."""

    READ = "read"
    WRITE = "write"
    PUBLISH = "publish"
    ADMIN = "admin"


# -- records ------------------------------------------------------------------------------------


class UserDTO(BaseModel):
    """A user as the API shows it."""

    model_config = ConfigDict(frozen=True)

    id: UserId
    email: Email
    admin: bool = False
    created_at: UtcDatetime = Field(default_factory=utc_now)


class UserRecord(UserDTO):
    """A stored user: the DTO plus the password's hash (``scrypt$…``, see ``access.secrets``).

    ``password_set_at`` is when the password was last set after the user was created (``None``:
    still the one it was created with; for the first run's admin, a generated one nobody saw).
    """

    password_hash: str
    password_set_at: UtcDatetime | None = None

    def public(self) -> UserDTO:
        """The user without its hash."""
        return UserDTO.model_validate(self.model_dump(include=set(UserDTO.model_fields)))


class ChannelDTO(BaseModel):
    """A channel (a church's tenant): its videos, members and visibility."""

    model_config = ConfigDict(frozen=True)

    id: ChannelId
    name: str = Field(min_length=1, max_length=200)
    visibility: Visibility = Visibility.PRIVATE
    created_at: UtcDatetime = Field(default_factory=utc_now)


class MemberDTO(BaseModel):
    """One user's role in one channel."""

    model_config = ConfigDict(frozen=True)

    channel_id: ChannelId
    user_id: UserId
    role: ChannelRole


class TokenDTO(BaseModel):
    """An API token as listed (never its secret)."""

    model_config = ConfigDict(frozen=True)

    id: TokenId
    user_id: UserId
    name: str = Field(default="", max_length=200)
    scope: TokenScope
    channel_id: ChannelId | None = None
    expires_at: UtcDatetime | None = None
    created_at: UtcDatetime = Field(default_factory=utc_now)
    last_used_at: UtcDatetime | None = None

    def expired(self, now: datetime) -> bool:
        """True once ``expires_at`` has passed."""
        return self.expires_at is not None and now >= self.expires_at


class TokenRecord(TokenDTO):
    """A stored token: the DTO plus the SHA-256 of its secret (hex)."""

    secret_hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    def public(self) -> TokenDTO:
        """The token without its hash."""
        return TokenDTO.model_validate(self.model_dump(include=set(TokenDTO.model_fields)))


class SessionRecord(BaseModel):
    """A browser session, stored under the SHA-256 of its id (the id itself is only in the
    signed cookie). ``once`` marks a one-time login link: it becomes a session when used."""

    model_config = ConfigDict(frozen=True)

    user_id: UserId
    created_at: UtcDatetime = Field(default_factory=utc_now)
    expires_at: UtcDatetime
    once: bool = False
    via_link: bool = False
    """Opened with a one-time link: for its first hour it may set a password without the
    current one (the link is how a user who does not know it gets in)."""

    def sets_password_until(self) -> datetime | None:
        """Until when this session may set a password without the current one."""
        return self.created_at + LINK_PASSWORD_WINDOW if self.via_link else None

    def expired(self, now: datetime) -> bool:
        """True once ``expires_at`` has passed."""
        return now >= self.expires_at


# -- API bodies ---------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    """``POST /api/v2/auth/login``: an email and password, or the secret of a one-time link
    (``/login#once=…``, printed by ``culto up`` on its first run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: Email | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    once: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{20,100}$")


class MeChannel(BaseModel):
    """A channel the caller belongs to, with its role there."""

    model_config = ConfigDict(frozen=True)

    id: ChannelId
    name: str
    role: ChannelRole
    visibility: Visibility


class MeDTO(BaseModel):
    """``GET /api/v2/auth/me``."""

    model_config = ConfigDict(frozen=True)

    user: UserDTO
    channels: list[MeChannel]
    set_password_until: UtcDatetime | None = Field(
        default=None,
        description="Set when this browser session was opened with a one-time link: until then"
        " POST /api/v2/auth/password takes a new password without the current one",
    )


class MemberAdd(BaseModel):
    """``POST /api/v2/channels/{id}/members`` (owner or admin): a role for the user with this
    email (owners know their members by email, not by id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: Email
    role: ChannelRole


class MemberInfo(BaseModel):
    """A member of a channel as its owners see it."""

    model_config = ConfigDict(frozen=True)

    user_id: UserId
    email: Email
    role: ChannelRole


class UserEntry(UserDTO):
    """A user as an admin lists it: with its channels and roles."""

    channels: list[MeChannel]


class PasswordChange(BaseModel):
    """``POST /api/v2/auth/password``: the signed-in user's new password.

    ``current_password`` is required, except within the first hour of a browser session opened
    with a one-time link (``set_password_until`` in ``/auth/me``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    current_password: str | None = Field(default=None, min_length=1, max_length=1024)
    new_password: str = Field(min_length=10, max_length=1024)


class PasswordReset(BaseModel):
    """``PUT /api/v2/users/{id}/password`` (admin): set another user's password, or generate
    one (shown once) when ``password`` is left out. Every session of the user ends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    password: str | None = Field(default=None, min_length=10, max_length=1024)


class ChannelCreate(BaseModel):
    """``POST /api/v2/channels`` (admin)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    visibility: Visibility = Visibility.PRIVATE
    id: ChannelId | None = Field(default=None, description="Chosen id; generated when omitted")


class MemberPut(BaseModel):
    """``PUT /api/v2/channels/{id}/members/{user_id}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: ChannelRole


class TokenCreate(BaseModel):
    """``POST /api/v2/tokens``: a token of the caller (an admin may name another user)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="", max_length=200)
    scope: TokenScope = TokenScope.READ
    channel_id: ChannelId | None = None
    expires_in_days: float | None = Field(
        default=None,
        gt=0,
        le=3650,
        description="Lifetime in days (fractions allowed, at least one minute: 0.000695)",
    )
    user_id: UserId | None = None

    @field_validator("expires_in_days")
    @classmethod
    def _whole_minutes(cls, days: float | None) -> float | None:
        if days is not None and round(days * MINUTES_PER_DAY) < 1:
            raise ValueError("a token lives at least one minute")
        return days

    def lifetime(self) -> timedelta | None:
        """The lifetime asked for, in whole minutes (``None``: never expires)."""
        if self.expires_in_days is None:
            return None
        return timedelta(minutes=round(self.expires_in_days * MINUTES_PER_DAY))


class TokenCreated(TokenDTO):
    """The reply to a token creation: the token itself, shown this once."""

    token: str


class UserCreate(BaseModel):
    """``POST /api/v2/users`` (admin). Without a password one is generated and shown once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: Email
    password: str | None = Field(default=None, min_length=10, max_length=1024)
    admin: bool = False


class UserCreated(BaseModel):
    """The reply to a user creation (``password`` only when it was generated)."""

    model_config = ConfigDict(frozen=True)

    user: UserDTO
    password: str | None = None


class PasswordResetDone(UserCreated):
    """The reply to an admin's password reset (``password`` only when it was generated)."""


class PublishAccepted(BaseModel):
    """``POST /api/v2/events/publish``: where the event landed."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=1)
    duplicate: bool


# -- the identity service's NATS envelopes (each call carries the caller's own credential) ----


class ChannelPatch(BaseModel):
    """``PATCH /api/v2/channels/{id}``: change what is given (owners and admins)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    visibility: Visibility | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str | None) -> str | None:
        if name is not None and not name.strip():
            raise ValueError("must not be blank")
        return name.strip() if name is not None else None

    @model_validator(mode="after")
    def _changes_something(self) -> ChannelPatch:
        if self.name is None and self.visibility is None:
            raise ValueError("give a name or a visibility")
        return self


class ChannelChange(ChannelPatch):
    """The ``channel_set`` verb: a :class:`ChannelPatch` of one channel."""

    channel_id: ChannelId


class SessionOpened(BaseModel):
    """Reply to ``login``: the new session's id goes into the signed cookie only."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    user_id: UserId
    expires_at: UtcDatetime


class MemberCall(BaseModel):
    """Grant or change a membership (``member_set``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel_id: ChannelId
    user_id: UserId
    role: ChannelRole


class MemberRef(BaseModel):
    """Names one membership (``member_remove``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel_id: ChannelId
    user_id: UserId


class TokenRef(BaseModel):
    """Names one token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: TokenId


CredentialText = Annotated[str, Field(min_length=8, max_length=300)]
"""A credential as its holder presented it (``bearer culto_…`` or ``session …``)."""


class TouchCall(BaseModel):
    """Tokens used since the last report, with when (``last_used_at``, batched by the edge).
    Each is the token itself: only a holder can report its use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    used: dict[CredentialText, UtcDatetime] = Field(max_length=10_000)


class PublishCall(BaseModel):
    """``publish`` (HTTP ingress): one event, authorized against its video's channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: dict[str, object]
    idempotency_key: str | None = Field(default=None, pattern=r"^[\x21-\x7e]{1,128}$")


class PasswordResetCall(PasswordReset):
    """The ``password_reset`` verb: a :class:`PasswordReset` of one user."""

    user_id: UserId
