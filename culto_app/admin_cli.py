"""``culto user|channel|token``: accounts managed directly in the identity KV buckets.

Like ``culto tail``, each command uses ``NATS_URL`` (with ``NATS_USER``/``NATS_PASSWORD``) when it
is set, else finds the running ``culto up`` through ``CULTO_DATA_DIR/nats.url`` and connects as
its ``admin`` NATS user (``CULTO_DATA_DIR/nats-credentials.json``), the role that may manage
identities and nothing else. Arguments are checked before connecting.

Secrets go to stdout only, once, alone on the last line (a generated password, a new token), so
``TOKEN=$(culto token create ...)`` works; other notes go to stderr. Nothing is logged. Errors
(an unknown email, a bad role or scope, a taken email...) are one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import re
import select
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from pydantic import TypeAdapter, ValidationError

from culto.errors import ConfigError, InvalidInput, MeshUnavailable
from culto_app.instance import CREDENTIALS_FILE, frontend_url_file
from culto_app.settings import Settings
from culto_app.tail import credentials, nats_url
from mesh.connection import MeshConnection
from mesh.directory import Directory
from mesh.identity.store import IdentityStore
from mesh.permissions import inbox_prefix
from schemas.identity import (
    CHANNEL_ID_PATTERN,
    TOKEN_ID_PATTERN,
    ChannelRole,
    Email,
    TokenRecord,
    TokenScope,
    UserRecord,
    Visibility,
)
from services.identity.accounts import ONCE_MINUTES, Accounts

COMMANDS = ("user", "channel", "token")
STDIN_WAIT = 1.0
"""Seconds a non-terminal stdin may take to offer a password before one is generated."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MAX_EXPIRY = timedelta(days=3650)
_EMAILS: TypeAdapter[str] = TypeAdapter(Email)


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What a command works with: the connection, the account operations, stdout."""

    mesh: MeshConnection
    accounts: Accounts
    out: TextIO
    frontend: str | None = None
    """The running ``culto up``'s frontend address, if it announced one."""

    def show(self, line: str) -> None:
        print(line, file=self.out, flush=True)


Handler = Callable[[_Ctx, argparse.Namespace], Awaitable[None]]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``user``, ``channel`` and ``token`` with their subcommands."""
    where = " (NATS_URL, or the running 'culto up' in CULTO_DATA_DIR)"
    user = sub.add_parser("user", help="manage users" + where)
    users = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = users.add_parser("add", help="add a user (password from stdin, or generated)")
    add.add_argument("email")
    add.add_argument("--admin", action="store_true", help="may do everything")
    passwd = users.add_parser(
        "passwd",
        help="set a user's password (from stdin, or generated and printed once); every"
        " session of the user ends",
    )
    passwd.add_argument("email")
    link = users.add_parser(
        "link", help="print a new one-time sign-in link (works once, within an hour)"
    )
    link.add_argument("email")
    link.add_argument(
        "--url",
        metavar="BASE",
        help="the address people open (default: the running 'culto up''s frontend)",
    )
    users.add_parser("list", help="every user, one a line: id, email, admin, channel:role...")
    channel = sub.add_parser("channel", help="manage channels" + where)
    channels = channel.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = channels.add_parser("add", help="add a channel (private unless --public); prints its id")
    new.add_argument("name")
    new.add_argument("--public", action="store_true", help="anyone may read its videos")
    change = channels.add_parser("set", help="make a channel public or private")
    change.add_argument("channel", metavar="CHANNEL")
    visibility = change.add_mutually_exclusive_group(required=True)
    visibility.add_argument("--public", action="store_true", help="anyone may read its videos")
    visibility.add_argument("--private", action="store_true", help="only its members may")
    grant = channels.add_parser("grant", help="give a user a role in a channel")
    grant.add_argument("channel", metavar="CHANNEL")
    grant.add_argument("email", metavar="EMAIL")
    grant.add_argument("role", metavar="ROLE", help="viewer, editor or owner")
    token = sub.add_parser("token", help="manage API tokens" + where)
    tokens = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tokens.add_parser("create", help="create a token (printed once, on the last line)")
    create.add_argument("email")
    create.add_argument("--scope", default="read", help="read (default), write, publish, admin")
    create.add_argument("--channel", metavar="ID", help="limit the token to one channel")
    create.add_argument("--expires", metavar="DURATION", help="e.g. 30d, 12h, 90m (default never)")
    create.add_argument("--name", default="", help="a note on what it is for")
    listing = tokens.add_parser("list", help="a user's tokens, one a line, id first")
    listing.add_argument("email")
    revoke = tokens.add_parser("revoke", help="revoke a token")
    revoke.add_argument("id", metavar="ID")


# -- checking arguments (before connecting) --------------------------------------------------


def email(raw: str) -> str:
    """The normalised email; :class:`InvalidInput` naming it otherwise."""
    try:
        return _EMAILS.validate_python(raw)
    except ValidationError:
        raise InvalidInput(f"EMAIL: {raw[:80]!r} is not an email address") from None


def channel_role(raw: str) -> ChannelRole:
    """``viewer``, ``editor`` or ``owner``."""
    try:
        return ChannelRole(raw.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"ROLE: must be viewer, editor or owner, got {raw[:40]!r}", code="bad_role"
        ) from None


def token_scope(raw: str) -> TokenScope:
    """``read``, ``write``, ``publish`` or ``admin``."""
    try:
        return TokenScope(raw.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"--scope: must be read, write, publish or admin, got {raw[:40]!r}", code="bad_scope"
        ) from None


def duration(raw: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` (up to ten years)."""
    match = _DURATION.fullmatch(raw)
    if match is None:
        raise InvalidInput(f"--expires: expected a duration like 30d, 12h or 90m, got {raw[:40]!r}")
    value = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if not timedelta(0) < value <= _MAX_EXPIRY:
        raise InvalidInput("--expires: must be more than 0 and at most 3650d")
    return value


def _identifier(raw: str, pattern: str, what: str) -> str:
    if not re.fullmatch(pattern, raw):
        raise InvalidInput(f"{what}: {raw[:80]!r} is not a valid id")
    return raw


def check(args: argparse.Namespace) -> None:
    """Validate every argument of ``args`` in place (normalised), before connecting."""
    if getattr(args, "email", None) is not None:
        args.email = email(args.email)
    if args.command == "channel" and args.action == "add":
        args.name = args.name.strip()
        if not 1 <= len(args.name) <= 200:
            raise InvalidInput("NAME: must be 1 to 200 characters")
    if args.command == "channel" and args.action in ("grant", "set"):
        args.channel = _identifier(args.channel, CHANNEL_ID_PATTERN, "CHANNEL")
    if args.command == "channel" and args.action == "grant":
        args.role = channel_role(args.role)
    if args.command == "token" and args.action == "create":
        args.scope = token_scope(args.scope)
        if args.channel is not None:
            args.channel = _identifier(args.channel, CHANNEL_ID_PATTERN, "--channel")
        args.expires = duration(args.expires) if args.expires is not None else None
        if len(args.name) > 200:
            raise InvalidInput("--name: at most 200 characters")
    if args.command == "token" and args.action == "revoke":
        args.id = _identifier(args.id, TOKEN_ID_PATTERN, "ID")
    if args.command == "user" and args.action == "link" and args.url is not None:
        args.url = base_url(args.url)


def base_url(raw: str) -> str:
    """``http(s)://host[:port]`` without a trailing slash (the start of a sign-in link)."""
    url = raw.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise InvalidInput(f"--url: expected http(s)://host[:port], got {raw[:80]!r}")
    return url


def read_password(stdin: TextIO, *, wait: float = STDIN_WAIT) -> str | None:
    """The password on stdin's first line, when stdin is not a terminal and offers one.

    A terminal, an empty input (``< /dev/null``) or a pipe that stays silent for ``wait``
    seconds (an inherited, unused stdin) mean "generate one".

    Raises:
        InvalidInput: the password is shorter than 10 or longer than 1024 characters.
    """
    try:
        if stdin.isatty():
            return None
        ready, _, _ = select.select([stdin.fileno()], [], [], wait)
    except (OSError, ValueError):
        return None
    if not ready:
        return None
    password = stdin.readline().rstrip("\r\n")
    if not password:
        return None
    if not 10 <= len(password) <= 1024:
        raise InvalidInput("password (stdin): must be 10 to 1024 characters")
    return password


# -- the commands --------------------------------------------------------------------------


def _note(message: str) -> None:
    print(f"culto: {message}", file=sys.stderr, flush=True)


async def _user_add(ctx: _Ctx, args: argparse.Namespace) -> None:
    created = await ctx.accounts.add_user(args.email, args.password, admin=args.admin)
    user = created.user
    ctx.show(f"{user.id}  {user.email}{'  admin' if user.admin else ''}")
    if created.password is not None:
        _note(f"generated password of {user.email} (shown once, on the next line):")
        ctx.show(created.password)


async def _user_passwd(ctx: _Ctx, args: argparse.Namespace) -> None:
    user = await ctx.accounts.user_by_email(args.email)
    done = await ctx.accounts.set_password(user.id, args.password)
    _note(f"password of {user.email} changed; its sessions and sign-in links ended")
    if done.password is not None:
        _note(f"generated password of {user.email} (shown once, on the next line):")
        ctx.show(done.password)


async def _user_link(ctx: _Ctx, args: argparse.Namespace) -> None:
    base = args.url or ctx.frontend
    if base is None:
        raise ConfigError(
            "--url: no running 'culto up' announced its address; give the address people"
            " open, e.g. --url https://culto.example.org"
        )
    user = await ctx.accounts.user_by_email(args.email)
    secret = await ctx.accounts.once_link(user.id)
    _note(
        f"one-time sign-in link of {user.email}: works once, within"
        f" {ONCE_MINUTES:.0f} minutes (shown once, on the next line)"
    )
    ctx.show(f"{base}/login#once={secret}")


async def _user_list(ctx: _Ctx, args: argparse.Namespace) -> None:
    async with Directory(ctx.mesh) as directory:
        users = sorted(directory.users.values(), key=lambda u: (u.email, u.id))
        for user in users:
            roles = directory.roles_of(user.id)
            ctx.show(format_user(user, roles))
    if not users:
        _note("there are no users yet")


async def _channel_add(ctx: _Ctx, args: argparse.Namespace) -> None:
    visibility = Visibility.PUBLIC if args.public else Visibility.PRIVATE
    channel = await ctx.accounts.add_channel(args.name, visibility)
    _note(f"{visibility} channel {channel.name!r} created")
    ctx.show(channel.id)


async def _channel_set(ctx: _Ctx, args: argparse.Namespace) -> None:
    visibility = Visibility.PUBLIC if args.public else Visibility.PRIVATE
    channel = await ctx.accounts.change_channel(args.channel, visibility=visibility)
    _note(f"channel {channel.name!r} is {channel.visibility}: open streams follow at once")
    ctx.show(f"{channel.id}  {channel.visibility}")


async def _channel_grant(ctx: _Ctx, args: argparse.Namespace) -> None:
    await ctx.accounts.channel(args.channel)  # "channel not found" before "no user" is clearer
    user = await ctx.accounts.user_by_email(args.email)
    member = await ctx.accounts.grant(args.channel, user.id, args.role)
    ctx.show(f"{member.channel_id}  {user.email}  {member.role}")


async def _token_create(ctx: _Ctx, args: argparse.Namespace) -> None:
    user = await ctx.accounts.user_by_email(args.email)
    created = await ctx.accounts.create_token(
        user.id, scope=args.scope, name=args.name, channel_id=args.channel, expires_in=args.expires
    )
    _note(
        f"token {created.id} of {user.email}: scope {created.scope}, channel"
        f" {created.channel_id or 'any'}, expires {_when(created.expires_at, 'never')}"
        " (shown once, on the next line)"
    )
    ctx.show(created.token)


async def _token_list(ctx: _Ctx, args: argparse.Namespace) -> None:
    user = await ctx.accounts.user_by_email(args.email)
    async with Directory(ctx.mesh) as directory:
        tokens = directory.tokens_of(user.id)
    for token in tokens:
        ctx.show(format_token(token))
    if not tokens:
        _note(f"{user.email} has no tokens")


async def _token_revoke(ctx: _Ctx, args: argparse.Namespace) -> None:
    revoked = await ctx.accounts.revoke_token(args.id)
    ctx.show(f"revoked {revoked.id}")


HANDLERS: dict[tuple[str, str], Handler] = {
    ("user", "add"): _user_add,
    ("user", "passwd"): _user_passwd,
    ("user", "link"): _user_link,
    ("user", "list"): _user_list,
    ("channel", "add"): _channel_add,
    ("channel", "grant"): _channel_grant,
    ("channel", "set"): _channel_set,
    ("token", "create"): _token_create,
    ("token", "list"): _token_list,
    ("token", "revoke"): _token_revoke,
}


def _when(moment: datetime | None, none: str) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else none


def format_user(user: UserRecord, roles: Mapping[str, ChannelRole]) -> str:
    """One ``user list`` line: id, email, admin, its channels with roles, and when its
    password was last set (``initial``: still the one it was created with)."""
    channels = ",".join(f"{cid}:{role}" for cid, role in sorted(roles.items()))
    return "  ".join(
        (
            user.id,
            user.email,
            *(("admin",) if user.admin else ()),
            f"channels={channels or '-'}",
            f"password_set={_when(user.password_set_at, 'initial')}",
        )
    )


def format_token(token: TokenRecord) -> str:
    """One ``token list`` line: id, scope, channel, created, expires, last used, name."""
    return "  ".join(
        (
            token.id,
            str(token.scope),
            f"channel={token.channel_id or '-'}",
            f"created={_when(token.created_at, '-')}",
            f"expires={_when(token.expires_at, 'never')}",
            f"last_used={_when(token.last_used_at, 'never')}",
            *((f"name={token.name}",) if token.name else ()),
        )
    )


@asynccontextmanager
async def admin_connection(settings: Settings) -> AsyncIterator[MeshConnection]:
    """A connection as the ``admin`` user: ``NATS_URL``, else the running ``culto up``'s.

    Raises:
        ConfigError: no server to connect to, or no ``admin`` user in ``CULTO_DATA_DIR``.
        MeshUnavailable: the server does not answer.
    """
    url, origin = nats_url(settings)
    creds = credentials(settings, origin, role="admin")
    if origin != "NATS_URL" and creds is None:
        raise ConfigError(
            f"CULTO_DATA_DIR: no 'admin' NATS user in {settings.data_dir / CREDENTIALS_FILE};"
            " restart 'culto up' to generate it"
        )
    mesh = MeshConnection(
        url,
        name="culto-admin",
        credentials=creds,
        tls_ca=settings.nats_ca_file,
        inbox_prefix=inbox_prefix("admin"),
    )
    try:
        await mesh.open()
    except MeshUnavailable as exc:
        hint = "" if origin == "NATS_URL" else f" (from {origin}: is 'culto up' still running?)"
        raise MeshUnavailable(exc.message + hint) from None
    try:
        yield mesh
    finally:
        await mesh.close()


def _announced(settings: Settings) -> str | None:
    try:
        text = frontend_url_file(settings.data_dir).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


async def run_admin(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """Run one checked command (see :func:`check`); returns 0 (errors raise ``CultoError``)."""
    handler = HANDLERS[(args.command, args.action)]
    async with admin_connection(settings) as mesh:
        ctx = _Ctx(mesh, Accounts(IdentityStore(mesh)), out, _announced(settings))
        await handler(ctx, args)
    return 0
