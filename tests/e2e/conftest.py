"""Browser tests: Playwright driving Debian's chromium against real ``culto up`` processes.

Playwright's own browser download is not used: ``/usr/bin/chromium`` is launched with a fresh
profile (``apt-get install chromium``; ``scripts/test`` installs it when run as root). Each
``culto up`` runs as a subprocess with its own ``CULTO_DATA_DIR``, a free HTTP port and an
embedded nats-server on a free port. Screenshots go to ``tests/e2e/artifacts/`` (git-ignored);
their paths are printed.

Users, channels, roles and one-time links are made with :class:`~services.identity.accounts.
Accounts` on the ``culto up``'s own NATS (:meth:`CultoUp.accounts`, as its API role), and the
browser signs in through the page (:func:`sign_in`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from culto_app.instance import read_credentials
from culto_app.tail import url_file
from mesh.connection import MeshConnection
from mesh.identity.store import IdentityStore
from mesh.permissions import inbox_prefix
from schemas.identity import ChannelRole, TokenScope
from services.identity.accounts import Accounts
from tests.support import Member, SyncClient, make_member

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).with_name("artifacts")
CULTO = [sys.executable, "-m", "culto_app.cli"]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
EDITOR = {"default": ChannelRole.EDITOR}
SERMON = (
    "Irmãos, abram em João 3:16. Porque Deus amou o mundo de tal maneira que deu o seu Filho. "
    "Como disse Agostinho, nosso coração é inquieto até que repouse em ti. "
    "Romanos 8:28 diz que todas as coisas cooperam para o bem daqueles que amam a Deus. "
    "A fé vem pelo ouvir, e o ouvir pela palavra de Cristo, Romanos 10:17. "
    "Que a graça, o perdão e a esperança encham o seu coração nesta semana de oração."
)
# Records the id of every event the page's EventSource listeners receive, before the page's own
# handling: what the tests check for gaps and duplicates.
RECORD_EVENT_IDS = """
(() => {
  window.__eventIds = [];
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, listener, options) {
    const wrapped = function (e) {
      if (e.data !== undefined && e.lastEventId && type !== "heartbeat") {
        window.__eventIds.push(Number(e.lastEventId));
      }
      return listener.call(this, e);
    };
    return add.call(this, type, wrapped, options);
  };
})();
"""

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class CultoUp:
    """One ``culto up`` subprocess."""

    proc: subprocess.Popen[str]
    url: str
    log: Path
    data: Path

    def accounts(self, operation: Callable[[Accounts], Awaitable[T]]) -> T:
        """Run ``operation`` with account operations on this instance's own NATS, connected as
        its API role (the one that keeps the identity buckets)."""

        async def run() -> T:
            url = url_file(self.data).read_text(encoding="utf-8").strip()
            async with MeshConnection(
                url,
                name="culto-e2e-accounts",
                credentials=read_credentials(self.data)["api"],
                inbox_prefix=inbox_prefix("api"),
            ) as mesh:
                return await operation(Accounts(IdentityStore(mesh)))

        # Playwright's sync API runs an event loop on this thread: use one of our own elsewhere.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()

    def member(
        self,
        roles: Mapping[str, ChannelRole] | None = None,
        *,
        admin: bool = False,
        password: str = PASSWORD,
    ) -> Member:
        """A new user with ``roles`` (channel id → role) and a write token, once the edge knows
        them (its directory follows the identity buckets asynchronously)."""
        found = self.accounts(
            lambda accounts: make_member(
                accounts, admin=admin, roles=roles, scope=TokenScope.WRITE, password=password
            )
        )
        wanted = set((roles or {}).items())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status, me = bearer_call(self.url, found.token, "GET", "/api/v2/auth/me")
            if status == 200 and wanted <= {(c["id"], c["role"]) for c in me["channels"]}:
                return found
            time.sleep(0.1)
        raise AssertionError(f"the edge did not learn of {found.email} and its roles")

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@dataclass
class CultoFactory:
    """Starts ``culto up`` processes; all are stopped after the test."""

    tmp: Path
    started: list[CultoUp] = field(default_factory=list)

    def __call__(
        self, *, port: int | None = None, data_dir: Path | None = None, **env: str
    ) -> CultoUp:
        data = data_dir or self.tmp / f"data{len(self.started)}"
        variables = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "CULTO_"))}
        variables.pop("PORT", None)
        variables.update(
            {
                "CULTO_DATA_DIR": str(data),
                "CULTO_NATS_PORT": "0",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            },
            **env,
        )
        log = self.tmp / f"culto-up-{len(self.started)}.log"
        with log.open("w") as sink:
            proc = subprocess.Popen(
                [*CULTO, "up", "--port", str(port or free_port())],
                env=variables,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                text=True,
                cwd=self.tmp,
            )
        up = CultoUp(proc, "", log, data)
        self.started.append(up)
        deadline = time.monotonic() + 90  # a busy 2-core machine starts it in seconds, not always
        while time.monotonic() < deadline:
            if match := re.search(r"frontend on (http://\S+)", log.read_text()):
                up.url = match.group(1)
                return up
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("culto up did not start:\n" + log.read_text()[-3000:])

    def stop_all(self) -> None:
        for up in self.started:
            up.stop()


@pytest.fixture
def culto_up(tmp_path: Path) -> Iterator[CultoFactory]:
    factory = CultoFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A chromium context with a fresh profile (one page per ``context.new_page()``)."""
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="culto-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(20_000)
        context.add_init_script(RECORD_EVENT_IDS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def problems() -> Iterator[Callable[[Any], list[str]]]:
    """``watch(page)``: collects console errors, page errors and failed requests of a page."""
    found: list[str] = []

    def watch(page: Any) -> list[str]:
        page.on("pageerror", lambda e: found.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: found.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on(
            "response",
            lambda r: found.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        return found

    yield watch


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and print its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def bearer_call(
    base: str, token: str, method: str, path: str, body: object = None
) -> tuple[int, Any]:
    """One request as a program would send it: ``Authorization: Bearer``, no cookie, no XSRF."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Sign in through the page's form and wait until the page shows the user."""
    page.wait_for_selector("#signin-card:not([hidden])")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.click("#signin-button")
    page.wait_for_selector("#account-signed-in:not([hidden])")
    assert page.text_content("#account-email") == email
    page.wait_for_selector("#connection.conn-live")


class ApiClient(SyncClient):
    """The test's own JSON client, for what a test does outside the browser."""

    def login(self, email: str, password: str = PASSWORD) -> None:
        """Sign this client in (a session cookie) and take the session's XSRF token."""
        status, _ = self.call("POST", "/api/v2/auth/login", {"email": email, "password": password})
        assert status == 204, status
        self.token = ""  # the anonymous token is void now: the next POST fetches the session's
        deadline = time.monotonic() + 10  # the edge learns of the session a moment later
        while self.call("GET", "/api/v2/auth/me")[0] != 200:
            assert time.monotonic() < deadline, "the edge did not learn of the session in time"
            time.sleep(0.02)

    def stream_ids(self, after: int, until: int, timeout: float = 15) -> list[int]:
        """Ids of every event after ``after`` up to ``until``, read back over SSE."""
        ids: list[int] = []
        url = f"{self.base}/api/v2/events/stream?last_event_id={after}"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("id:"):
                    ids.append(int(line[3:]))
                    if ids[-1] >= until:
                        break
        return ids
