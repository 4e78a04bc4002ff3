"""The falcon application: route → parse → authenticate → endpoint → envelope.

`create_app(config, db)` is the factory; it reads no environment variables.
"""
import logging
import secrets
import threading

import falcon

from ..access.keys import KeyStore
from ..access.secret import load_secret
from ..core import envelope, messages, routing
from ..core.endpoint import Caller
from ..core.envelope import ApiError, MethodNotAllowed
from ..db.database import Database
from ..db.errors import CommitUnknown, DatabaseError, StorageFull, ValueRefused
from ..events import feed, webhooks
from ..itflow import version as itflow_version
from . import idempotency, metrics, openapi
from .batch import BatchResource
from .health import HealthResource
from .middleware import EdgeMiddleware, TrustedProxies, configure_access_log
from .params import Params
from .pipeline import Pipeline, Target
from .ratelimit import RateLimits

log = logging.getLogger("itflow_api")

_METHODS = ("get", "post", "put", "patch", "delete", "options", "head", "trace", "connect")


def send(resp, status, body, headers=None):
    resp.status = falcon.code_to_http_status(status)
    if status != 304:  # Not Modified has no body
        resp.content_type = "application/json"
        resp.data = envelope.encode(body)
    for name, value in (headers or {}).items():
        resp.set_header(name, value)


class Service:
    """Everything the request path shares: settings, database, keys, routes."""

    def __init__(self, config, db, keys):
        self.settings = config.server
        self.db = db
        self.keys = keys
        self.itflow = itflow_version.detect(db)  # which ITFlow the database is: read once, here
        self.proxies = TrustedProxies(config.server.trusted_proxies)
        self.limits = RateLimits(config.limits, db)
        self.write_attempts = 1 + config.database.write_retries  # lib/core/retry.py
        self.pipeline = Pipeline(self)  # lib/web/pipeline.py: the path every request takes
        # Reads are Python work and contend for Python's lock, so at most read_threads of them
        # run at once; the other threads are there for writes, which mostly wait on the
        # database (and let it group their commits).
        self.read_gate = threading.BoundedSemaphore(max(1, min(config.server.read_threads, config.server.threads)))


class EndpointResource:
    """Answers one endpoint path; every HTTP method lands here so that a wrong one gets
    the envelope and an Allow header rather than falcon's default."""

    def __init__(self, service, path, endpoint):
        self.service = service
        self.target = Target.of(path, endpoint)
        for method in _METHODS:
            setattr(self, f"on_{method}", self.respond)

    def respond(self, req, resp):
        service, target = self.service, self.target
        if req.method != target.endpoint.method:
            raise MethodNotAllowed(target.endpoint.method)
        params = Params.from_request(req, service.settings.max_body_bytes)
        caller = Caller(ip=req.context.client_ip, user_agent=req.user_agent or "")

        def seen(key):  # the access log names the key, even when the endpoint then refuses
            req.context.key_name = key.name

        def run(record):  # record: the Idempotency-Key's answer, stored in the write's transaction
            store = None if record is None else (lambda session, body: record(session.status, session.headers, body))
            return service.pipeline.single(target, params, caller, before_commit=store, on_key=seen)

        requested = idempotency.requested(req)  # lib/web/idempotency.py; None without the header
        if requested is None and target.endpoint.method == "GET":
            with service.read_gate:
                result = run(None)
        else:
            result = run(None) if requested is None else \
                idempotency.guarded(service, target.path, params.api_key, requested, params.body, run)
        if isinstance(result, idempotency.Replay):
            result.send(resp)
            return
        session, body = result
        send(resp, session.status, body, session.headers)


# --- error handlers: typed errors in, one envelope out --------------------------------

def _api_error(req, resp, ex, params):
    send(resp, ex.status, ex.body(), ex.headers)


def _http_error(req, resp, ex, params):
    if ex.status_code == 404:
        message = messages.UNKNOWN_ENDPOINT.format(path=req.path)
    else:
        message = ex.description or ex.title
    headers = {k: v for k, v in (ex.headers or {}).items() if k.lower() == "allow"}
    send(resp, ex.status_code, envelope.failure(message), headers)


def _value_refused(req, resp, ex, params):
    # The database refused a value the field checks let through: a refusal like any other
    # (HTTP 200, "False"); the request's transaction was rolled back, so nothing was written.
    send(resp, 200, envelope.failure(messages.VALUE_REFUSED.format(reason=ex)))


def _database_error(req, resp, ex, params):
    # The cause is the driver's error class and text (lib/db/database.py keeps secrets out of it);
    # never the query string: it may carry the api_key.
    cause = str(ex) if isinstance(ex, DatabaseError) else type(ex).__name__
    if isinstance(ex, StorageFull):  # 507 Insufficient Storage: retrying soon will not help
        log.error("database disk full on %s %s: %s", req.method, req.path, cause)
        send(resp, 507, envelope.failure(messages.STORAGE_FULL), {"Retry-After": "60"})
        return
    if isinstance(ex, CommitUnknown):
        log.error("database lost during commit on %s %s: %s", req.method, req.path, cause)
        send(resp, 503, envelope.failure(messages.COMMIT_UNKNOWN), {"Retry-After": "1"})
        return
    log.error("database unavailable on %s %s: %s", req.method, req.path, cause)
    send(resp, 503, envelope.failure(messages.DATABASE_UNAVAILABLE), {"Retry-After": "1"})


def _unexpected(req, resp, ex, params):
    if isinstance(ex, falcon.HTTPError):
        return _http_error(req, resp, ex, params)
    reference = secrets.token_hex(4)
    log.exception("unexpected error %s on %s %s", reference, req.method, req.path)
    send(resp, 500, envelope.failure(messages.INTERNAL_ERROR.format(reference=reference)))


class ApiApp(falcon.App):
    """falcon.App plus what tests and the CLI want to reach: the service and route table."""

    service = None
    routes = None


def create_app(config, db, keys=None):
    keys = keys or KeyStore(db, load_secret(config.security), cache_seconds=config.security.key_cache_seconds)
    service = Service(config, db, keys)
    idempotency.ensure(db)  # our table of Idempotency-Key answers (lib/web/idempotency.py)
    # Webhook secrets are sealed under a key derived from the key hash secret (lib/events/webhooks.py).
    webhooks.configure(db, webhooks.Settings.from_config(keys.secret, config.events))
    feed.configure(config.events)  # the feed's retention (lib/events/feed.py)
    configure_access_log(config.log.access_log)
    app = ApiApp(middleware=[EdgeMiddleware(service.proxies)])
    app.req_options.strip_url_path_trailing_slash = False
    extra = [config.server.custom_endpoints] if config.server.custom_endpoints else []
    routes = routing.discover(extra)
    for path, endpoint in routes.items():
        app.add_route(path, EndpointResource(service, path, endpoint))
    openapi.add_routes(app, routes, service)  # /api/v1/openapi.json and the /api/v1/docs page
    app.add_route("/api/v1/health", HealthResource(service))
    metrics.attach(app, config.metrics, service)  # [metrics]: Prometheus at its path (lib/web/metrics.py)
    app.add_route("/api/v1/batch.php", BatchResource(service, routes))  # lib/web/batch.py
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(ApiError, _api_error)
    app.add_error_handler(DatabaseError, _database_error)
    app.add_error_handler(ValueRefused, _value_refused)
    app.service = service
    app.routes = routes
    return app


def serving_app(config, secret):
    """(app, cleanup) for one serving process: its own database pool and app (a pool never
    crosses a fork, so each worker makes its own after it starts)."""
    db = Database.from_config(config.database)
    return create_app(config, db, KeyStore(db, secret, cache_seconds=config.security.key_cache_seconds)), db.close
