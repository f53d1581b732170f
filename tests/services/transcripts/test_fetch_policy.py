"""The fetch policy (SSRF guard) against real local servers: hosts, addresses, redirects, leaks.

Every server here listens on loopback, which the default policy refuses. A test that needs a
first hop trusts exactly that server's ``(ip, port)``; every other loopback port stays refused,
which is what a redirect to an internal service looks like.
"""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from culto.errors import ConfigError, CultoError, PermanentStageError, TransientStageError
from services.transcripts import download_audio
from services.transcripts.fetch_policy import (
    DEFAULT_FETCH_POLICY,
    FetchPolicy,
    FetchRefused,
    address_problem,
)

BANNER = b'INFO {"server_id":"NDXSECRETBANNER42","version":"2.10.22","max_payload":1048576}\r\n'
SECRET_REASON = "SECRETREASONPHRASE"


class Listener:
    """A TCP port that is listened on but never accepts: shows whether anyone connected."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def connections(self) -> int:
        """Connections the kernel completed (queued for accept) so far."""
        self.sock.setblocking(False)
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def close(self) -> None:
        self.sock.close()


class BannerServer:
    """Answers every connection with a NATS-like ``INFO`` banner, as a scanned port would."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.hits += 1
                conn.sendall(BANNER)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _RedirectServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/secret-status"):
            self.send_response(503, SECRET_REASON)
        else:
            self.send_response(302)
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET


class _RedirectServer(http.server.ThreadingHTTPServer):
    location = ""


@pytest.fixture
def redirector() -> Iterator[_RedirectServer]:
    """An HTTP server on loopback answering 302 to its ``location`` (503 on /secret-status)."""
    server = _RedirectServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    item = Listener()
    yield item
    item.close()


@pytest.fixture
def banner() -> Iterator[BannerServer]:
    item = BannerServer()
    yield item
    item.close()


def trusting(port: int) -> FetchPolicy:
    """Loopback refused, except the one test server at ``port``."""
    return FetchPolicy(
        allowed_hosts=frozenset({"127.0.0.1"}),
        trusted_endpoints=frozenset({("127.0.0.1", port)}),
    )


def _public_text(error: CultoError) -> str:
    """Everything of an error that reaches the record and the events."""
    return json.dumps(error.to_dict())


# --- addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:a00:1::1", "private"),
        ("fe80::1%eth0", "link-local"),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_non_public_addresses_are_refused(ip: str, problem: str) -> None:
    assert address_problem(ip) == problem
    with pytest.raises(FetchRefused):
        DEFAULT_FETCH_POLICY.check_endpoint(ip, 443)


@pytest.mark.parametrize("ip", ["8.8.8.8", "142.250.72.14", "2001:4860:4860::8888"])
def test_public_addresses_pass(ip: str) -> None:
    assert address_problem(ip) is None
    DEFAULT_FETCH_POLICY.check_endpoint(ip, 443)


def test_trusting_one_endpoint_trusts_nothing_else() -> None:
    policy = trusting(8080)
    policy.check_endpoint("127.0.0.1", 8080)
    for ip, port in (("127.0.0.1", 4222), ("127.0.0.2", 8080), ("::1", 8080)):
        with pytest.raises(FetchRefused):
            policy.check_endpoint(ip, port)


def test_defaults_are_youtube_and_public_only() -> None:
    policy = FetchPolicy()
    assert policy.allowed_hosts == {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "youtu.be",
        "music.youtube.com",
    }
    assert not policy.allow_private_addresses and not policy.trusted_endpoints


@pytest.mark.parametrize("hosts", [frozenset(), frozenset({"YouTube.com"}), frozenset({"a/b"})])
def test_bad_host_lists_are_config_errors(hosts: frozenset[str]) -> None:
    with pytest.raises(ConfigError, match=r"^CULTO_ALLOWED_VIDEO_HOSTS: "):
        FetchPolicy(allowed_hosts=hosts)


# --- submitted URLs ----------------------------------------------------------------------


def test_check_url_refuses_hosts_not_allowed() -> None:
    with pytest.raises(FetchRefused, match=r"only videos from .*youtube\.com"):
        DEFAULT_FETCH_POLICY.check_url("https://vimeo.com/1")
    with pytest.raises(FetchRefused, match="http"):
        DEFAULT_FETCH_POLICY.check_url("ftp://youtube.com/x")


LOCAL_NAMES = frozenset({"localhost", "127.0.0.1"})


@pytest.mark.parametrize(
    "url", ["http://localhost:4222/", "http://127.0.0.1/", "http://LOCALHOST:8222/varz"]
)
def test_check_url_refuses_allowed_hosts_resolving_to_loopback(url: str) -> None:
    with pytest.raises(FetchRefused, match="may not be fetched from"):
        FetchPolicy(allowed_hosts=LOCAL_NAMES).check_url(url)
    # The operator's explicit opt-in (CULTO_ALLOW_PRIVATE_FETCH=1) lets them through.
    FetchPolicy(allowed_hosts=LOCAL_NAMES, allow_private_addresses=True).check_url(url)


def test_ipv6_literals_are_not_allowed_hosts() -> None:
    with pytest.raises(FetchRefused, match="only videos from"):
        FetchPolicy(allowed_hosts=LOCAL_NAMES).check_url("http://[::1]:8222/varz")


def test_check_url_lets_unresolvable_names_through_to_the_connection_check() -> None:
    FetchPolicy(allowed_hosts=frozenset({"video.invalid"})).check_url("https://video.invalid/x")


# --- downloads ---------------------------------------------------------------------------


def test_download_refuses_loopback_by_default(listener: Listener, tmp_path: Path) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}))
    with pytest.raises(PermanentStageError) as info:
        download_audio(f"http://127.0.0.1:{listener.port}/a.mp3", tmp_path, policy=policy)
    assert info.value.code == "url_not_allowed"
    assert listener.connections() == 0


def test_download_refuses_hosts_not_allowed(tmp_path: Path) -> None:
    with pytest.raises(PermanentStageError) as info:
        download_audio("https://vimeo.com/76979871", tmp_path)
    assert info.value.code == "url_not_allowed"


@pytest.mark.parametrize("target_host", ["127.0.0.1", "localhost"])
def test_redirect_to_another_loopback_port_is_refused_before_connecting(
    redirector: _RedirectServer, listener: Listener, target_host: str, tmp_path: Path
) -> None:
    redirector.location = f"http://{target_host}:{listener.port}/varz"
    policy = trusting(redirector.server_address[1])
    with pytest.raises(PermanentStageError) as info:
        download_audio(
            f"http://127.0.0.1:{redirector.server_address[1]}/sermon.mp3", tmp_path, policy=policy
        )
    assert info.value.code == "url_not_allowed"
    assert listener.connections() == 0  # refused before any connection was made
    assert str(listener.port) not in info.value.message


def test_redirect_to_a_trusted_first_hop_still_needs_the_policy(
    redirector: _RedirectServer, banner: BannerServer, tmp_path: Path
) -> None:
    # The same redirect with private addresses allowed does reach the target: the refusal
    # above comes from the policy, not from the redirect itself failing.
    redirector.location = f"http://127.0.0.1:{banner.port}/varz"
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_private_addresses=True)
    with pytest.raises(TransientStageError):
        download_audio(
            f"http://127.0.0.1:{redirector.server_address[1]}/sermon.mp3", tmp_path, policy=policy
        )
    assert banner.hits >= 1


@pytest.mark.parametrize("target", ["ftp://127.0.0.1:{port}/a.mp3", "file:///etc/passwd"])
def test_redirect_to_other_schemes_is_not_followed(
    redirector: _RedirectServer, listener: Listener, target: str, tmp_path: Path
) -> None:
    redirector.location = target.format(port=listener.port)
    policy = trusting(redirector.server_address[1])
    with pytest.raises(CultoError) as info:
        download_audio(
            f"http://127.0.0.1:{redirector.server_address[1]}/a.mp3", tmp_path, policy=policy
        )
    assert "root:" not in _public_text(info.value)
    assert listener.connections() == 0
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_scanned_ports_banner_never_reaches_the_error(
    banner: BannerServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_private_addresses=True)
    with (
        caplog.at_level(logging.WARNING, logger="services.transcripts.audio"),
        pytest.raises(TransientStageError) as info,
    ):
        download_audio(f"http://127.0.0.1:{banner.port}/a.mp3", tmp_path, policy=policy)
    assert banner.hits >= 1
    assert info.value.code == "download_network_error"
    public = _public_text(info.value)
    for part in ("INFO", "server_id", "NDXSECRETBANNER42", "2.10.22", "max_payload"):
        assert part not in public
    # The detail is kept for the operator, in the worker's log, escaped onto one line.
    logged = [r.getMessage() for r in caplog.records if "NDXSECRETBANNER42" in r.getMessage()]
    assert logged and all("\n" not in m and "\r" not in m for m in logged)


def test_an_http_reason_phrase_never_reaches_the_error(
    redirector: _RedirectServer, tmp_path: Path
) -> None:
    policy = trusting(redirector.server_address[1])
    with pytest.raises(TransientStageError) as info:
        download_audio(
            f"http://127.0.0.1:{redirector.server_address[1]}/secret-status",
            tmp_path,
            policy=policy,
        )
    assert info.value.code == "download_http_error"
    assert info.value.details["http_status"] == 503
    assert SECRET_REASON not in _public_text(info.value)


def test_proxies_from_the_environment_are_not_used(
    listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would resolve and connect on the worker's behalf, out of the policy's sight.
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{listener.port}")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{listener.port}")
    with socket.socket() as s:  # a port nobody listens on (bound, then released)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientStageError) as info:
        download_audio(f"http://127.0.0.1:{port}/a.wav", tmp_path, policy=trusting(port))
    assert info.value.code == "download_network_error"  # tried directly, refused by the OS
    assert listener.connections() == 0
