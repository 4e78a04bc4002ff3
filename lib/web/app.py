"""The falcon application: route → parse → authenticate → endpoint → envelope.

`create_app(config, db)` is the factory; it reads no environment variables.
"""
import logging
import secrets

import falcon

from ..access.keys import KeyStore, load_secret
from ..access.permissions import authorize, load_access, required_level
from ..access.scope import scope_for
from ..core import envelope, messages, retry, routing
from ..core.endpoint import Call, Caller
from ..core.envelope import ApiError, MethodNotAllowed, TooManyRequests, Unauthorized
from ..core.values import noting
from ..db.errors import DatabaseError, ValueRefused
from ..events import feed, webhooks
from ..itflow import audit
from ..itflow import version as itflow_version
from . import openapi
from .health import HealthResource
from .middleware import EdgeMiddleware, TrustedProxies, configure_access_log
from .params import Params
from .ratelimit import RateLimits

log = logging.getLogger("itflow_api")

_METHODS = ("get", "post", "put", "patch", "delete", "options", "head", "trace", "connect")


def _send(resp, status, body, headers=None):
    resp.status = falcon.code_to_http_status(status)
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


class EndpointResource:
    """Answers one endpoint path; every HTTP method lands here so that a wrong one gets
    the envelope and an Allow header rather than falcon's default."""

    def __init__(self, service, path, endpoint):
        self.service = service
        self.path = path
        self.endpoint = endpoint
        # /api/v1/<module>/<function>.php: what a user key's role is checked against.
        self.api_module, self.function = path.split("/")[3], path.split("/")[4][:-len(".php")]
        self.level = required_level(endpoint.method, self.function)
        for method in _METHODS:
            setattr(self, f"on_{method}", self.respond)

    def respond(self, req, resp):
        service, endpoint = self.service, self.endpoint
        if req.method != endpoint.method:
            raise MethodNotAllowed(endpoint.method)
        params = Params.from_request(req, service.settings.max_body_bytes)
        presented = params.api_key
        if not presented:
            raise Unauthorized(messages.NO_KEY)
        caller = Caller(ip=req.context.client_ip, user_agent=req.user_agent or "")
        limits = service.limits
        wait = limits.auth_blocked(caller.ip, presented)
        if wait:  # known here to be guessing: refused before the key is even looked at
            raise _too_many_failures(wait)
        db = service.db
        key, sync_due, taken, memo = None, False, None, {}

        def attempt():  # one whole transaction: lib/core/retry.py may run it again
            nonlocal key, sync_due, taken
            with db.transaction(write=endpoint.writes):
                key = service.keys.authenticate(presented)
                if key is None:
                    # Logged and committed even though the caller is refused.
                    audit.auth_failed(db, caller, self.path)
                else:
                    req.context.key_name = key.name
                    if taken is None:  # counted once against the quota, however often it runs
                        taken = limits.quota(key.id)
                    quota, sync_due = taken
                    if quota is not None:
                        for name, value in quota.headers.items():
                            resp.set_header(name, value)
                        if not quota.allowed:
                            raise TooManyRequests(messages.QUOTA_USED.format(limit=quota.limit, wait=quota.reset),
                                                  headers={"Retry-After": str(quota.reset)})
                    access = None
                    if key.user_id is not None:  # ITFlow 2.4.7+: the key acts as its user
                        access = load_access(db, key)
                        authorize(db, access, self.api_module, self.level)
                    with noting() as notes:
                        call = Call(db, params, key, scope_for(key, params, access), caller, self.path,
                                    service.settings, memo)
                        body = endpoint(call)
                    return envelope.with_notes(body, self.function, list(notes)) if endpoint.writes else body

        try:
            body = retry.run(attempt, service.write_attempts if endpoint.writes else 1)
        finally:
            if sync_due:
                _share_quota(limits, key)
        if key is None:
            wait = limits.auth_failed(caller.ip, presented)
            if wait:
                raise _too_many_failures(wait)
            raise Unauthorized(messages.AUTH_FAILED)
        _send(resp, 200, body)


def _too_many_failures(wait):
    return TooManyRequests(messages.TOO_MANY_FAILURES.format(wait=wait), headers={"Retry-After": str(wait)})


def _share_quota(limits, key):
    try:
        limits.sync_quota(key.id)
    except DatabaseError as exc:  # the request itself went through; the count catches up next time
        log.warning("could not share the request count of key %s: %s", key.id, exc)


# --- error handlers: typed errors in, one envelope out --------------------------------

def _api_error(req, resp, ex, params):
    _send(resp, ex.status, ex.body(), ex.headers)


def _http_error(req, resp, ex, params):
    if ex.status_code == 404:
        message = messages.UNKNOWN_ENDPOINT.format(path=req.path)
    else:
        message = ex.description or ex.title
    headers = {k: v for k, v in (ex.headers or {}).items() if k.lower() == "allow"}
    _send(resp, ex.status_code, envelope.failure(message), headers)


def _value_refused(req, resp, ex, params):
    # The database refused a value the field checks let through: a refusal like any other
    # (HTTP 200, "False"); the request's transaction was rolled back, so nothing was written.
    _send(resp, 200, envelope.failure(messages.VALUE_REFUSED.format(reason=ex)))


def _database_error(req, resp, ex, params):
    # The cause is the driver's error class and text (lib/db/database.py keeps secrets out of it);
    # never the query string: it may carry the api_key.
    cause = str(ex) if isinstance(ex, DatabaseError) else type(ex).__name__
    log.error("database unavailable on %s %s: %s", req.method, req.path, cause)
    _send(resp, 503, envelope.failure(messages.DATABASE_UNAVAILABLE), {"Retry-After": "1"})


def _unexpected(req, resp, ex, params):
    if isinstance(ex, falcon.HTTPError):
        return _http_error(req, resp, ex, params)
    reference = secrets.token_hex(4)
    log.exception("unexpected error %s on %s %s", reference, req.method, req.path)
    _send(resp, 500, envelope.failure(messages.INTERNAL_ERROR.format(reference=reference)))


class ApiApp(falcon.App):
    """falcon.App plus what tests and the CLI want to reach: the service and route table."""

    service = None
    routes = None


def create_app(config, db, keys=None):
    keys = keys or KeyStore(db, load_secret(config.security), cache_seconds=config.security.key_cache_seconds)
    service = Service(config, db, keys)
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
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(ApiError, _api_error)
    app.add_error_handler(DatabaseError, _database_error)
    app.add_error_handler(ValueRefused, _value_refused)
    app.service = service
    app.routes = routes
    return app
