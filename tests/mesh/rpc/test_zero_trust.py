"""Zero trust behind the edge: with only a role's own NATS credential, nothing can be done that
a signed-out visitor cannot do (docs/security.md "Trust boundary").

Real nats-server with the per-role users, the real API role: every verb of the protocol is
called without a user credential, with a revoked one and with forged ones, and the state the
verb would change is checked afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats.js.errors import NoKeysError

from access.credentials import session_key
from access.principals import Credential, CredentialKind
from culto.errors import CultoError, MeshError
from culto_app.roles import api_services
from mesh.catalog_client import VideoApiClient
from mesh.connection import MeshConnection
from mesh.cursors import CursorStore
from mesh.identity.store import IdentityStore, member_key
from mesh.rpc import Empty, RpcClient, Verb
from mesh.rpc import verbs as v
from mesh.subjects import EVENTS_STREAM, IDENTITY_BUCKET
from schemas.api import CreateRequest, VideoRef
from schemas.cursors import CursorAckCall, CursorPosition
from schemas.events import VideoStatusEventDTO
from schemas.identity import (
    ChannelChange,
    ChannelCreate,
    ChannelRole,
    LoginRequest,
    MemberCall,
    MemberDTO,
    MemberRef,
    PasswordChange,
    PasswordResetCall,
    PublishCall,
    TokenCreate,
    TokenRef,
    TokenScope,
    TouchCall,
    UserCreate,
    Visibility,
)
from schemas.timestamps import utc_now
from schemas.videos import TranscriptInput, VideoCreate, VideoListQuery, VideoStatus
from services.api.service import ApiConfig
from services.identity.accounts import Accounts
from tests.mesh.test_permissions import Secured, secured
from tests.support import AdminApi, Member, make_member

pytestmark = pytest.mark.timeout(120)


def _forged_token(real: str) -> Credential:
    """A token naming a real token id with a secret that is not its own."""
    prefix = real[: len("culto_t_") + 16]
    return Credential(CredentialKind.BEARER, f"{prefix}_{secrets.token_urlsafe(32)}")


def _bodies(world: dict[str, Any]) -> dict[str, Any]:
    """A request for every verb, aimed at the world's private channel and its records."""
    video, private, admin = world["video"], world["private"], world["admin"]
    status = VideoStatusEventDTO(
        video_id=video, status=VideoStatus.PROCESSING, progress=50, message="forged"
    )
    forged = _forged_token(admin.token).header()
    return {
        v.VIDEO_LIST: VideoListQuery(channel_id=private),
        v.VIDEO_GET: VideoRef(id=video),
        v.VIDEO_CREATE: CreateRequest(
            video=VideoCreate(
                title="intruso",
                transcript=TranscriptInput(content="Sermão."),
                channel_id=private,
            )
        ),
        v.VIDEO_DELETE: VideoRef(id=video),
        v.LOGIN: LoginRequest(email=admin.email, password="not the password"),
        v.LOGOUT: Empty(),
        v.USER_ADD: UserCreate(email="intruder@example.org", admin=True),
        v.CHANNEL_ADD: ChannelCreate(name="intruder", visibility=Visibility.PUBLIC),
        v.CHANNEL_SET: ChannelChange(channel_id=private, visibility=Visibility.PUBLIC),
        v.MEMBER_SET: MemberCall(
            channel_id=private, user_id=world["outsider"].user_id, role=ChannelRole.OWNER
        ),
        v.MEMBER_REMOVE: MemberRef(channel_id=private, user_id=world["editor"].user_id),
        v.TOKEN_CREATE: TokenCreate(user_id=admin.user_id, scope=TokenScope.ADMIN),
        v.TOKEN_REVOKE: TokenRef(id=admin.token[len("culto_") : len("culto_") + 18]),
        v.TOUCH: TouchCall(used={forged: utc_now()}),
        v.PUBLISH: PublishCall(event=status.model_dump(mode="json")),
        v.CURSOR_ACK: CursorAckCall(
            acks=[CursorPosition(credential=forged, cursor="stolen", seq=7)]
        ),
        v.PASSWORD_CHANGE: PasswordChange(new_password="the intruder's password"),
        v.PASSWORD_RESET: PasswordResetCall(
            user_id=admin.user_id, password="the intruder's password"
        ),
    }


async def _world(env: Secured) -> dict[str, Any]:
    api = await env.connect("api")
    accounts = Accounts(IdentityStore(api))
    await accounts.ensure_default_channel()
    private = await accounts.add_channel("private church", Visibility.PRIVATE)
    admin = await make_member(accounts, admin=True)
    editor = await make_member(accounts, roles={private.id: ChannelRole.EDITOR})
    outsider = await make_member(accounts)
    revoked = await make_member(accounts, admin=True)
    await accounts.revoke_token(revoked.token[len("culto_") : len("culto_") + 18])
    return {
        "api": api,
        "accounts": accounts,
        "private": private.id,
        "admin": admin,
        "editor": editor,
        "outsider": outsider,
        "revoked": revoked,
        "session": await accounts.login(admin.email, "correct horse battery"),
    }


async def _snapshot(world: dict[str, Any]) -> dict[str, Any]:
    """What any of the verbs could change."""
    api, accounts = world["api"], world["accounts"]
    store: IdentityStore = accounts.store
    channel = await store.channel(world["private"])
    token = await store.token(world["admin"].token[len("culto_") : len("culto_") + 18])
    members = [
        await store.read(member_key(world["private"], m.user_id), MemberDTO)
        for m in (world["editor"], world["outsider"])
    ]
    info = await api.jsm.stream_info(EVENTS_STREAM)
    return {
        "intruder": await store.user_by_email("intruder@example.org"),
        "admin": await store.user_by_email(world["admin"].email),  # its password hash too
        "visibility": channel.visibility if channel else None,
        "token": token.model_dump(exclude={"last_used_at"}) if token else None,
        "last_used": token.last_used_at if token else None,
        "members": members,
        "events": info.state.messages,
        "video": (await AdminApi(world["client"], world["admin"].credential).get(world["video"])),
        "cursor": await CursorStore(api).read(world["admin"].user_id, "stolen"),
        "session": await store.session(session_key(world["session"].session_id)),
        "keys": await _identity_keys(api),
    }


async def _identity_keys(mesh: MeshConnection) -> set[str]:
    """Every key of the identity bucket (users, channels, members, tokens)."""
    kv = await mesh.js.key_value(IDENTITY_BUCKET)
    try:
        return set(await kv.keys())
    except NoKeysError:
        return set()


async def _attempt(client: RpcClient, verb: Verb[Any, Any], body: Any, cred: Any) -> str:
    """Call and say how it ended: ``refused`` (a domain error), ``answered``, or ``dropped``."""
    try:
        await asyncio.wait_for(client.call(verb, body, cred), 5)
    except MeshError:  # no answer: the server itself dropped the request
        return "dropped"
    except CultoError as exc:
        assert exc.kind != "internal_error", f"{verb.name}: {exc}"
        return "refused"
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError, TimeoutError):
        return "dropped"
    return "answered"


async def test_the_frontend_user_can_do_nothing_a_signed_out_visitor_cannot(
    tmp_path: Path,
) -> None:
    async with secured(tmp_path) as env:
        world = await _world(env)
        frontend = await env.connect("frontend")
        async with api_services(world["api"], ApiConfig()):
            world["client"] = VideoApiClient(frontend)  # the admin's own calls, as the edge
            admin_api = AdminApi(world["client"], world["admin"].credential)
            body = VideoCreate(
                title="t",
                transcript=TranscriptInput(content="Sermão."),
                channel_id=world["private"],
            )
            world["video"] = (await admin_api.create(body)).id
            before = await _snapshot(world)
            client = RpcClient(frontend, timeout=5)
            admin: Member = world["admin"]
            credentials = {
                "none": None,
                "revoked": world["revoked"].credential,
                "forged token": _forged_token(admin.token),
                "forged session": Credential(CredentialKind.SESSION, secrets.token_urlsafe(32)),
                "hash as session": Credential(
                    CredentialKind.SESSION, session_key(world["session"].session_id)
                ),
            }
            outcomes: dict[tuple[str, str], str] = {}
            for verb, request in _bodies(world).items():
                for label, cred in credentials.items():
                    outcomes[verb.name, label] = await _attempt(client, verb, request, cred)
            after = await _snapshot(world)
    assert after == before, "a verb changed state for a caller without a valid credential"
    # Reads and writes alike are refused; only the batch verbs (whose items carry their own
    # credentials, all forged here) and an idempotent logout of nothing answer, changing nothing.
    no_op = {"touch", "cursor_ack", "logout"}
    for (verb_name, label), outcome in outcomes.items():
        expected = {"refused", "answered"} if verb_name in no_op else {"refused"}
        assert outcome in expected, (verb_name, label, outcome)
    assert all(v.name in {k[0] for k in outcomes} for v in v.ALL_VERBS)


@pytest.mark.parametrize("role", ["worker", "tail", "admin"])
async def test_other_roles_cannot_even_reach_the_services(tmp_path: Path, role: str) -> None:
    async with secured(tmp_path) as env:
        world = await _world(env)
        caller = await env.connect(role)  # type: ignore[arg-type]
        async with api_services(world["api"], ApiConfig()):
            client = RpcClient(caller, timeout=1.5)
            login = LoginRequest(email=world["admin"].email, password="correct horse battery")
            # Even with a valid user's credential: the server drops the request itself.
            assert await _attempt(client, v.LOGIN, login, None) == "dropped"
            listing = VideoListQuery()
            cred = world["admin"].credential
            assert await _attempt(client, v.VIDEO_LIST, listing, cred) == "dropped"
