"""Rate limits, in one layer: failed authentications per address and per presented key
(answered 429 with Retry-After) and a request quota per key (X-RateLimit-* headers on
every authenticated answer).

The counting itself is the `limits` library's fixed-window strategy. Its counters must be
shared by every process and host serving the database, so they live in a storage all of
them reach: the database itself by default (DatabaseStorage below, a table of our own;
no extra service for an on-prem install), or Redis / Memcached when [limits] storage names
one (limits' own storages).

What a request costs: nothing extra on the success path for authentication limits (an
address is only counted when it fails, and a process remembers locally which addresses and
keys are blocked until their window ends); the per-key quota is counted in the process and
added to the shared counter at most every `quota_sync_seconds` (and whenever a twentieth
of the quota has piled up), so the database sees one statement per key per process per
second instead of one per request. The price is a documented overshoot: across N
processes a key can exceed its quota by at most N × (one sync interval's requests, capped
at a twentieth of the quota). With Redis or Memcached, counts go to the storage on every
request (sync interval 0) and are exact.
"""
import hashlib
import importlib.util
import threading
import time
from dataclasses import dataclass

import limits
from limits.errors import ConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ..core import retry
from ..db.errors import DatabaseError
from .config import ConfigError

# Our own table (ITFlow has none like it). The statements below are plain SQL that both
# backends run unchanged, so nothing here needs to know which database it is.
COUNTER_TABLE = """CREATE TABLE IF NOT EXISTS itflow_api_counters (
    counter_key VARCHAR(190) NOT NULL PRIMARY KEY,
    counter_value BIGINT NOT NULL,
    counter_expires_at DOUBLE NOT NULL
)"""
_BUMP = ("UPDATE itflow_api_counters SET "
         "counter_value = CASE WHEN counter_expires_at <= :now THEN :amount ELSE counter_value + :amount END, "
         "counter_expires_at = CASE WHEN counter_expires_at <= :now THEN :expires ELSE counter_expires_at END "
         "WHERE counter_key = :key")
_READ = "SELECT counter_value, counter_expires_at FROM itflow_api_counters WHERE counter_key = :key"
COUNTER_ATTEMPTS = 8


class DatabaseStorage(Storage):
    """A `limits` storage over our own counter table in the served database."""

    STORAGE_SCHEME = ["itflow-db"]

    def __init__(self, db, **options):
        super().__init__(uri=None, **options)
        self.db = db
        with db.transaction(write=True):
            db.execute(COUNTER_TABLE)

    @property
    def base_exceptions(self):
        return (DatabaseError,)

    def incr(self, key, expiry, amount=1, elastic_expiry=False):
        # Two hosts bumping one counter through different Galera nodes conflict; the loser's
        # bump was rolled back, so it runs again (else the count would be lost).
        return retry.again(lambda: self._incr(key, expiry, amount), COUNTER_ATTEMPTS)

    def _incr(self, key, expiry, amount):
        now = time.time()
        binds = {"key": key, "amount": amount, "now": now, "expires": now + expiry}
        with self.db.transaction(write=True):
            if not self.db.execute(_BUMP, binds):
                try:
                    self.db.insert("itflow_api_counters", {"counter_key": key, "counter_value": amount,
                                                           "counter_expires_at": now + expiry})
                except Exception:  # another process inserted it first: count on its row
                    self.db.execute(_BUMP, binds)
            count, _ = self._read(key, now)
        return count

    def _read(self, key, now):
        row = self.db.row(_READ, {"key": key})
        if row is None or float(row["counter_expires_at"]) <= now:
            return 0, None
        return int(row["counter_value"]), float(row["counter_expires_at"])

    def get(self, key):
        with self.db.transaction():
            return self._read(key, time.time())[0]

    def get_expiry(self, key):
        with self.db.transaction():
            return self._read(key, time.time())[1] or time.time()

    def check(self):
        return True

    def reset(self):
        with self.db.transaction(write=True):
            return self.db.execute("DELETE FROM itflow_api_counters")

    def clear(self, key):
        with self.db.transaction(write=True):
            self.db.execute("DELETE FROM itflow_api_counters WHERE counter_key = :key", {"key": key})


@dataclass
class Verdict:
    """What the quota says about one request: allowed or not, and the headers to send."""
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window starts again

    @property
    def headers(self):
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(max(self.remaining, 0)),
                "X-RateLimit-Reset": str(self.reset)}


class _Blocklist:
    """Identifiers this process knows to be over their limit, until their window ends."""

    def __init__(self, clock):
        self._until = {}
        self._clock = clock
        self._lock = threading.Lock()

    def __bool__(self):
        return bool(self._until)

    def retry_after(self, ident):
        until = self._until.get(ident)
        if until is None:
            return 0
        left = until - self._clock()
        if left <= 0:
            with self._lock:
                self._until.pop(ident, None)
            return 0
        return int(left) + 1

    def block(self, ident, until):
        with self._lock:
            if len(self._until) > 10000:  # bounded: forget the oldest half
                for stale in sorted(self._until, key=self._until.get)[:5000]:
                    del self._until[stale]
            self._until[ident] = until


class _KeyQuota:
    """Per-key request quota, counted locally and synced with the shared counter.

    `take()` decides from what this process knows (the shared count at the last sync plus
    its own requests since); `sync()` adds those requests to the shared counter and reads it
    back. The request path calls sync() after its transaction, so a counter statement never
    joins (or waits inside) the request's own transaction."""

    def __init__(self, limiter, item, sync_seconds, clock):
        self.limiter, self.item, self.sync_seconds, self.clock = limiter, item, sync_seconds, clock
        self.batch = max(1, item.amount // 20)
        self._state = {}  # key id → [pending, known shared count, window reset (epoch), last sync]
        self._lock = threading.Lock()

    def take(self, key_id, cost=1):
        """(Verdict, sync due) for `cost` more requests with this key (a batch costs one per
        item): all of them are taken, or none."""
        now = self.clock()
        with self._lock:
            state = self._state.get(key_id)
            if state is None or now >= state[2]:
                if len(self._state) > 10000:
                    self._state.clear()
                state = self._state[key_id] = [0, 0, now + self.item.get_expiry(), 0.0]
            allowed = state[1] + state[0] + cost <= self.item.amount
            if allowed:
                state[0] += cost
            due = state[0] > 0 and (now - state[3] >= self.sync_seconds or state[0] >= self.batch)
            remaining = self.item.amount - state[1] - state[0]
            reset = max(0, int(state[2] - now) + 1)
        return Verdict(allowed, self.item.amount, remaining, reset), due

    def sync(self, key_id):
        with self._lock:
            state = self._state.get(key_id)
            if state is None:
                return
            pending, state[0], state[3] = state[0], 0, self.clock()
        ident = str(key_id)
        if pending:
            self.limiter.hit(self.item, ident, cost=pending)
        stats = self.limiter.get_window_stats(self.item, ident)
        with self._lock:
            state[1] = self.item.amount - stats.remaining
            state[2] = stats.reset_time


def _identifier(text):
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


# Each shared storage's client package, and the extra that installs it.
_STORAGE_CLIENTS = {"redis": ("redis", "redis"), "rediss": ("redis", "redis"),
                    "redis+sentinel": ("redis", "redis"), "redis+cluster": ("redis", "redis"),
                    "memcached": ("pymemcache", "memcached")}


def _shared_storage(url):
    """limits' storage for a redis:// or memcached:// URL, or a one-line ConfigError that
    says what to install (the client package is an extra) or what is wrong with the URL.
    The package is looked for here: some versions of limits import it only on first use."""
    client = _STORAGE_CLIENTS.get(url.split("://", 1)[0].lower())
    if client and importlib.util.find_spec(client[0]) is None:
        raise ConfigError(f"[limits] storage = {url}: its client package is not installed: "
                          f"pip install 'itflow-api[{client[1]}]'")
    try:
        return storage_from_string(url)
    except ConfigurationError as exc:
        raise ConfigError(f"[limits] storage = {url}: {exc} (use database, redis://host:6379 "
                          "or memcached://host:11211)") from None


class RateLimits:
    """The request path's one entry to every limit (settings: the [limits] section)."""

    def __init__(self, settings, db, clock=time.time):
        self.enabled = settings.enabled
        self.clock = clock
        self.blocked = _Blocklist(clock)
        if not self.enabled:
            return
        if settings.storage in ("", "database"):
            storage, sync = DatabaseStorage(db), settings.quota_sync_seconds
        else:
            storage, sync = _shared_storage(settings.storage), 0
        limiter = FixedWindowRateLimiter(storage)
        self._limiter = limiter
        self._per_address = _parse(settings.failed_auth_per_address)
        self._per_key = _parse(settings.failed_auth_per_key)
        quota = _parse(settings.requests_per_key)
        self._quota = _KeyQuota(limiter, quota, sync, clock) if quota else None

    # --- failed authentication ------------------------------------------------------------

    def auth_blocked(self, address, presented):
        """Seconds to wait when this address or this presented key is blocked here, else 0."""
        if not self.enabled or not self.blocked:  # nobody blocked: no hashing per request
            return 0
        return max(self.blocked.retry_after("a:" + address),
                   self.blocked.retry_after("k:" + _identifier(presented)))

    def auth_failed(self, address, presented):
        """Count a failure; seconds to wait when it crossed a limit, else 0."""
        if not self.enabled:
            return 0
        wait = 0
        for item, ident in ((self._per_address, "a:" + address), (self._per_key, "k:" + _identifier(presented))):
            if item is None:
                continue
            if not self._limiter.hit(item, "auth", ident):
                reset = self._limiter.get_window_stats(item, "auth", ident).reset_time
                self.blocked.block(ident, reset)
                wait = max(wait, int(reset - self.clock()) + 1)
        return wait

    # --- per-key quota --------------------------------------------------------------------

    def quota(self, key_id, cost=1):
        """(Verdict, sync due) for `cost` more requests with this key; (None, False) without a quota."""
        if not self.enabled or self._quota is None:
            return None, False
        return self._quota.take(key_id, cost)

    def sync_quota(self, key_id):
        """Share this process's count for the key (call outside the request's transaction)."""
        self._quota.sync(key_id)


def _parse(text):
    text = (text or "").strip()
    if text in ("", "0", "off", "none"):
        return None
    try:
        return limits.parse(text)
    except ValueError:
        raise ConfigError(f"[limits] {text!r} is not a rate: write it as 20/minute, 1000/hour or 0 for none") \
            from None
