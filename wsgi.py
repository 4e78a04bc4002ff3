"""The WSGI entry point, `itflow_api.wsgi:application`, for running the API inside a WSGI host
of your own instead of `itflow-api serve`: Apache's mod_wsgi in ITFlow's own virtual host
(deploy/apache-mod-wsgi.conf, docs/operations.md "Inside Apache (mod_wsgi)"), or any other.

The configuration is the ini file named by ITFLOW_API_CONFIG, else /etc/itflow-api/config.ini,
overridden by ITFLOW_API_<SECTION>_<KEY> variables, as for the command. The app is built when
the module is imported (mod_wsgi imports it as its daemon process starts), the same way
`serve` builds it; a setting or database that cannot be used stops the import with the
reason, which the host writes to its error log.

mod_wsgi loads this file by its path, not as part of the package, so it imports the package
by its full name. Under `WSGIScriptAlias /api ...` a request for /api/v1/clients/read.php
arrives as SCRIPT_NAME /api and PATH_INFO /v1/clients/read.php: `application` joins them
again, because the API answers at the full path the client asked for.
"""
import atexit
import io
import logging
import os

from itflow_api.lib import cli
from itflow_api.lib.web import config as config_module
from itflow_api.lib.web import servers

CONFIG_ENV = "ITFLOW_API_CONFIG"
DEFAULT_CONFIG = "/etc/itflow-api/config.ini"


def build(path=None, environ=None):
    """The API's WSGI app for the configuration at `path` (default: ITFLOW_API_CONFIG, else
    DEFAULT_CONFIG), with webhook delivery started when [events] deliver_in_serve asks for it;
    the database pool is closed when the process exits."""
    environ = os.environ if environ is None else environ
    cfg = config_module.load(path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG, environ=environ)
    config_module.check(cfg)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    servers.set_log_level(cfg.log.level)
    app, db, _ = cli.open_app(cfg)
    deliverer = servers.start_delivery(app, cfg)
    atexit.register(db.close)
    if deliverer is not None:
        atexit.register(deliverer.stop)  # registered last, so it runs before the pool closes
    logging.getLogger("itflow_api.wsgi").info("%d endpoints on %s; pid %d", len(app.routes), cli._describe(cfg),
                                              os.getpid())
    return app


def hosted(app, body_limit):
    """`app` as a host such as mod_wsgi calls it: at the full path wherever it is mounted, and
    with a chunked request body (no Content-Length) read first, at most `body_limit` + 1 bytes,
    so that the app sees its length and refuses one too large with its own 413."""
    def call(environ, start_response):
        _full_path(environ)
        if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            _sized_body(environ, body_limit)
        return app(environ, start_response)
    return call


def _full_path(environ):
    """SCRIPT_NAME (the mount point, e.g. /api) goes back in front of PATH_INFO."""
    environ["PATH_INFO"] = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    environ["SCRIPT_NAME"] = ""


def _sized_body(environ, limit):
    stream, parts, size = environ["wsgi.input"], [], 0
    while size <= limit:
        part = stream.read(min(65536, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    environ["wsgi.input"] = io.BytesIO(b"".join(parts))
    environ["CONTENT_LENGTH"] = str(size)


def _application():
    app = build()
    s = app.service.settings
    return hosted(app, max(s.max_body_bytes, s.max_batch_bytes))


application = _application()
