"""NATS users per role (mesh/permissions.py) on a real nats-server: what each role is refused,
that a wrong or missing password stops a role at start-up, and that Kubernetes' NATS
configuration grants exactly what the module says. That every role's real operations work with
its own user is shown end to end by ``culto up`` (tests/culto_app/test_cli.py)."""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import nats.errors
import pytest
import yaml

from culto.errors import ConfigError, CultoError
from mesh.catalog_client import VideoApiClient
from mesh.connection import MeshConnection, NatsCredentials
from mesh.cursors import CursorStore
from mesh.directory import Directory
from mesh.embedded import EmbeddedNatsServer
from mesh.events import EventPublisher
from mesh.fence import store_fence
from mesh.identity.store import IdentityStore, channel_key, user_key
from mesh.jobs import JobQueue
from mesh.permissions import PERMISSIONS, ROLES, Role, authorization_block, inbox_prefix
from mesh.provision import StreamPolicy, provision
from mesh.replay import EventReader
from mesh.subjects import (
    CURSORS_BUCKET,
    EVENTS_STREAM,
    FENCE_SUBJECT,
    IDENTITY_BUCKET,
    JOBS_STREAM,
    SESSIONS_BUCKET,
    VIDEOS_BUCKET,
    api_subject,
    event_subject,
    identity_subject,
)
from mesh.videos import VideoStore
from schemas.events import VideoStatusEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID, ChannelRole, TokenScope, Visibility
from schemas.ids import new_video_id
from schemas.jobs import ProcessJob
from schemas.timestamps import utc_now
from schemas.videos import VideoCreate, VideoListQuery, VideoRecord, VideoStatus
from services.identity.accounts import Accounts
from services.identity.migration import migrate_channels
from tests.support import AdminApi, make_member, make_test_ca

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Secured:
    server: EmbeddedNatsServer
    users: dict[Role, NatsCredentials]
    opened: list[MeshConnection]

    async def connect(self, role: Role, **kwargs: object) -> MeshConnection:
        conn = MeshConnection(
            self.server.url,
            name=f"test-{role}",
            credentials=self.users[role],
            inbox_prefix=inbox_prefix(role),
            **kwargs,  # type: ignore[arg-type]
        )
        await conn.open()
        self.opened.append(conn)
        return conn


@asynccontextmanager
async def secured(tmp_path: Path) -> AsyncIterator[Secured]:
    users = {role: NatsCredentials(role, secrets.token_urlsafe(18)) for role in ROLES}
    conf = tmp_path / "nats.conf"
    conf.write_text(authorization_block({r: c.password for r, c in users.items()}))
    async with EmbeddedNatsServer(store_dir=tmp_path / "js", config_file=conf) as server:
        env = Secured(server, users, [])
        try:
            admin = await env.connect("provision")
            await provision(admin, StreamPolicy())
            yield env
        finally:
            for conn in env.opened:
                await conn.close()


async def _messages(admin: MeshConnection, stream: str) -> int:
    return int((await admin.jsm.stream_info(stream)).state.messages)


async def _refused(action: Callable[[], Awaitable[object]]) -> None:
    """A denied publish is dropped by the server: the JetStream ack never comes."""
    with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError, TimeoutError)):
        await asyncio.wait_for(action(), 3)


def _status(video_id: str) -> bytes:
    event = VideoStatusEventDTO(
        video_id=video_id, status=VideoStatus.PROCESSED, progress=100, message="forged"
    )
    return event.model_dump_json().encode()


@pytest.mark.timeout(60)
async def test_frontend_cannot_publish_events_write_records_or_queue_jobs(tmp_path: Path) -> None:
    async with secured(tmp_path) as env:
        admin, frontend = env.opened[0], await env.connect("frontend")
        vid = str(uuid.uuid4())
        before = await _messages(admin, EVENTS_STREAM)
        await _refused(
            lambda: frontend.js.publish(event_subject(vid, "video.status"), _status(vid), timeout=1)
        )
        await _refused(lambda: frontend.js.publish(f"$KV.{VIDEOS_BUCKET}.{vid}", b"{}", timeout=1))
        await _refused(
            lambda: frontend.js.publish(
                f"culto.jobs.process.{vid}",
                ProcessJob(video_id=vid, job_id=uuid.uuid4().hex).model_dump_json().encode(),
                timeout=1,
            )
        )
        with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
            await frontend.nc.request(f"$JS.API.STREAM.PURGE.{EVENTS_STREAM}", b"", timeout=1)
        assert await _messages(admin, EVENTS_STREAM) == before
        assert await _messages(admin, JOBS_STREAM) == 0
        assert await VideoStore(admin).find(vid) is None
        # What it needs still works: reading the stream's state and the latest events.
        assert await EventReader(frontend).last_seq() == before
        assert await EventReader(frontend).latest([vid]) == []


@pytest.mark.timeout(60)
async def test_worker_cannot_answer_or_read_the_api_subjects(tmp_path: Path) -> None:
    async with secured(tmp_path) as env:
        frontend, worker = await env.connect("frontend"), await env.connect("worker")
        seen: list[bytes] = []

        async def steal(msg: nats.aio.msg.Msg) -> None:
            seen.append(msg.data)
            await msg.respond(b'{"id": "forged"}')

        # The server refuses the subscriptions (-ERR, the connection stays up): no interest.
        await worker.nc.subscribe(api_subject("create"), cb=steal)
        await worker.nc.subscribe("culto.api.videos.*", cb=steal)
        await worker.nc.subscribe(f"{inbox_prefix('frontend')}.>", cb=steal)
        await worker.nc.flush()
        body = VideoCreate(title="t", transcript={"content": "João 3:16"})  # type: ignore[arg-type]
        with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
            await frontend.nc.request(
                api_subject("create"), body.model_dump_json().encode(), timeout=1
            )
        await asyncio.sleep(0.2)
        assert seen == [] and worker.is_connected
        # Nor may it queue jobs or claim YouTube ids (the API's work).
        vid = str(uuid.uuid4())
        await _refused(
            lambda: JobQueue(worker).enqueue(ProcessJob(video_id=vid, job_id=uuid.uuid4().hex))
        )
        await _refused(
            lambda: VideoStore(worker).claim_youtube_id("dQw4w9WgXcQ", vid, channel_id="default")
        )
        # Nor store an identity fence (only identity writers order revocations among events);
        # its events of videos still go through.
        mark = b'{"identity": 0, "sessions": 0}'
        await _refused(lambda: worker.js.publish(FENCE_SUBJECT, mark, timeout=1))
        queued = VideoStatusEventDTO(video_id=vid, status=VideoStatus.QUEUED, progress=0)
        await EventPublisher(worker).publish(queued, channel_id=DEFAULT_CHANNEL_ID)


@pytest.mark.timeout(60)
async def test_tail_is_read_only_and_api_cannot_delete_streams(tmp_path: Path) -> None:
    async with secured(tmp_path) as env:
        admin, tail, api = env.opened[0], await env.connect("tail"), await env.connect("api")
        vid = str(uuid.uuid4())
        await _refused(
            lambda: EventPublisher(tail).publish(
                VideoStatusEventDTO.model_validate(
                    {"video_id": vid, "status": "QUEUED", "progress": 0, "message": "x"}
                ),
                channel_id=DEFAULT_CHANNEL_ID,
            )
        )
        await _refused(lambda: tail.js.publish(f"$KV.{VIDEOS_BUCKET}.{vid}", b"{}", timeout=1))
        with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
            await api.nc.request(f"$JS.API.STREAM.DELETE.{EVENTS_STREAM}", b"", timeout=1)
        assert (await admin.jsm.stream_info(EVENTS_STREAM)).config.name == EVENTS_STREAM
        # The API service publishes events (video.deleted, job_abandoned); tail reads them.
        published = await EventPublisher(api).publish(
            VideoStatusEventDTO(video_id=vid, status=VideoStatus.QUEUED, progress=0, message="q"),
            channel_id=DEFAULT_CHANNEL_ID,
        )
        latest = await EventReader(tail).latest([vid])
        assert [e.seq for e in latest] == [published.seq]


@pytest.mark.timeout(60)
async def test_the_frontend_calls_the_api_service_run_as_its_own_user(tmp_path: Path) -> None:
    from culto_app.roles import api_services
    from services.api.service import ApiConfig

    async with secured(tmp_path) as env:
        api, frontend = await env.connect("api"), await env.connect("frontend")
        accounts = Accounts(IdentityStore(api))
        await accounts.ensure_default_channel()
        admin = await make_member(accounts, admin=True)
        async with api_services(api, ApiConfig()):
            client = AdminApi(VideoApiClient(frontend), admin.credential)
            body = VideoCreate(title="Culto", transcript={"content": "Leiam João 3:16."})  # type: ignore[arg-type]
            created = await client.create(body)
            assert created.status == VideoStatus.QUEUED
            assert (await client.list(VideoListQuery())).total == 1
            # A submit over 256 KiB is staged in the object store by the frontend's user.
            big = VideoCreate(title="Longo", transcript={"content": "amém " * 60_000})  # type: ignore[arg-type]
            assert (await client.create(big)).status == VideoStatus.QUEUED
            await client.delete(created.id)


async def _denied(*actions: Callable[[], Awaitable[object]]) -> None:
    """Requests the server does not allow (each goes unanswered or is refused), at once."""

    async def one(action: Callable[[], Awaitable[object]]) -> None:
        with pytest.raises(
            (CultoError, nats.errors.TimeoutError, nats.errors.NoRespondersError, TimeoutError)
        ):
            await asyncio.wait_for(action(), 1.5)

    await asyncio.gather(*(one(action) for action in actions))


@pytest.mark.timeout(60)
async def test_the_admin_role_manages_identities_and_nothing_else(tmp_path: Path) -> None:
    async with secured(tmp_path) as env:
        admin = await env.connect("admin")
        accounts = Accounts(IdentityStore(admin))
        assert await accounts.bootstrap("admin@localhost") is not None
        assert await IdentityStore(admin).any_user()
        user = (await accounts.add_user("pastor@example.org", "correct horse battery")).user
        channel = await accounts.add_channel("Igreja", Visibility.PRIVATE)
        await accounts.grant(channel.id, user.id, ChannelRole.OWNER)
        token = await accounts.create_token(user.id, scope=TokenScope.READ, channel_id=channel.id)
        session = await accounts.login("pastor@example.org", "correct horse battery")
        async with Directory(admin) as directory:  # token list: both buckets followed
            assert [t.id for t in directory.tokens_of(user.id)] == [token.id]
            assert directory.members_of(channel.id) == {user.id: ChannelRole.OWNER}
            assert session.session_id and len(directory.sessions) == 2  # + the one-time link
        await accounts.revoke_token(token.id)
        # No events, records, jobs or service subjects.
        vid = str(uuid.uuid4())
        await _denied(
            lambda: EventPublisher(admin).publish(
                _status_event(vid), channel_id=DEFAULT_CHANNEL_ID
            ),
            lambda: admin.js.publish(f"$KV.{VIDEOS_BUCKET}.{vid}", b"{}", timeout=1),
            lambda: VideoStore(admin).find(vid),
        )


def _status_event(vid: str) -> VideoStatusEventDTO:
    return VideoStatusEventDTO(video_id=vid, status=VideoStatus.QUEUED, progress=0, message="x")


@pytest.mark.timeout(60)
async def test_the_frontend_reads_identities_but_cannot_write_them(tmp_path: Path) -> None:
    async with secured(tmp_path) as env:
        accounts = Accounts(IdentityStore(await env.connect("admin")))
        user = (await accounts.add_user("ana@example.org", "correct horse battery")).user
        await accounts.ensure_default_channel()
        frontend = await env.connect("frontend")
        async with Directory(frontend) as directory:
            assert directory.user_by_email("ana@example.org") == await accounts.user(user.id)
            assert DEFAULT_CHANNEL_ID in directory.channels
        forged = user.model_copy(update={"admin": True}).model_dump_json().encode()
        subjects = (
            f"$KV.{IDENTITY_BUCKET}.{user_key(user.id)}",
            f"$KV.{IDENTITY_BUCKET}.{channel_key('mine')}",
            f"$KV.{SESSIONS_BUCKET}.{'0' * 64}",
        )
        await _denied(
            *(partial(frontend.js.publish, s, forged, timeout=1) for s in subjects),
            partial(frontend.nc.request, f"$JS.API.STREAM.PURGE.KV_{IDENTITY_BUCKET}", b"", 1),
        )
        assert not (await accounts.user(user.id)).admin
        assert await accounts.store.channel("mine") is None


@pytest.mark.timeout(60)
async def test_the_frontend_reads_cursors_and_only_the_api_role_writes_them(
    tmp_path: Path,
) -> None:
    async with secured(tmp_path) as env:
        user = "u_" + "a" * 32
        api, frontend = await env.connect("api"), await env.connect("frontend")
        assert await CursorStore(api).advance(user, "inbox", 42) == 42
        assert await CursorStore(frontend).read(user, "inbox") == 42
        await _denied(
            lambda: CursorStore(frontend).advance(user, "inbox", 43),
            partial(frontend.js.publish, f"$KV.{CURSORS_BUCKET}.{user}.x", b"{}", timeout=1),
        )
        assert await CursorStore(api).read(user, "inbox") == 42


@pytest.mark.timeout(60)
async def test_the_worker_cannot_read_identities_or_serve_the_identity_subjects(
    tmp_path: Path,
) -> None:
    async with secured(tmp_path) as env:
        accounts = Accounts(IdentityStore(await env.connect("admin")))
        user = (await accounts.add_user("ana@example.org", "correct horse battery")).user
        worker = await env.connect("worker")
        await _denied(
            lambda: IdentityStore(worker).read(user_key(user.id), type(user)),
            lambda: IdentityStore(worker).session("0" * 64),
            lambda: Directory(worker).open(),
        )
        # The API role answers culto.api.identity.*; the worker may not listen there.
        api, frontend = await env.connect("api"), await env.connect("frontend")
        stolen: list[bytes] = []

        async def steal(msg: nats.aio.msg.Msg) -> None:
            stolen.append(msg.data)

        async def answer(msg: nats.aio.msg.Msg) -> None:
            await msg.respond(b"pong")

        await worker.nc.subscribe(identity_subject("login"), cb=steal)
        await api.nc.subscribe(identity_subject("login"), queue="culto-api", cb=answer)
        await worker.nc.flush()
        await api.nc.flush()
        reply = await frontend.nc.request(identity_subject("login"), b"{}", timeout=2)
        assert reply.data == b"pong" and stolen == []
        # ... and the API role owns the buckets, and fences what it takes away.
        await Accounts(IdentityStore(api)).add_channel("Outra", Visibility.PUBLIC)
        assert await store_fence(api) > 0


@pytest.mark.timeout(60)
async def test_provisioning_runs_the_channels_migration(tmp_path: Path) -> None:
    async with secured(tmp_path) as env:
        provisioner, api = env.opened[0], await env.connect("api")
        stamp = utc_now()
        old = VideoRecord(
            id=new_video_id(), status=VideoStatus.QUEUED, created_at=stamp, updated_at=stamp
        )
        await VideoStore(api).create(old)
        assert await migrate_channels(provisioner) == 1
        assert (await VideoStore(api).get(old.id)).record.channel_id == DEFAULT_CHANNEL_ID
        assert await migrate_channels(provisioner) == 0


@pytest.mark.timeout(30)
async def test_wrong_or_missing_credentials_fail_at_start_up_in_one_line(tmp_path: Path) -> None:
    async with secured(tmp_path) as env:
        wrong = NatsCredentials("frontend", "not-the-password")
        started = time.monotonic()
        conn = MeshConnection(env.server.url, name="t", credentials=wrong, connect_timeout=10)
        with pytest.raises(ConfigError) as refused:
            await conn.open()
        assert time.monotonic() - started < 5  # not the connect timeout: refused at once
        message = refused.value.message
        assert message.startswith("NATS_USER/NATS_PASSWORD:") and "\n" not in message
        assert "'frontend'" in message and "not-the-password" not in message
        with pytest.raises(ConfigError, match="NATS_USER/NATS_PASSWORD"):
            await MeshConnection(env.server.url, name="t").open()


def test_credentials_never_show_the_password() -> None:
    creds = NatsCredentials("api", "s3cret-value")
    assert "s3cret-value" not in repr(creds) and "s3cret-value" not in str(creds)


def test_permissions_are_allow_lists_without_blanket_wildcards() -> None:
    for role in ROLES:
        perms = PERMISSIONS[role]
        assert ">" not in perms.publish and ">" not in perms.subscribe, role
    assert not any(s.startswith(("culto.events", "$KV.")) for s in PERMISSIONS["frontend"].publish)
    assert not any(s.startswith("culto.api") for s in PERMISSIONS["worker"].subscribe)
    assert not PERMISSIONS["worker"].allow_responses and PERMISSIONS["api"].allow_responses
    assert not any(s.startswith(("culto.", "$KV.", "$O.")) for s in PERMISSIONS["tail"].publish)


def _k8s_conf(path: Path) -> str:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return str(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["nats.conf"])


@pytest.mark.parametrize(
    "path", ["k8s/base/nats/configmap.yaml", "k8s/overlays/dev/nats-config.yaml"]
)
def test_kubernetes_nats_config_grants_exactly_what_the_module_says(path: str) -> None:
    conf = _k8s_conf(REPO / path)
    match = re.search(r"^( *)authorization \{", conf, re.MULTILINE)
    assert match, f"{path}: no authorization block"
    expected = authorization_block(
        {role: f"${role.upper()}_PASSWORD" for role in ROLES}, indent=match.group(1)
    )
    assert expected in conf, f"{path}: regenerate with 'python -m mesh.permissions'"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")
@pytest.mark.timeout(60)
async def test_the_kubernetes_nats_config_serves_tls_to_the_role_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs, other = tmp_path / "certs", tmp_path / "other"
    make_test_ca(certs, "culto-test-ca")
    make_test_ca(other, "someone-else")
    # The dev overlay's nats.conf as Kubernetes mounts it, paths pointed at this test's files.
    conf = _k8s_conf(REPO / "k8s/overlays/dev/nats-config.yaml")
    # (the store directory and the ports are EmbeddedNatsServer's command-line options)
    conf = conf.replace("/etc/nats-tls", str(certs)).replace('store_dir: "/data"', "")
    conf = conf.replace("/var/run/nats", str(tmp_path)).replace("http_port: 8222", "")
    (tmp_path / "nats.conf").write_text(conf)
    users = {role: NatsCredentials(role, secrets.token_hex(16)) for role in ROLES}
    monkeypatch.setenv("SERVER_NAME", "nats-0")
    monkeypatch.setenv("CLIENT_ADVERTISE", "localhost:4222")
    for role, creds in users.items():
        monkeypatch.setenv(f"{role.upper()}_PASSWORD", creds.password)
    server = EmbeddedNatsServer(store_dir=tmp_path / "js", config_file=tmp_path / "nats.conf")
    async with server:
        url = f"tls://localhost:{server.client_port}"

        def conn(role: Role, ca: Path) -> MeshConnection:
            return MeshConnection(
                url, name=role, credentials=users[role], tls_ca=ca, inbox_prefix=inbox_prefix(role)
            )

        async with conn("provision", certs / "ca.crt") as admin:
            await provision(admin, StreamPolicy())
        async with conn("frontend", certs / "ca.crt") as frontend:
            assert await EventReader(frontend).last_seq() == 0
            assert frontend.nc.connected_url is not None
            assert frontend.nc.connected_url.scheme == "tls"
        with pytest.raises(ConfigError, match=r"^NATS_CA_FILE: TLS with NATS"):
            await conn("worker", other / "ca.crt").open()
        wrong = MeshConnection(
            url, name="w", credentials=NatsCredentials("worker", "x"), tls_ca=certs / "ca.crt"
        )
        with pytest.raises(ConfigError, match=r"^NATS_USER/NATS_PASSWORD"):
            await wrong.open()
