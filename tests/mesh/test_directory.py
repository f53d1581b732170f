"""The identity directory follows its buckets and tells listeners what changed."""

from __future__ import annotations

import uuid

import pytest

from access.credentials import session_key
from mesh.connection import MeshConnection
from mesh.directory import Change, ChangeKind, Directory
from schemas.identity import ChannelRole, TokenScope, Visibility
from services.identity.accounts import Accounts
from tests.support import eventually

pytestmark = pytest.mark.timeout(30)


async def test_the_directory_follows_users_roles_tokens_and_sessions(
    mesh: MeshConnection, accounts: Accounts
) -> None:
    before = await accounts.add_channel("Antes", Visibility.PUBLIC)
    async with Directory(mesh) as directory:
        assert before.id in directory.channels  # loaded at open
        changes: list[Change] = []
        directory.on_change(changes.append)
        channel = await accounts.add_channel("Depois", Visibility.PRIVATE)
        email = f"dir-{uuid.uuid4().hex[:10]}@example.org"
        created = await accounts.add_user(email)
        user_id = created.user.id
        await accounts.grant(channel.id, user_id, ChannelRole.EDITOR)
        token = await accounts.create_token(user_id, scope=TokenScope.READ)
        opened = await accounts.login_once(await accounts.once_link(user_id))
        key = session_key(opened.session_id)
        await eventually(lambda: key in directory.sessions, what="the session")
        assert directory.roles_of(user_id) == {channel.id: ChannelRole.EDITOR}
        assert directory.members_of(channel.id) == {user_id: ChannelRole.EDITOR}
        assert directory.user_by_email(email.upper()) is not None
        assert [t.id for t in directory.tokens_of(user_id)] == [token.id]
        assert directory.users[user_id].password_hash.startswith("scrypt$")

        await accounts.remove_member(channel.id, user_id)
        await accounts.revoke_token(token.id)
        await accounts.logout(key)
        await eventually(lambda: key not in directory.sessions, what="the logout")
        assert directory.roles_of(user_id) == {}
        assert token.id not in directory.tokens
        removed = {(c.kind, c.deleted) for c in changes if c.deleted}
        assert {
            (ChangeKind.MEMBER, True),
            (ChangeKind.TOKEN, True),
            (ChangeKind.SESSION, True),
        } <= removed
