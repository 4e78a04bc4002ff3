"""Outbound HTTP for webhooks, safe by default.

A webhook URL is chosen by an API caller, so sending to it must not let that caller reach
what only this server can reach (a database port, an admin page on the LAN, the cloud
metadata service at 169.254.169.254). The rules, checked on every attempt:

* http or https only, a host name or address, no user:password@;
* the host is resolved here, and every address it resolves to must be public: loopback,
  private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), shared/CGNAT
  (100.64/10), multicast, reserved, unspecified and the like are refused unless the
  address is inside a network of `[events] allow_private_targets`;
* the connection goes to the address that was vetted (the host name is kept for the Host
  header and TLS SNI/certificate check), so a second DNS answer cannot swap in another one
  (DNS rebinding);
* redirects are never followed (a 3xx answer is a failed delivery);
* connect and read timeouts, a deadline on the whole exchange, and at most 1 KB of the
  response body is read.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_RESPONSE = 1024   # bytes of a receiver's answer read, at most
EXCERPT = 200         # characters of it kept in the delivery log
USER_AGENT = "itflow-api-webhooks/1"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Refused although `is_global` may call them global, or spelled out for the reader.
_ALWAYS_REFUSED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8")]


class UnsafeTarget(ValueError):
    """The URL may not be used: its message says why (and which setting would allow it)."""


def parse_networks(text: str) -> list[Network]:
    """The networks of an allow_private_targets setting (space- or comma-separated)."""
    networks = []
    for part in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise UnsafeTarget(f"[events] allow_private_targets: {part!r} is not a network "
                               "(write e.g. 127.0.0.1/32 or 10.0.0.0/8)") from None
    return networks


def _plain(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def refusal(address: Address, allowed: list[Network]) -> str | None:
    """Why `address` may not be reached, or None when it may."""
    address = _plain(address)
    if any(address in net for net in allowed if net.version == address.version):
        return None
    kind = None
    if address.is_loopback:
        kind = "loopback"
    elif address.is_link_local or address in ipaddress.ip_network("169.254.0.0/16"):
        kind = "link-local (cloud metadata)"
    elif address.is_multicast:
        kind = "multicast"
    elif address.is_unspecified:
        kind = "unspecified"
    elif address in ipaddress.ip_network("100.64.0.0/10"):
        kind = "shared (CGNAT)"
    elif address.is_private:
        kind = "private"
    elif address.is_reserved or not address.is_global or any(
            address in net for net in _ALWAYS_REFUSED if net.version == address.version):
        kind = "reserved"
    if kind is None:
        return None
    return (f"{address} is a {kind} address, which webhooks may not reach; to allow it, add its network "
            "to [events] allow_private_targets (e.g. " f"{address}/{address.max_prefixlen})")


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str      # as written in the URL (the Host header and TLS server name)
    port: int
    path: str      # path and query, sent as the request target
    address: str   # the vetted address the connection goes to


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL, or UnsafeTarget for one webhooks do not take."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeTarget("url is required: an http:// or https:// address")
    if len(url) > 2000:
        raise UnsafeTarget("url is longer than 2000 characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeTarget("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"url is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTarget("url must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("url must not contain a user name or password (the signature authenticates us)")
    host = parts.hostname or ""
    if not host:
        raise UnsafeTarget("url has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(url: str, allowed: list[Network]) -> Target:
    """The URL's target with a vetted address, or UnsafeTarget. Every address the host
    resolves to must be allowed (an answer mixing public and private ones is refused)."""
    scheme, host, port, path = split_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(f"cannot resolve the host {host!r} of url: {getattr(exc, 'strerror', None) or exc}") from None
    addresses: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeTarget(f"the host {host!r} of url has no address")
    for address in addresses:
        why = refusal(address, allowed)
        if why:
            named = "" if host == str(address) else f"{host} resolves to "
            raise UnsafeTarget(f"url refused: {named}{why}")
    return Target(scheme, host, port, path, str(_plain(addresses[0])))


@dataclass
class Outcome:
    status: int | None          # the receiver's HTTP status, None when there was no answer
    duration_ms: int
    excerpt: str = ""           # the start of the answer's body (at most EXCERPT characters)
    error: str = ""             # why it failed, '' on a 2xx

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the vetted address; self.host stays the URL's host (Host header)."""

    def __init__(self, target: Target, connect_timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=connect_timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    _context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, allowed: list[Network],
         connect_timeout: float, read_timeout: float) -> Outcome:
    """POST `body` to `url` under the rules above; never raises for the receiver's sake."""
    started = time.monotonic()

    def done(status: int | None, error: str = "", excerpt: str = "") -> Outcome:
        return Outcome(status, int((time.monotonic() - started) * 1000), excerpt[:EXCERPT], error[:255])

    try:
        target = resolve(url, allowed)
    except UnsafeTarget as exc:
        return done(None, str(exc))
    cls = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    conn = cls(target, connect_timeout)
    watchdog = None
    try:
        conn.connect()
        sock = conn.sock
        sock.settimeout(read_timeout)
        # A receiver answering one byte at a time must not hold the worker past read_timeout.
        watchdog = threading.Timer(read_timeout + 1, _shut, (sock,))
        watchdog.daemon = True
        watchdog.start()
        conn.putrequest("POST", target.path, skip_accept_encoding=True)
        for name, value in {"User-Agent": USER_AGENT, "Content-Type": "application/json",
                            "Content-Length": str(len(body)), **headers}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        raw = response.read(MAX_RESPONSE)
        excerpt = raw.decode("utf-8", "replace")
        status = response.status
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return done(None, _describe(exc))
    finally:
        if watchdog is not None:
            watchdog.cancel()
        conn.close()
    if 300 <= status < 400:
        return done(status, f"redirect to {response.getheader('Location', '?')[:150]} not followed", excerpt)
    if not 200 <= status < 300:
        return done(status, f"HTTP {status}", excerpt)
    return done(status, "", excerpt)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
