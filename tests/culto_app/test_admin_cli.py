"""First run and the account commands (``culto user|channel|token``) against a real ``culto up``.

One ``culto up`` data directory serves the whole module: it is started once (the first run, which
prints the one-time login link), stopped, and started again (no link); every CLI command then
runs as a real subprocess that finds it through ``CULTO_DATA_DIR``.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from access.credentials import session_key, sha256_hex, split_token
from culto.errors import Unauthenticated
from culto_app.admin_cli import duration, read_password
from culto_app.instance import read_credentials
from mesh.connection import MeshConnection
from mesh.directory import Directory
from mesh.identity.store import IdentityStore
from mesh.permissions import inbox_prefix
from schemas.identity import (
    CHANNEL_ID_PATTERN,
    DEFAULT_CHANNEL_ID,
    TOKEN_ID_PATTERN,
    ChannelDTO,
    ChannelRole,
    SessionRecord,
    UserRecord,
    Visibility,
)
from schemas.timestamps import utc_now
from services.identity.accounts import Accounts
from tests.support import CULTO, CultoProcess, SyncClient, culto_env

LINK = re.compile(
    r"^culto: first run: sign in as admin at http://localhost:(\d+)/login#once=([A-Za-z0-9_-]{40,})$"
)


@dataclass
class Instance:
    """The module's ``culto up``: the first run's output, and the second run (still going)."""

    data: Path
    first_output: list[str]
    first_port: int
    running: CultoProcess
    url: str
    users: list[UserRecord]
    default_channel: ChannelDTO | None
    once: SessionRecord | None


@asynccontextmanager
async def admin_mesh(data: Path) -> AsyncIterator[MeshConnection]:
    """A connection to the running ``culto up`` as its ``admin`` NATS user."""
    url = (data / "nats.url").read_text(encoding="utf-8").strip()
    conn = MeshConnection(
        url,
        name="test-admin",
        credentials=read_credentials(data)["admin"],
        inbox_prefix=inbox_prefix("admin"),
    )
    async with conn as mesh:
        yield mesh


async def _snapshot(
    data: Path, secret: str
) -> tuple[list[UserRecord], ChannelDTO | None, SessionRecord | None]:
    async with admin_mesh(data) as mesh, Directory(mesh) as directory:
        once = await IdentityStore(mesh).session(session_key(secret))
        return list(directory.users.values()), directory.channels.get(DEFAULT_CHANNEL_ID), once


def _start(env: dict[str, str]) -> tuple[CultoProcess, int]:
    proc = CultoProcess(["up", "--port", "0"], env)
    try:
        port = int(proc.wait_for(r"frontend on http://localhost:(\d+)", 60).group(1))
    except BaseException:
        proc.stop()
        raise
    return proc, port


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    data = tmp_path_factory.mktemp("admin-cli") / "data"
    env = culto_env(data)
    first, port = _start(env)
    try:
        first.wait_for(r"first run: sign in as admin", 10)
        first.proc.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    finally:
        first.stop()
    links = [m for line in first.lines if (m := LINK.match(line))]
    assert len(links) == 1, first.lines
    second, second_port = _start(env)
    try:
        users, channel, once = asyncio.run(_snapshot(data, links[0].group(2)))
        url = f"http://localhost:{second_port}"
        yield Instance(data, list(first.lines), port, second, url, users, channel, once)
    finally:
        second.stop()


def culto(
    instance: Instance, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``culto ARGS`` against the module's ``culto up`` (stdin: ``/dev/null`` unless given)."""
    return subprocess.run(
        [*CULTO, *args],
        env=culto_env(instance.data),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_fails(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, one line on stderr (naming ``words``), nothing on stdout."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("culto: error: "), lines
    assert result.stdout == "" and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def stdout_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


async def _login(data: Path, email: str, password: str) -> str:
    async with admin_mesh(data) as mesh:
        return (await Accounts(IdentityStore(mesh)).login(email, password)).user_id


# -- first run ------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_first_run_prints_a_one_time_link_and_a_second_start_does_not(instance: Instance) -> None:
    (link,) = [m for line in instance.first_output if (m := LINK.match(line))]
    assert int(link.group(1)) == instance.first_port
    secret = link.group(2)
    # The secret is shown in that line only.
    assert sum(secret in line for line in instance.first_output) == 1
    # It is a live one-time session of the admin, in culto_sessions.
    (admin,) = instance.users
    assert admin.admin and admin.email == "admin@localhost"
    assert instance.once is not None and instance.once.once
    assert instance.once.user_id == admin.id and not instance.once.expired(utc_now())
    # ... next to the public default channel.
    assert instance.default_channel is not None
    assert instance.default_channel.visibility is Visibility.PUBLIC
    # The second start created no second admin and printed no link.
    output = instance.running.output
    assert "first run" not in output and "once=" not in output
    assert secret not in output
    # Both starts say how to get a new link while the admin has never chosen a password.
    hint = "a new one-time link: culto user link admin@localhost"
    assert any(hint in line for line in instance.first_output)
    assert hint in output
    # The link signs the admin in (on any frontend of the instance), once.
    browser = SyncClient(instance.url)
    browser.sign_in_once("\n".join(instance.first_output))
    status, me = browser.call("GET", "/api/v2/auth/me")
    assert status == 200 and me["user"]["email"] == "admin@localhost" and me["user"]["admin"]
    again = SyncClient(instance.url)
    status, body = again.call("POST", "/api/v2/auth/login", {"once": secret})
    assert status == 401, body


# -- users ------------------------------------------------------------------------------------


def test_user_add_generates_a_password_printed_once(instance: Instance) -> None:
    result = culto(instance, "user", "add", "Maria@Example.org")
    first, password = stdout_lines(result)
    assert re.fullmatch(r"u_[0-9a-f]{32}  maria@example\.org", first), first
    assert len(password) >= 16 and password not in result.stderr
    assert password not in instance.running.output
    user_id = asyncio.run(_login(instance.data, "maria@example.org", password))
    assert first.startswith(user_id)


def test_user_add_reads_the_password_from_stdin(instance: Instance) -> None:
    password = "correct horse battery staple"
    result = culto(instance, "user", "add", "joao@example.org", "--admin", stdin=password + "\n")
    (line,) = stdout_lines(result)
    assert line.endswith("  joao@example.org  admin"), line
    assert password not in result.stderr
    asyncio.run(_login(instance.data, "joao@example.org", password))
    with pytest.raises(Unauthenticated):
        asyncio.run(_login(instance.data, "joao@example.org", "not the password"))
    # A taken email, a short password and a malformed email fail in one line, exit 2.
    assert_fails(culto(instance, "user", "add", "JOAO@example.org"), "exists")
    assert_fails(culto(instance, "user", "add", "ana@example.org", stdin="short\n"), "password")
    assert_fails(culto(instance, "user", "add", "not-an-email"), "EMAIL")


def _signed_in(client: SyncClient) -> bool:
    return client.call("GET", "/api/v2/auth/me")[0] == 200


def _until_signed_out(client: SyncClient) -> None:
    deadline = time.monotonic() + 10
    while _signed_in(client):
        assert time.monotonic() < deadline, "the session did not end"
        time.sleep(0.05)


def test_recovery_a_new_link_and_a_new_password_end_the_old_sessions(instance: Instance) -> None:
    (line, generated) = stdout_lines(culto(instance, "user", "add", "rute@example.org"))
    old = SyncClient(instance.url)
    old.login("rute@example.org", generated)
    # A new one-time link, built on the running frontend's address, alone on stdout.
    made = culto(instance, "user", "link", "Rute@example.org")
    (link,) = stdout_lines(made)
    assert link.startswith(instance.url + "/login#once=") and link not in made.stderr
    assert "works once" in made.stderr
    via_link = SyncClient(instance.url)
    via_link.sign_in_once(link)
    assert via_link.call("GET", "/api/v2/auth/me")[1]["set_password_until"]  # may set one
    assert not old.call("GET", "/api/v2/auth/me")[1].get("set_password_until")
    (unused,) = stdout_lines(culto(instance, "user", "link", "rute@example.org"))
    status, _ = SyncClient(instance.url).call(  # the link works once
        "POST", "/api/v2/auth/login", {"once": link.rsplit("=", 1)[1]}
    )
    assert status == 401

    # A new password from stdin: every session and unused link of the user ends.
    password = "a new password for rute"
    changed = culto(instance, "user", "passwd", "rute@example.org", stdin=password + "\n")
    assert stdout_lines(changed) == [] and "changed" in changed.stderr
    assert password not in changed.stderr
    _until_signed_out(old)
    _until_signed_out(via_link)
    status, _ = SyncClient(instance.url).call(
        "POST", "/api/v2/auth/login", {"once": unused.rsplit("=", 1)[1]}
    )
    assert status == 401
    with pytest.raises(Unauthenticated):
        asyncio.run(_login(instance.data, "rute@example.org", generated))
    asyncio.run(_login(instance.data, "rute@example.org", password))
    # Without stdin a password is generated, shown once.
    (fresh,) = stdout_lines(culto(instance, "user", "passwd", "rute@example.org"))
    asyncio.run(_login(instance.data, "rute@example.org", fresh))

    # The list: one user a line, the first admin still on its initial password.
    listed = {ln.split()[1]: ln for ln in stdout_lines(culto(instance, "user", "list"))}
    assert listed["rute@example.org"].startswith(line.split()[0])
    assert "password_set=initial" not in listed["rute@example.org"]
    assert "  admin  " in listed["admin@localhost"]
    assert "channels=default:owner" not in listed["admin@localhost"]
    assert listed["admin@localhost"].endswith("password_set=initial")


def test_user_link_and_passwd_errors(instance: Instance) -> None:
    stdout_lines(culto(instance, "user", "add", "lia@example.org"))
    (link,) = stdout_lines(
        culto(instance, "user", "link", "lia@example.org", "--url", "https://culto.example.org/")
    )
    assert link.startswith("https://culto.example.org/login#once=")
    assert_fails(culto(instance, "user", "link", "ghost@example.org"), "ghost@example.org")
    assert_fails(culto(instance, "user", "link", "lia@example.org", "--url", "ftp://x"), "--url")
    assert_fails(culto(instance, "user", "passwd", "ghost@example.org"), "ghost@example.org")
    short = culto(instance, "user", "passwd", "lia@example.org", stdin="short\n")
    assert_fails(short, "password")


# -- channels ---------------------------------------------------------------------------------


async def _channel_and_roles(
    data: Path, channel_id: str
) -> tuple[ChannelDTO | None, dict[str, str]]:
    async with admin_mesh(data) as mesh, Directory(mesh) as directory:
        members = directory.members_of(channel_id)
        emails = {u.id: u.email for u in directory.users.values()}
        return directory.channels.get(channel_id), {emails[u]: r for u, r in members.items()}


def test_channel_add_prints_its_id_and_grant_gives_a_role(instance: Instance) -> None:
    stdout_lines(culto(instance, "user", "add", "pedro@example.org"))
    (public,) = stdout_lines(culto(instance, "channel", "add", "Igreja Central", "--public"))
    (private,) = stdout_lines(culto(instance, "channel", "add", "Conselho"))
    assert re.fullmatch(CHANNEL_ID_PATTERN, public) and public.startswith("igreja-central-")
    (line,) = stdout_lines(
        culto(instance, "channel", "grant", private, "pedro@example.org", "editor")
    )
    assert line == f"{private}  pedro@example.org  editor"
    channel, roles = asyncio.run(_channel_and_roles(instance.data, private))
    assert channel is not None and channel.visibility is Visibility.PRIVATE
    assert channel.name == "Conselho" and roles == {"pedro@example.org": ChannelRole.EDITOR}
    shown, _ = asyncio.run(_channel_and_roles(instance.data, public))
    assert shown is not None and shown.visibility is Visibility.PUBLIC
    # Changing the role; then the errors.
    stdout_lines(culto(instance, "channel", "grant", private, "PEDRO@example.org", "owner"))
    assert asyncio.run(_channel_and_roles(instance.data, private))[1] == {
        "pedro@example.org": ChannelRole.OWNER
    }
    assert_fails(culto(instance, "channel", "grant", private, "pedro@example.org", "boss"), "ROLE")
    assert_fails(
        culto(instance, "channel", "grant", "no-such-channel", "pedro@example.org", "viewer"),
        "no-such-channel",
    )
    assert_fails(
        culto(instance, "channel", "grant", private, "nobody@example.org", "viewer"), "nobody"
    )
    # Visibility: public and back, then the errors.
    (line,) = stdout_lines(culto(instance, "channel", "set", private, "--public"))
    assert line == f"{private}  public"
    assert asyncio.run(_channel_and_roles(instance.data, private))[0].visibility == "public"  # type: ignore[union-attr]
    stdout_lines(culto(instance, "channel", "set", private, "--private"))
    assert asyncio.run(_channel_and_roles(instance.data, private))[0].visibility == "private"  # type: ignore[union-attr]
    assert_fails(culto(instance, "channel", "set", "no-such-channel", "--public"), "no-such")


# -- tokens -----------------------------------------------------------------------------------


async def _stored_hash(data: Path, token_id: str) -> str | None:
    async with admin_mesh(data) as mesh:
        record = await IdentityStore(mesh).token(token_id)
        return None if record is None else record.secret_hash


def test_token_create_list_revoke(instance: Instance) -> None:
    stdout_lines(culto(instance, "user", "add", "tiago@example.org"))
    result = culto(
        instance, "token", "create", "tiago@example.org", "--scope", "write",
        "--channel", DEFAULT_CHANNEL_ID, "--expires", "30d",
    )  # fmt: skip
    (token,) = stdout_lines(result)  # alone on its (last) line, and only there
    parts = split_token(token)
    assert parts is not None and token not in result.stderr
    token_id, secret = parts
    assert asyncio.run(_stored_hash(instance.data, token_id)) == sha256_hex(secret)
    (other,) = stdout_lines(
        culto(instance, "token", "create", "tiago@example.org", "--expires", "12h")
    )
    listed = culto(instance, "token", "list", "TIAGO@example.org")
    lines = stdout_lines(listed)
    assert [line.split()[0] for line in lines] == [token_id, split_token(other)[0]]  # type: ignore[index]
    assert all(re.fullmatch(TOKEN_ID_PATTERN, line.split()[0]) for line in lines)
    assert secret not in listed.stdout and split_token(other)[1] not in listed.stdout  # type: ignore[index]
    assert "  write  channel=default  " in lines[0] and "expires=never" not in lines[0]
    assert "  read  channel=-  " in lines[1]
    expires = re.search(r"expires=(\S+)", lines[1]).group(1)  # type: ignore[union-attr]
    soon = (utc_now() + timedelta(hours=12)).strftime("%Y-%m-%dT%H")
    assert expires.startswith(soon[:10])
    (revoked,) = stdout_lines(culto(instance, "token", "revoke", token_id))
    assert revoked == f"revoked {token_id}"
    assert asyncio.run(_stored_hash(instance.data, token_id)) is None
    after = stdout_lines(culto(instance, "token", "list", "tiago@example.org"))
    assert [line.split()[0] for line in after] == [split_token(other)[0]]  # type: ignore[index]
    assert_fails(culto(instance, "token", "revoke", token_id), token_id, "not found")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["token", "create", "tiago@example.org", "--scope", "root"], ["--scope"]),
        (["token", "create", "tiago@example.org", "--expires", "soon"], ["--expires"]),
        (["token", "create", "tiago@example.org", "--channel", "nope"], ["nope", "not found"]),
        (["token", "create", "ghost@example.org"], ["ghost@example.org"]),
        (["token", "list", "ghost@example.org"], ["ghost@example.org"]),
        (["token", "revoke", "t_123"], ["ID"]),
    ],
)
def test_token_errors_are_one_line_exit_2(
    instance: Instance, args: list[str], words: list[str]
) -> None:
    if args[:3] == ["token", "create", "tiago@example.org"]:
        culto(instance, "user", "add", "tiago@example.org")  # may exist already
    assert_fails(culto(instance, *args), *words)


def test_without_a_running_culto_up_the_commands_say_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CULTO, "token", "list", "a@example.org"],
        env=culto_env(tmp_path / "empty"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_fails(result, "NATS_URL", "culto up")


# -- pieces -----------------------------------------------------------------------------------


def test_durations() -> None:
    assert duration("30d") == timedelta(days=30)
    assert duration("12h") == timedelta(hours=12)
    assert duration("90m") == timedelta(minutes=90)
    assert duration("2w") == timedelta(weeks=2)
    for bad in ("", "30", "0d", "-1d", "3x", "4000d", "1.5.2h"):
        with pytest.raises(Exception, match="--expires"):
            duration(bad)


def test_password_from_stdin_only_when_it_offers_one() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "r") as reader, os.fdopen(write_fd, "w") as writer:
        assert read_password(reader, wait=0.05) is None  # a silent pipe: generate one
        writer.write("a long enough password\nignored\n")
        writer.flush()
        assert read_password(reader, wait=0.05) == "a long enough password"
    with open(os.devnull) as empty:
        assert read_password(empty, wait=0.05) is None


def test_a_bad_admin_email_stops_culto_up_naming_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CULTO, "up", "--port", "0"],
        env=culto_env(tmp_path / "data", CULTO_ADMIN_EMAIL="not an email"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_fails(result, "CULTO_ADMIN_EMAIL", "not an email")
    assert not (tmp_path / "data" / "nats.url").exists()  # stopped before starting anything
