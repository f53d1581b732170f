"""Where the worker may fetch media from: the SSRF guard of audio downloads.

A submitted URL is fetched by the worker on the user's behalf, so without a guard a user could
make the worker talk to anything it can reach: the NATS server, the Kubernetes API, a cloud
metadata endpoint. :class:`FetchPolicy` closes that in two places:

- **the submitted URL**: its host must be one of ``allowed_hosts`` (YouTube's by default,
  ``CULTO_ALLOWED_VIDEO_HOSTS``), checked at submit and again before a download;
- **every connection** made for a download, redirects and yt-dlp's own requests included:
  :meth:`FetchPolicy.connect` resolves the name, refuses when *any* address is loopback,
  private, link-local, multicast, reserved, unspecified or otherwise not global (IPv4 inside
  IPv6 included), and then connects to exactly the addresses it checked. Checking and
  connecting use the same resolution, so DNS rebinding cannot slip another address in between.

A refusal is :class:`FetchRefused` (an :class:`OSError`, so that HTTP libraries carry it through
their own error wrapping); its message names the host, never anything a server answered.

``allow_private_addresses`` (``CULTO_ALLOW_PRIVATE_FETCH=1``) turns the address check off, for
a closed network or tests; it is unsafe on the internet. ``trusted_endpoints`` lets a test
trust exactly one ``(ip, port)``; settings never set it.

This module reads no environment and keeps no state: the roles build a policy and pass it in.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from culto.errors import ConfigError

DEFAULT_VIDEO_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "music.youtube.com"}
)
"""YouTube's hosts: the only ones a submitted ``url`` may name unless configured otherwise."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchRefused(OSError):
    """The policy refuses this fetch (a host not allowed, or a non-public address)."""


def address_problem(ip: str) -> str | None:
    """Why ``ip`` must not be fetched from (``"loopback"``, ``"private"``...), or ``None``.

    IPv4 addresses carried inside IPv6 (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``,
    6to4 ``2002::/16``) are judged by the IPv4 address they carry.
    """
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            ip.split("%", 1)[0]
        )
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        elif addr in _NAT64:
            addr = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        elif addr.sixtofour is not None:
            addr = addr.sixtofour
    for problem, flag in (
        ("unspecified", addr.is_unspecified),
        ("loopback", addr.is_loopback),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("reserved", addr.is_reserved),
        ("private", addr.is_private),
    ):
        if flag:
            return problem
    if not addr.is_global:
        return "not public"  # e.g. 100.64.0.0/10 (carrier-grade NAT, some cloud metadata)
    return None


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Which URLs and addresses the worker may fetch media from.

    Attributes:
        allowed_hosts: Hosts a submitted URL may name (exact, lower-case, no trailing dot).
            Redirects and the requests a site's extractor makes (YouTube's media servers)
            may go elsewhere, but only to public addresses.
        allow_private_addresses: Skip the address check (``CULTO_ALLOW_PRIVATE_FETCH=1``).
            Unsafe wherever users can submit URLs: the worker can then reach internal services.
        trusted_endpoints: ``(ip, port)`` pairs exempt from the address check. For tests,
            which serve media on loopback: trusting one server's port still refuses every
            other loopback port. Never set by the settings.
    """

    allowed_hosts: frozenset[str] = DEFAULT_VIDEO_HOSTS
    allow_private_addresses: bool = False
    trusted_endpoints: frozenset[tuple[str, int]] = frozenset()

    def __post_init__(self) -> None:
        if not self.allowed_hosts or any(
            not h or h != h.strip().lower().rstrip(".") or "/" in h or ":" in h
            for h in self.allowed_hosts
        ):
            raise ConfigError(
                "CULTO_ALLOWED_VIDEO_HOSTS: give lower-case host names, e.g. youtube.com,youtu.be"
            )

    def host_allowed(self, host: str | None) -> bool:
        """Whether a submitted URL may name ``host``."""
        return bool(host) and (host or "").lower().rstrip(".") in self.allowed_hosts

    def check_endpoint(self, ip: str, port: int) -> None:
        """Raise :class:`FetchRefused` unless a connection to ``ip``:``port`` is allowed."""
        if self.allow_private_addresses or (ip, port) in self.trusted_endpoints:
            return
        if problem := address_problem(ip):
            raise FetchRefused(f"a {problem} address may not be fetched from")

    def resolve(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """Resolve ``host`` and check every address; :class:`FetchRefused` if any is refused.

        Raises:
            FetchRefused: an address is not allowed (the message names ``host``).
            OSError: the name does not resolve (:class:`socket.gaierror`).
        """
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        if not infos:
            raise OSError(f"no address found for {host!r}")
        for info in infos:
            try:
                self.check_endpoint(str(info[4][0]), port)
            except FetchRefused as exc:
                raise FetchRefused(
                    f"{host[:100]!r} resolves to an address that may not be fetched from ({exc})"
                ) from None
        return infos

    def check_url(self, url: str) -> None:
        """Check a submitted URL: http(s), an allowed host, and no refused address.

        A name that does not resolve (offline, DNS trouble) passes here: every connection is
        checked again by :meth:`connect`, which is the real gate.

        Raises:
            FetchRefused: saying why, in words fit for the user.
        """
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise FetchRefused("only http(s) links are accepted")
        if not self.host_allowed(host):
            hosts = ", ".join(sorted(self.allowed_hosts))
            raise FetchRefused(f"only videos from {hosts} are accepted")
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise FetchRefused("the link has an invalid port") from None
        try:
            self.resolve(host, port)
        except FetchRefused:
            raise
        except (OSError, UnicodeError):
            return

    def connect(
        self,
        address: tuple[str, int],
        timeout: object = None,
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        """:func:`socket.create_connection`, to checked addresses only (see :meth:`resolve`).

        The addresses connected to are the ones just checked: no second resolution.
        """
        host, port = address
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in self.resolve(host, port):
            if source_address is not None and (":" in source_address[0]) != (
                family == socket.AF_INET6
            ):
                continue
            sock = socket.socket(family, kind, proto)
            try:
                if isinstance(timeout, int | float):  # not socket._GLOBAL_DEFAULT_TIMEOUT
                    sock.settimeout(timeout)
                if source_address is not None:
                    sock.bind(source_address)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            return sock
        raise error or OSError(f"no usable address for {host[:100]!r}")


DEFAULT_FETCH_POLICY = FetchPolicy()
"""YouTube's hosts, public addresses only: what every component uses unless told otherwise."""
