"""Prometheus metrics ([metrics], off by default; pip install 'itflow-api[metrics]').

What is measured, per process and summed over the server's processes:

* itflow_api_requests_total and itflow_api_request_duration_seconds (a histogram): every
  answer, by endpoint, method and status. The endpoint is the route's path as registered
  (never the query string); a path no route matches is counted as "unmatched", so a client
  that makes up paths cannot make up new series.
* itflow_api_rate_limited_total: 429 answers by reason, "quota" (a key's requests per
  minute) or "failed_auth" (too many wrong keys from an address or for one key).
* itflow_api_db_connections_in_use / _idle: this server's database connections.
* itflow_api_webhook_delivery_lag_seconds: how long the oldest event no webhook subscription
  has received yet has been waiting (0 when every subscription is up to date), read from the
  database when scraped.

Nothing is measured, and nothing is added to the request path, unless [metrics] enabled.

Several processes (pre-forked waitress workers, granian): prometheus_client writes each
process's numbers to files in PROMETHEUS_MULTIPROC_DIR, which must be set before the package
is first used in any of them. `share_between_processes()` does that in the serving parent
before its workers start; this module therefore never imports prometheus_client before its
first request or scrape.
"""
from __future__ import annotations

import atexit
import glob
import hmac
import importlib.util
import ipaddress
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import weakref
from typing import Any

from ..core import envelope
from ..db.errors import DatabaseError
from ..events import capture, webhooks
from .config import ConfigError

NAMESPACE = "itflow_api"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the endpoint label of a path no route matches
# Seconds; most answers take a few milliseconds, a slow list read or batch seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
_SAMPLE_SECONDS = 1.0  # how often each process writes its pool numbers when several share the files
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
INSTALL_HINT = "pip install 'itflow-api[metrics]'"


def check(settings: Any) -> None:
    """Refuse at start what cannot work: the package missing, a path falcon cannot route."""
    if not settings.enabled:
        return
    if importlib.util.find_spec("prometheus_client") is None:
        raise ConfigError(f"[metrics] enabled = yes needs the prometheus_client package: {INSTALL_HINT}")
    if not _PATH.fullmatch(settings.path) or settings.path.startswith("/api/v1/"):
        raise ConfigError(f"[metrics] path must be a plain path outside /api/v1/ such as /metrics, got {settings.path!r}")
    _networks(settings.allow)


def _networks(spec: str) -> list:
    networks = []
    for item in spec.split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"[metrics] allow: {item!r} is not an address or CIDR range") from None
    return networks


def attach(app: Any, settings: Any, service: Any) -> None:
    """create_app's one line: with [metrics] enabled, measure every answer and serve the
    metrics at [metrics] path; otherwise do nothing at all."""
    if not settings.enabled:
        return
    check(settings)
    metrics = Metrics(service.db)
    app.add_middleware(_Observer(metrics))
    app.add_route(settings.path, MetricsResource(metrics, settings))


# --- several processes ---------------------------------------------------------------------------

def share_between_processes() -> str:
    """Before forking workers: the directory every process writes its numbers to, emptied of
    a previous run's. PROMETHEUS_MULTIPROC_DIR when the environment sets it, else a fresh
    private one removed when this process ends. Returns it."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="itflow-api-metrics-")
        os.environ[MULTIPROC_ENV] = path
        atexit.register(_remove_if_mine, path, os.getpid())
    if "prometheus_client" in sys.modules:  # imported before the directory was known
        from prometheus_client import values
        values.ValueClass = values.get_value_class()
    return path


def _remove_if_mine(path: str, owner: int) -> None:
    if os.getpid() == owner:  # a forked worker inherits this hook: only the maker removes it
        shutil.rmtree(path, ignore_errors=True)


def _forget_dead_processes(path: str) -> None:
    """Drop the gauge files of workers that are gone (killed, replaced), so that their last
    numbers stop counting towards the live ones. Counters are kept: they are totals."""
    from prometheus_client import multiprocess
    pids = set()
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        digits = name.rsplit("_", 1)[-1][:-len(".db")]
        if digits.isdigit():
            pids.add(int(digits))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:  # alive, someone else's: not ours to judge
            pass


# --- database connections ------------------------------------------------------------------------

_uses: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class PoolUse:
    """This process's connections of one Database: in use (held by a transaction block; a
    block holds one connection from start to end, nested blocks share it) and idle."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.in_use = 0
        self._lock = threading.Lock()
        plain, local = db.transaction, db._local

        def transaction(write: bool = False) -> Any:
            block = plain(write)
            if getattr(local, "conn", None) is not None:  # nested: no connection of its own
                return block
            return _Counted(block, self)
        db.transaction = transaction

    @classmethod
    def of(cls, db: Any) -> PoolUse:
        use = _uses.get(db)
        if use is None:
            use = _uses[db] = cls(db)
        return use

    def change(self, by: int) -> None:
        with self._lock:
            self.in_use += by

    def idle(self) -> int:
        pools = (getattr(self.db, "_pool", None), getattr(self.db, "_write_pool", None))
        return sum(len(pool._idle) for pool in pools if pool is not None)


class _Counted:
    """A transaction block that counts its connection as in use while it runs."""

    __slots__ = ("block", "use")

    def __init__(self, block: Any, use: PoolUse) -> None:
        self.block, self.use = block, use

    def __enter__(self) -> Any:
        self.use.change(1)
        try:
            return self.block.__enter__()
        except BaseException:
            self.use.change(-1)
            raise

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self.block.__exit__(*exc)
        finally:
            self.use.change(-1)


# --- webhook delivery lag --------------------------------------------------------------------------

def delivery_lag(db: Any) -> float | None:
    """Seconds the oldest event not yet received by every enabled subscription has waited:
    the first event after the furthest-behind subscription's position (or one not yet given
    its place in the feed). 0 when all are up to date; None without webhooks."""
    if not webhooks.installed(db) or capture.EVENTS not in db.table_names():
        return None
    age = ("TIMESTAMPDIFF(SECOND, event_at, NOW())" if db.dialect == "mysql"
           else "CAST(strftime('%s', 'now', 'localtime') AS INTEGER) - CAST(strftime('%s', event_at) AS INTEGER)")
    with db.transaction():
        behind = db.scalar(f"SELECT MIN(webhook_event_seq) FROM {webhooks.TABLE} WHERE webhook_enabled = 1")
        if behind is None:
            return 0.0
        ages = [db.scalar(f"SELECT {age} FROM {capture.EVENTS} WHERE event_seq > :seq ORDER BY event_seq LIMIT 1",
                          {"seq": int(behind)}),
                db.scalar(f"SELECT {age} FROM {capture.EVENTS} WHERE event_seq IS NULL ORDER BY event_id LIMIT 1")]
    return float(max([0] + [int(a) for a in ages if a is not None]))


# --- the numbers -------------------------------------------------------------------------------------

class _Instruments:
    """The prometheus_client objects of one process (made on first use, see the module doc)."""

    def __init__(self, use: PoolUse, pool_size: int) -> None:
        import prometheus_client
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        # No *_created series: the same output whether one process answers or several.
        prometheus_client.disable_created_metrics()
        self.shared = os.environ.get(MULTIPROC_ENV)  # several processes write their numbers there
        # One process: this app's own registry. Several: nothing is registered here; a scrape
        # reads every process's files (multiprocess.MultiProcessCollector).
        self.registry = None if self.shared else CollectorRegistry()
        r = self.registry
        labels = ("endpoint", "method", "status")
        self.requests = Counter(f"{NAMESPACE}_requests", "Answers, by endpoint, method and status.", labels, registry=r)
        self.duration = Histogram(f"{NAMESPACE}_request_duration_seconds",
                                  "Time from the request's arrival to its answer, by endpoint, method and status.",
                                  labels, buckets=BUCKETS, registry=r)
        self.limited = Counter(f"{NAMESPACE}_rate_limited", "429 answers, by reason: quota or failed_auth.",
                               ("reason",), registry=r)
        self.in_use = Gauge(f"{NAMESPACE}_db_connections_in_use", "Database connections held by a request or task.",
                            registry=r, multiprocess_mode="livesum")
        self.idle = Gauge(f"{NAMESPACE}_db_connections_idle", "Database connections kept open for the next request.",
                          registry=r, multiprocess_mode="livesum")
        self.pool_size = Gauge(f"{NAMESPACE}_db_pool_size", "Idle connections each process may keep ([database] pool_size).",
                               registry=r, multiprocess_mode="livemax")
        self.pool_size.set(pool_size)
        self.use = use
        self.children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.sample_pool()
        if self.shared:  # the other processes' scrapes read this one's numbers from its file
            threading.Thread(target=self._sample_loop, name="metrics-pool", daemon=True).start()

    def sample_pool(self) -> None:
        self.in_use.set(self.use.in_use)
        self.idle.set(self.use.idle())

    def _sample_loop(self) -> None:
        while True:
            time.sleep(_SAMPLE_SECONDS)
            try:
                self.sample_pool()
            except Exception:  # a metric must never take a thread down with it
                pass

    def series(self, endpoint: str, method: str, status: int) -> tuple[Any, Any]:
        key = (endpoint, method, status)
        found = self.children.get(key)
        if found is None:
            text = str(status)
            found = self.children[key] = (self.requests.labels(endpoint, method, text),
                                          self.duration.labels(endpoint, method, text))
        return found


class Metrics:
    """One app's metrics: what the middleware records and what a scrape reads."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.use = PoolUse.of(db)
        self._instruments: _Instruments | None = None
        self._lock = threading.Lock()

    @property
    def instruments(self) -> _Instruments:
        """Made on first use: by then a serving parent has set up the shared directory (an
        app is made in the process that serves it, never carried across a fork)."""
        made = self._instruments
        if made is None:
            with self._lock:
                if self._instruments is None:
                    self._instruments = _Instruments(self.use, getattr(self.db._pool, "size", 0))
                made = self._instruments
        return made

    def observe(self, req: Any, resp: Any) -> None:
        started = getattr(req.context, "started", None)  # set by EdgeMiddleware.process_request
        seconds = time.perf_counter() - started if started is not None else 0.0
        status = resp.status_code
        method = req.method if req.method in _METHODS else "other"
        count, duration = self.instruments.series(req.uri_template or UNMATCHED, method, status)
        count.inc()
        duration.observe(seconds)
        if status == 429:
            # A key's quota refusal carries the quota's headers; a failed-auth one does not.
            reason = "quota" if resp.get_header("X-RateLimit-Limit") else "failed_auth"
            self.instruments.limited.labels(reason).inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type (OpenMetrics when asked for)."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import choose_encoder
        made = self.instruments
        made.sample_pool()
        if made.shared:
            from prometheus_client import multiprocess
            _forget_dead_processes(made.shared)
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, made.shared)
        else:
            registry = CollectorRegistry()
            registry.register(_Registered(made.registry))
        registry.register(_DeliveryLag(self.db))
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


class _Registered:
    """One registry's metrics, as a collector of another."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def collect(self) -> Any:
        return self.registry.collect()


class _DeliveryLag:
    """The webhook delivery lag, read from the database at scrape time (one value, whichever
    process answers the scrape)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily
        try:
            lag = delivery_lag(self.db)
        except DatabaseError:  # the database is away: the scrape still answers, without it
            return
        if lag is not None:
            yield GaugeMetricFamily(f"{NAMESPACE}_webhook_delivery_lag_seconds",
                                    "Age of the oldest event some enabled webhook subscription has not received.",
                                    value=lag)


# --- HTTP ----------------------------------------------------------------------------------------------

class _Observer:
    """The falcon middleware that records each answer (only added when metrics are on)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def process_response(self, req: Any, resp: Any, resource: Any, req_succeeded: bool) -> None:
        try:
            self.metrics.observe(req, resp)
        except Exception:  # counting must never fail an answer
            pass


class MetricsResource:
    """GET [metrics] path: the Prometheus text. No API key; the address must be allowed
    and, with a token set, the request must carry it as a Bearer token."""

    def __init__(self, metrics: Metrics, settings: Any) -> None:
        self.metrics = metrics
        self.path = settings.path
        self.networks = _networks(settings.allow)
        self.token = settings.token.encode("utf-8") if settings.token else b""

    def refusal(self, req: Any) -> tuple[int, str, dict[str, str]] | None:
        if self.networks:
            try:
                address = ipaddress.ip_address(req.context.client_ip)
            except ValueError:
                address = None
            if address is None or not any(address in net for net in self.networks):
                return 403, (f"{self.path} is not served to this address: add it to [metrics] allow "
                             "(addresses or CIDR ranges)"), {}
        if self.token:
            presented = req.get_header("Authorization") or ""
            scheme, _, value = presented.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode("utf-8"), self.token):
                return 401, (f"{self.path} needs the metrics token: send the header "
                             "Authorization: Bearer <[metrics] token>"), {"WWW-Authenticate": 'Bearer realm="metrics"'}
        return None

    def on_get(self, req: Any, resp: Any) -> None:
        refused = self.refusal(req)
        if refused is not None:
            status, message, headers = refused
            resp.status = status
            resp.content_type = "application/json"
            resp.data = envelope.encode(envelope.failure(message))
            for name, value in headers.items():
                resp.set_header(name, value)
            return
        resp.data, resp.content_type = self.metrics.exposition(req.get_header("Accept"))
