"""What every answer passes through, whatever endpoint or error produced it: the caller's
address, the response headers, and the access log line. One falcon middleware, so a 404,
a 405 or a 500 gets the same headers and the same log line as a read.
"""
import atexit
import ipaddress
import os
import re
import sys
import threading
import time
from datetime import datetime, timezone
from urllib.parse import quote, unquote_plus

# Answers carry records and credentials: never sniffed into something else, never cached.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

# Parameters whose values never reach a log line: api_key and api_key_decrypt_password,
# however a client or an attacker spells them. A query part is redacted when its text, decoded
# as often as it was encoded and case-folded, holds one of these anywhere: in its name
# (api_key[]=, API%5FKEY=, api%255Fkey=) or in a value the parser could not split on its own
# (x=%zz?api_key=...). Over-redacting costs a log reader a value; under-redacting leaks a key.
SECRET_MARKERS = ("api_key", "api-key", "apikey", "decrypt_password", "password")


class TrustedProxies:
    """Peers whose X-Forwarded-For is believed: addresses or CIDR ranges."""

    def __init__(self, spec):
        self.networks = []
        for item in spec.split():
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"[server] trusted_proxies: {item!r} is not an address or CIDR range") from None

    def __contains__(self, address):
        if not self.networks:  # the usual case, and no address parsing per request
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_address(self, peer, forwarded):
        """The caller: walking X-Forwarded-For from the right (each proxy appends the peer it
        saw), the first address that is not one of ours. The leftmost entries are whatever
        the caller wrote, so they are never believed."""
        if not forwarded or peer not in self:
            return peer
        address = peer
        for hop in reversed([h.strip() for h in forwarded.split(",")]):
            if not hop:
                continue
            address = hop
            if hop not in self:
                break
        return address


# A query-string part that can go into a log line as it came: no quote, space, control
# character or non-ASCII (anything else is re-quoted).
_LOGGABLE = re.compile(r"[A-Za-z0-9._~%+=\-\[\]:,*/!$'()@?]*")


def _decoded(text):
    """`text` percent-decoded until it stops changing (three rounds at most), case-folded."""
    for _ in range(3):
        if "%" not in text and "+" not in text:
            break
        text = unquote_plus(text)
    return text.lower()


def _holds_secret(text):
    decoded = _decoded(text)
    return any(marker in decoded for marker in SECRET_MARKERS)


_SECRET_NAMES = ("api_key", "api_key_decrypt_password")


def _shown_name(name):
    """The name of a redacted part as the log shows it: a plain name as it is, one of the
    secret names without whatever followed it (api_key[...]), anything else not at all."""
    base = _decoded(name).split("[")[0]
    if base in _SECRET_NAMES:
        return base
    return quote(name, safe="[]") if _LOGGABLE.fullmatch(name) and not _holds_secret(name) else "[redacted]"


def redacted_path(path, query_string):
    """The request target with secret parameter values replaced, for logs (SECRET_MARKERS)."""
    if not query_string:
        return path
    parts = []
    for part in query_string.split("&"):
        name, _, value = part.partition("=")
        plain = unquote_plus(name) if "%" in name or "+" in name else name
        if _holds_secret(part):
            part = f"{_shown_name(plain)}=[redacted]"
        elif not _LOGGABLE.fullmatch(part):
            part = f"{quote(plain, safe='[]')}={quote(unquote_plus(value), safe='[]:,*')}"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}"


def redacted_url(url):
    """A URL from a header (Referer) with its query redacted as the request's own is."""
    if not url or "?" not in url:
        return url
    base, _, query = url.partition("?")
    return redacted_path(base, query)


class AccessLog:
    """One line per request, written straight to its stream under a lock: the logging
    module's record machinery cost more than the rest of the edge layer together. Lines are
    flushed by a background thread every FLUSH_SECONDS (and at exit), not one system call
    per request: a process killed outright loses at most that much of its log."""

    FLUSH_SECONDS = 0.5

    def __init__(self):
        self.stream = None
        self._opened = None  # the log file it opened (closed when it opens another), or None
        self._lock = threading.Lock()
        self._second, self._stamp = None, ""
        self._dirty = False
        self._flusher = None
        # A forked worker (waitress' pre-forked ones, granian's) has the stream but not the
        # thread that flushes it: without one of its own its lines sat in the buffer.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self):
        self._lock = threading.Lock()
        self._flusher = None
        if self.stream is not None:
            self._start_flusher()

    def _start_flusher(self):
        self._flusher = threading.Thread(target=self._flush_loop, name="access-log", daemon=True)
        self._flusher.start()

    def _flush_loop(self):
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def flush(self):
        with self._lock:
            if self._dirty and self.stream is not None:
                try:
                    self.stream.flush()
                except (OSError, ValueError):
                    pass
            self._dirty = False

    @property
    def enabled(self):
        return self.stream is not None

    def open(self, target):
        """stderr ("-"), a file (a path) or nowhere ("off")."""
        self.flush()
        if self._opened is not None:  # only a file it opened itself: never stderr, whatever sys.stderr is now
            self._opened.close()
            self._opened = None
        if target in ("off", "none", ""):
            self.stream = None
        elif target == "-":
            self.stream = sys.stderr
        else:
            self.stream = self._opened = open(target, "a", encoding="utf-8", buffering=1 << 16)
        if self.stream is not None and self._flusher is None:
            self._start_flusher()
            atexit.register(self.flush)

    def stamp(self):
        second = int(time.time())
        if second != self._second:  # formatted once a second, not once a request
            self._second = second
            self._stamp = datetime.fromtimestamp(second, timezone.utc).astimezone().strftime("%d/%b/%Y:%H:%M:%S %z")
        return self._stamp

    def write(self, line):
        stream = self.stream
        if stream is None:
            return
        with self._lock:
            try:
                stream.write(line + "\n")
                self._dirty = True
            except (OSError, ValueError):  # a closed or full stream must not fail the request
                pass


access_log = AccessLog()


def configure_access_log(target):
    access_log.open(target)


def _quoted(text):
    return (text or "-").replace("\\", "\\\\").replace('"', '\\"')


class EdgeMiddleware:
    """Headers on every answer and one access log line per request."""

    def __init__(self, proxies):
        self.proxies = proxies

    def process_request(self, req, resp):
        req.context.started = time.perf_counter()
        req.context.client_ip = self.proxies.client_address(req.remote_addr or "", req.get_header("X-Forwarded-For"))
        req.context.key_name = None

    def process_response(self, req, resp, resource, req_succeeded):
        for name, value in SECURITY_HEADERS.items():
            resp.set_header(name, value)
        if not access_log.enabled:
            return
        started = getattr(req.context, "started", None)
        micros = int((time.perf_counter() - started) * 1e6) if started else 0
        size = len(resp.data) if resp.data is not None else 0
        target = redacted_path(req.path, req.query_string)
        access_log.write(
            f'{getattr(req.context, "client_ip", None) or req.remote_addr or "-"} - - [{access_log.stamp()}] '
            f'"{req.method} {target} {req.env.get("SERVER_PROTOCOL", "HTTP/1.1")}" {str(resp.status)[:3]} '
            f'{size or "-"} "{_quoted(redacted_url(req.referer))}" "{_quoted(req.user_agent)}" {micros}us '
            f'"{_quoted(getattr(req.context, "key_name", None))}"')
