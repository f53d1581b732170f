"""What the tests share besides fixtures: a cookie-keeping HTTP client, JSON-error checks and
the one polling helper (for conditions that have no event to await)."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import IO, Any

from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from access.principals import Credential, CredentialKind
from frontend_server.events.conn import CloseReason, Connection
from frontend_server.events.hub import EventHub
from mesh.catalog_client import VideoApiClient
from mesh.connection import MeshConnection
from mesh.events import EventPublisher
from mesh.identity.store import IdentityStore
from ops.server import RunningServer
from schemas.events import VideoStatusEventDTO
from schemas.identity import DEFAULT_CHANNEL_ID, ChannelRole, TokenScope
from schemas.videos import VideoCreate, VideoDTO, VideoListQuery, VideoPage
from services.identity.accounts import Accounts

StartEdge = Callable[..., Awaitable[RunningServer]]
"""``await start_edge(**setting_overrides)``: another frontend, stopped after the test."""

ALLOWED_ORIGIN = "https://app.example"
OTHER_ORIGIN = "https://evil.example"


class Http:
    """``AsyncHTTPClient`` against one server, keeping cookies like a browser would."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.client = AsyncHTTPClient(force_instance=True)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        cookies: bool = True,
    ) -> HTTPResponse:
        """Send one request; never raises on HTTP errors."""
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        if cookies and self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        response = await self.client.fetch(
            self.base_url + path,
            method=method,
            body=body,
            headers=hdrs,
            raise_error=False,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=15,
        )
        for raw in response.headers.get_list("Set-Cookie"):
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    async def csrf(self) -> str:
        """Fetch a token (and the ``_xsrf`` cookie)."""
        response = await self.request("GET", "/api/v2/csrf")
        assert response.code == 200, response.body
        token: str = json.loads(response.body)["csrf_token"]
        return token

    async def send(
        self, method: str, path: str, json_body: Any = None, **kwargs: Any
    ) -> HTTPResponse:
        """A state-changing request with a valid XSRF token."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers["X-XSRFToken"] = await self.csrf()
        return await self.request(method, path, json_body=json_body, headers=headers, **kwargs)

    def close(self) -> None:
        self.client.close()


def body_json(response: HTTPResponse) -> Any:
    """The JSON body (asserting it is JSON)."""
    assert response.body is not None
    return json.loads(response.body)


def assert_json_error(
    response: HTTPResponse, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is ``status`` with a ``{"error": {"code", "message"}}`` body and no trace."""
    assert response.code == status, (response.code, response.body)
    assert response.headers["Content-Type"].startswith("application/json")
    text = response.body.decode()
    assert "Traceback" not in text and 'File "' not in text
    err: dict[str, Any] = json.loads(text)["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    if code is not None:
        assert err["code"] == code, err
    return err


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = 10.0,
    *,
    interval: float = 0.01,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` (sync or async) until it is true; ``TimeoutError`` naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(interval)


async def publish_status(
    pub: EventPublisher, video: str, progress: int = 1, *, message: str = ""
) -> int:
    """Publish a PROCESSING ``video.status`` event on the default channel; its stream sequence."""
    event = VideoStatusEventDTO(
        video_id=video, status="PROCESSING", progress=progress, message=message
    )
    return (await pub.publish(event, channel_id=DEFAULT_CHANNEL_ID)).seq


PASSWORD = "correct horse battery"
"""The password :func:`make_member` gives its users."""


@dataclass(frozen=True)
class Member:
    """A test user with an API token (see :func:`make_member`)."""

    user_id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """The ``Authorization`` header of its token."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def credential(self) -> Credential:
        """Its token as a service call carries it."""
        return Credential(CredentialKind.BEARER, self.token)


class AdminApi:
    """The video API client calling as an admin (services authorize every call)."""

    def __init__(self, client: VideoApiClient, credential: Credential) -> None:
        self.client = client
        self.credential = credential

    async def create(self, body: VideoCreate) -> VideoDTO:
        return await self.client.create(body, self.credential)

    async def get(self, video_id: str) -> VideoDTO:
        return await self.client.get(video_id, self.credential)

    async def delete(self, video_id: str) -> None:
        await self.client.delete(video_id, self.credential)

    async def list(self, query: VideoListQuery) -> VideoPage:
        return await self.client.list(query, self.credential)


async def admin_api(mesh: MeshConnection) -> AdminApi:
    """A new admin user's video API client on ``mesh``."""
    admin = await make_member(Accounts(IdentityStore(mesh)), admin=True)
    return AdminApi(VideoApiClient(mesh), admin.credential)


async def make_member(
    accounts: Accounts,
    *,
    admin: bool = False,
    roles: Mapping[str, ChannelRole] | None = None,
    scope: TokenScope = TokenScope.ADMIN,
    channel: str | None = None,
    expires_in: timedelta | None = None,
    password: str = PASSWORD,
) -> Member:
    """A user (``password``) with ``roles`` per channel and one token of ``scope``."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.org"
    created = await accounts.add_user(email, password, admin=admin)
    for channel_id, role in (roles or {}).items():
        await accounts.grant(channel_id, created.user.id, role)
    token = await accounts.create_token(
        created.user.id, scope=scope, channel_id=channel, expires_in=expires_in
    )
    return Member(created.user.id, email, token.token)


async def sign_in(http: Http, email: str, password: str) -> None:
    """Sign ``http`` in with email and password (as the page does), then wait until the edge's
    directory knows the session (the KV watch is asynchronous)."""
    response = await http.send("POST", "/api/v2/auth/login", {"email": email, "password": password})
    assert response.code == 204, response.body

    async def known() -> bool:
        return (await http.request("GET", "/api/v2/auth/me")).code == 200

    await eventually(known, what="the edge knowing the new session")


async def known_to_edge(http: Http, member: Member) -> None:
    """Wait until the edge's directory knows ``member``'s token (the KV watch is asynchronous)."""

    async def accepted() -> bool:
        response = await http.request("GET", "/api/v2/auth/me", headers=member.auth)
        return response.code != 401

    await eventually(accepted, what="the edge accepting a new token")


CULTO = [sys.executable, "-m", "culto_app.cli"]


def culto_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test's environment for a ``culto`` subprocess: no inherited NATS/CULTO variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTO_", "PORT"))}
    env.update({"CULTO_DATA_DIR": str(data_dir), "CULTO_NATS_PORT": "0"}, **extra)
    return env


class CultoProcess:
    """``culto ARGS`` as a real subprocess whose stderr and stdout are read all the time.

    A pipe nobody reads blocks the child once it fills (~64 KiB), so both are drained by
    threads into :attr:`lines`; :meth:`wait_for` waits for a line matching a pattern.
    """

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*CULTO, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(pipe,), daemon=True)
            for pipe in (self.proc.stdout, self.proc.stderr)
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, pipe: IO[str] | None) -> None:
        assert pipe is not None
        for line in pipe:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything printed so far."""
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0, *, start: int = 0) -> re.Match[str]:
        """The first line from index ``start`` on matching ``pattern`` (``TimeoutError``)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if match := regex.search(line):
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._alive()):
                    raise TimeoutError(f"no line matching {pattern!r}; output:\n{self.output}")
                self._changed.wait(min(remaining, 0.2))

    def _alive(self) -> bool:
        return any(r.is_alive() for r in self._readers)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the exit (and the last output); its status."""
        status = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return status

    def stop(self) -> None:
        """Kill it if it still runs (test teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux ``/proc``)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


class SyncClient:
    """A blocking cookie-keeping JSON client (for tests that drive ``culto`` subprocesses or a
    browser): it fetches the XSRF token before its first state-changing request."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = ""

    def login(self, email: str, password: str) -> None:
        """Sign in with email and password, as the page does; the XSRF token is fetched again
        (it is session-bound)."""
        status, body = self.call(
            "POST", "/api/v2/auth/login", {"email": email, "password": password}
        )
        assert status == 204, body
        self._session_known()

    def _session_known(self) -> None:
        self.token = ""
        deadline = time.monotonic() + 10
        while self.call("GET", "/api/v2/auth/me")[0] != 200:
            assert time.monotonic() < deadline, "the session was not known in time"
            time.sleep(0.02)

    def sign_in_once(self, output: str) -> None:
        """Sign in with the one-time link ``culto up`` printed on its first run (in ``output``),
        as a browser opening it does; the XSRF token is fetched again (it is session-bound)."""
        match = re.search(r"/login#once=([A-Za-z0-9_-]+)", output)
        assert match, "culto up printed no one-time login link"
        status, body = self.call("POST", "/api/v2/auth/login", {"once": match.group(1)})
        assert status == 204, body
        self._session_known()

    def call(
        self, method: str, path: str, body: object = None, *, timeout: float = 30
    ) -> tuple[int, Any]:
        """``(status, JSON body or None)``; never raises on HTTP errors."""
        if method not in ("GET", "HEAD") and not self.token:
            self.token = self.call("GET", "/api/v2/csrf")[1]["csrf_token"]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("X-XSRFToken", self.token)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_test_ca(where: Path, name: str) -> None:
    """A throwaway CA (``ca.crt``, ``ca.key``) and a certificate for localhost/127.0.0.1 signed
    by it (``tls.crt``, ``tls.key``; server and client auth), with openssl, valid one day."""
    where.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
             "-subj", f"/CN={name}", cwd=where)  # fmt: skip
    (where / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl("req", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=localhost",
             cwd=where)  # fmt: skip
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tls.crt", "-days", "1", "-extfile", "ext.cnf",
             cwd=where)  # fmt: skip


class ListSink:
    """Where the hub writes one connection (history and live frames), kept in memory. While
    ``gate`` is clear a write stays pending, as on a full socket: ``push`` returns a future
    that :meth:`release` (or the test) completes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.changed = asyncio.Event()
        self.pushes = 0
        self.pending: asyncio.Future[None] | None = None

    def push(self, data: bytes) -> asyncio.Future[None] | None:
        self.pushes += 1
        self._keep(data)
        if self.gate.is_set():
            return None
        self.pending = asyncio.get_running_loop().create_future()
        return self.pending

    def release(self) -> None:
        """The socket drains: pending writes complete, later ones go through at once."""
        self.gate.set()
        if self.pending is not None and not self.pending.done():
            self.pending.set_result(None)

    def _keep(self, data: bytes) -> None:
        self.chunks.append(data)
        self.changed.set()

    def ids(self) -> list[int]:
        """The SSE ids written so far, in order."""
        text = b"".join(self.chunks).decode()
        return [int(line[4:]) for line in text.split("\n") if line.startswith("id: ")]

    async def wait_for_id(self, seq: int, timeout: float = 10.0) -> list[int]:
        """The ids once one at or above ``seq`` was written."""
        async with asyncio.timeout(timeout):
            while not self.ids() or self.ids()[-1] < seq:
                self.changed.clear()
                await self.changed.wait()
        return self.ids()


class _Ended:
    """The owner of an attached connection: remembers why the hub ended it."""

    def __init__(self) -> None:
        self.reason: asyncio.Future[CloseReason] = asyncio.get_running_loop().create_future()

    def ended(self, reason: CloseReason) -> None:
        if not self.reason.done():
            self.reason.set_result(reason)


async def served(hub: EventHub, conn: Connection, sink: ListSink) -> CloseReason:
    """Serve ``conn`` into ``sink`` as the edge serves a detached stream
    (:meth:`EventHub.attach`) until the hub ends it: why it did. Cancelled: the client left."""
    owner = _Ended()
    hub.attach(conn, sink, owner)
    try:
        return await owner.reason
    finally:
        hub.disconnect(conn)  # nothing if the hub ended it already


def spoken_wav(path: Path, text: str, *, speed: int, gap: int) -> Path:
    """``text`` spoken in Brazilian Portuguese by espeak-ng into ``path`` (``speed`` words a
    minute, ``gap`` tens of ms between words); skips the test when espeak-ng is missing."""
    import pytest  # only the speech tests need it here

    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    command = [exe, "-v", "pt-br", "-s", str(speed), "-g", str(gap), "-w", str(path), text]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path
